/**
 * The data of an experiment on disk (Node): `embedded` is the subset shipped with
 * @forgetless/datasets; `auto` (the presets') is MNIST where the user has it, else Fashion-MNIST
 * (Debian's full set, else the embedded subset); other names and folders go to `loadDataset`.
 */
import type { Task } from '@forgetless/core';
import type { MnistFormatDataset } from '@forgetless/datasets';
import { DEFAULT_QUEUE_DATASETS, loadDataset, loadEmbedded, locateDataset } from '@forgetless/datasets/node';
import type { DataConfig } from '../experiment/config.js';
import { buildTasks } from '../experiment/tasks.js';
import { UserError } from './errors.js';

/** `auto` → `mnist` when found (or to be downloaded), else `fashion-mnist`. Other names are returned as they are. */
export async function resolveDatasetName(name: string, download = false): Promise<string> {
  if (name !== 'auto') return name;
  return download || (await locateDataset('mnist')) ? 'mnist' : 'fashion-mnist';
}

async function load(name: string, download: boolean): Promise<MnistFormatDataset> {
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
