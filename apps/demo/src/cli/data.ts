/**
 * The data of an experiment on disk (Node): `embedded` is the subset shipped with
 * @forgetless/datasets; `auto` (the presets') is MNIST where the user has it, else Fashion-MNIST
 * (Debian's full set, else the embedded subset); other names and folders go to `loadDataset`.
 * A FORGETLESS_DATA that names no folder, or that holds no copy of the dataset asked for by name, is
 * said in a warning line (the data is then looked for elsewhere).
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Task } from '@forgetless/core';
import type { MnistFormatDataset } from '@forgetless/datasets';
import { DATA_ENV, DEFAULT_QUEUE_DATASETS, findMnistFormatFiles, isFolderName, loadDataset, loadEmbedded, locateDataset } from '@forgetless/datasets/node';
import type { DataConfig } from '@forgetless/experiments';
import { buildTasks } from '@forgetless/experiments';
import { UserError } from './errors.js';

export type Warn = (line: string) => void;

/** Warnings go to stderr as `forgetless: warning: …`, each at most once per process. */
const said = new Set<string>();
export const warnOnce: Warn = (line) => {
  if (said.has(line)) return;
  said.add(line);
  process.stderr.write(`forgetless: warning: ${line}\n`);
};

/** The warning when FORGETLESS_DATA is set but is no folder, else undefined. */
export async function dataEnvProblem(env: Readonly<Record<string, string | undefined>> = process.env): Promise<string | undefined> {
  const root = env[DATA_ENV];
  if (!root) return undefined;
  try {
    if (!(await stat(root)).isDirectory()) return `${DATA_ENV}=${root} is a file, not a folder: it is ignored`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `${DATA_ENV}=${root} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}: it is ignored`;
  }
  return undefined;
}

/**
 * Warns when FORGETLESS_DATA is no folder, or when the dataset `name` (a name, not a folder) is not
 * found through it although it is set.
 */
export async function checkDataEnv(name: string | undefined, warn: Warn = warnOnce): Promise<void> {
  const root = process.env[DATA_ENV];
  if (!root) return;
  const problem = await dataEnvProblem();
  if (problem) return warn(problem);
  if (name === undefined || name === 'embedded' || isFolderName(name)) return;
  const found = await locateDataset(name);
  if (!found || found.origin === 'env') return;
  const itself = !('missing' in (await findMnistFormatFiles(root)));
  const why = itself ? `it is an MNIST-format folder not named ${name}, and ${join(root, name)} is none` : `neither it nor ${join(root, name)} is an MNIST-format folder`;
  warn(`${DATA_ENV}=${root} holds no ${name} (${why}): using ${found.dir}`);
}

/** `auto` → `mnist` when found (or to be downloaded), else `fashion-mnist`. Other names are returned as they are. */
export async function resolveDatasetName(name: string, download = false): Promise<string> {
  if (name !== 'auto') return name;
  return download || (await locateDataset('mnist')) ? 'mnist' : 'fashion-mnist';
}

async function load(name: string, download: boolean): Promise<MnistFormatDataset> {
  await checkDataEnv(name);
  try {
    return name === 'embedded' ? await loadEmbedded() : await loadDataset(name, download ? { download: true } : {});
  } catch (e) {
    throw new UserError(`data: ${(e as Error).message.replace('pass { download: true }', 'add --download')}`);
  }
}

/** In words, for the report: `Fashion-MNIST from /usr/share/datasets/fashion-mnist (60000 train, 10000 test)`. */
export function describeData(datasets: readonly MnistFormatDataset[]): string {
  return datasets
    .map((d) => {
      const where = d.source === undefined ? '' : String(d.source).startsWith('embedded') ? ' (the embedded subset)' : ` from ${d.source}`;
      return `${d.name}${where}, ${d.train.count} train / ${d.test.count} test images`;
    })
    .join('; ');
}

export interface LoadedData {
  /** The config with `auto` resolved (so a resumed run loads the same data). */
  data: DataConfig;
  tasks: Task[];
  description: string;
}

/**
 * The closing-set examples importances are computed on: `limit`, at most the largest task's
 * closing set (its validation part, else its training part). With the default limit, 5000 (the
 * papers'), that is the whole closing set of the embedded subset (833) and 5000 on full MNIST or
 * Fashion-MNIST.
 */
export function importanceSamples(limit: number, tasks: readonly Task[]): number {
  const closing = Math.max(0, ...tasks.map((t) => (t.validation ?? t.train).size));
  return closing > 0 ? Math.min(limit, closing) : limit;
}

/**
 * The training and test images of `--data` (a tool's): `embedded`, a dataset name (fashion-mnist,
 * mnist, ...) or a folder of MNIST-format files; a folder of that name in the working directory wins
 * over a dataset name.
 */
export async function loadDataArgument(arg: string, flag = '--data'): Promise<MnistFormatDataset> {
  let folder = isFolderName(arg);
  if (!folder && arg !== 'embedded')
    folder = await stat(arg).then(
      (s) => s.isDirectory(),
      () => false,
    );
  await checkDataEnv(folder ? undefined : arg);
  try {
    if (arg === 'embedded') return await loadEmbedded();
    return await loadDataset(folder ? resolve(arg) : arg);
  } catch (e) {
    throw new UserError(`${flag}: ${(e as Error).message}`);
  }
}

/** The tasks of `data`; with `download`, MNIST and Fashion-MNIST missing on disk are fetched (checked, cached). */
export async function loadExperimentData(data: DataConfig, options: { download?: boolean } = {}): Promise<LoadedData> {
  const get = (name: string) => load(name, !!options.download);
  const resolved: DataConfig = { ...data, dataset: await resolveDatasetName(data.dataset, !!options.download) };
  let datasets: MnistFormatDataset[];
  if (resolved.sequence === 'queue' && data.dataset === 'auto' && !resolved.datasets) {
    const names: string[] = [];
    for (const n of DEFAULT_QUEUE_DATASETS) if (options.download || (await locateDataset(n))) names.push(n);
    resolved.datasets = names;
  }
  if (resolved.sequence === 'queue' && resolved.datasets?.length) datasets = await Promise.all(resolved.datasets.map(get));
  else datasets = [await get(resolved.dataset)];
  let tasks: Task[];
  try {
    tasks = buildTasks(resolved, datasets);
  } catch (e) {
    throw new UserError(`data: ${(e as Error).message}`);
  }
  return { data: resolved, tasks, description: describeData(datasets) };
}
