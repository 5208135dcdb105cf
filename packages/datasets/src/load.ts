/**
 * Datasets and task sequences by name, from wherever the data is (Node): `loadDataset('mnist')`,
 * `loadTaskSequence('permuted', { numTasks: 10 })`. See `locate.ts` for where data is looked for.
 */
import { join } from 'node:path';
import type { Task } from '@forgetless/core';
import { loadEmbedded } from './embedded-node.js';
import { type LocateOptions, DEFAULT_DATASET, cacheRoot, isFolderName, locateDataset, searchedPlaces } from './locate.js';
import type { MnistFormatDataset } from './mnist-format.js';
import { loadMnistFormat } from './read-files.js';
import { type SequenceName, type SequenceOptionsByName, taskSequence } from './sequences/registry.js';
import { MNIST_FORMAT_SOURCES, type MnistFormatSource } from './sources.js';

export interface LoadDatasetOptions extends LocateOptions {
  /**
   * When the dataset is not on disk, download it from its published source (MNIST_FORMAT_SOURCES),
   * verified by SHA-256, into `cacheDir` (default `<cacheRoot>/<name>`), before any embedded fallback.
   */
  download?: boolean | { cacheDir?: string };
  /** Where downloads come from, by dataset name (default MNIST_FORMAT_SOURCES; e.g. a mirror). */
  sources?: Readonly<Record<string, MnistFormatSource>>;
}

/** The dataset `name` (default: the data found when the user names none), loaded into memory. */
export async function loadDataset(name?: string, options: LoadDatasetOptions = {}): Promise<MnistFormatDataset> {
  const wanted = name ?? DEFAULT_DATASET;
  const sources: Readonly<Record<string, MnistFormatSource>> = options.sources ?? MNIST_FORMAT_SOURCES;
  const source = sources[wanted];
  const download = options.download && source && !isFolderName(wanted) ? options.download : undefined;
  const location = await locateDataset(name, download ? { ...options, embedded: false } : options);
  if (location?.origin === 'embedded') return loadEmbedded();
  if (location) return loadMnistFormat({ dir: location.dir, name: location.name });
  if (download && source) {
    const cacheDir = (typeof download === 'object' && download.cacheDir) || join(cacheRoot(options), wanted);
    return loadMnistFormat({ baseUrl: source.baseUrl, checksums: source.checksums, name: source.name, cacheDir });
  }
  const hint = source ? ` (or pass { download: true } to fetch it from ${source.baseUrl})` : '';
  throw new Error(`dataset '${wanted}' not found; looked in: ${searchedPlaces(name, options).join(', ')}${hint}`);
}

export interface LoadSequenceOptions extends LoadDatasetOptions {
  /** A dataset name, folder, or loaded dataset (default: the data found when the user names none). */
  dataset?: string | MnistFormatDataset;
  /** For the queue: default ['mnist', 'fashion-mnist'], keeping those that are available. */
  datasets?: readonly (string | MnistFormatDataset)[];
}

/** Names of the queue's datasets when none are given (paper 2: MNIST, then Fashion-MNIST). */
export const DEFAULT_QUEUE_DATASETS: readonly string[] = ['mnist', 'fashion-mnist'];

/**
 * The task sequence `name` over located data: `loadTaskSequence('split', { mode: 'domain' })`.
 * The queue takes the datasets named in `datasets`, all required; without them, whichever of MNIST and
 * Fashion-MNIST are available (Fashion-MNIST always is: the embedded subset), or both with `download`.
 */
export async function loadTaskSequence<K extends SequenceName>(name: K, options?: SequenceOptionsByName[K] & LoadSequenceOptions): Promise<Task[]>;
export async function loadTaskSequence(name: string, options?: LoadSequenceOptions & Record<string, unknown>): Promise<Task[]>;
export async function loadTaskSequence(name: string, options: LoadSequenceOptions & Record<string, unknown> = {}): Promise<Task[]> {
  const { dataset, datasets, env, systemRoots, cacheRoot: root, embedded, download, sources, ...rest } = options;
  const locate: LoadDatasetOptions = {
    ...(sources ? { sources } : {}),
    ...(env ? { env } : {}),
    ...(systemRoots ? { systemRoots } : {}),
    ...(root ? { cacheRoot: root } : {}),
    ...(embedded !== undefined ? { embedded } : {}),
    ...(download !== undefined ? { download } : {}),
  };
  const load = (d: string | MnistFormatDataset | undefined) => (typeof d === 'object' ? Promise.resolve(d) : loadDataset(d, locate));
  if (name === 'queue' && dataset === undefined) {
    let list: MnistFormatDataset[];
    if (datasets) list = await Promise.all(datasets.map(load));
    else if (download) list = await Promise.all(DEFAULT_QUEUE_DATASETS.map((n) => loadDataset(n, locate)));
    else {
      const found = await Promise.all(DEFAULT_QUEUE_DATASETS.map((n) => locateDataset(n, locate)));
      list = await Promise.all(DEFAULT_QUEUE_DATASETS.filter((_, i) => found[i]).map((n) => loadDataset(n, locate)));
    }
    return taskSequence(name, { ...rest, datasets: list });
  }
  return taskSequence(name, { ...rest, dataset: await load(dataset ?? datasets?.[0]) });
}
