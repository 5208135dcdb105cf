/**
 * The tasks of an experiment from datasets already in memory (the CLI reads them from disk, the
 * browser page fetches them): the named sequence of @forgetless/datasets, optionally scaled down.
 *
 * Browser-safe: no node:* imports.
 */
import { ArraySource, type DataSource, type Task } from '@forgetless/core';
import { type MnistFormatDataset, taskSequence } from '@forgetless/datasets';
import type { DataConfig } from './config.js';

/** First `limit` examples of a source (a view, no copy); sources other than ArraySource are kept whole. */
export function limitSource(source: DataSource, limit: number | undefined): DataSource {
  if (limit === undefined || source.size <= limit || !(source instanceof ArraySource)) return source;
  return source.subset(Int32Array.from({ length: limit }, (_, i) => i));
}

/** The tasks of `data`'s sequence over `datasets` (the queue uses them all, others the first). */
export function buildTasks(data: DataConfig, datasets: readonly MnistFormatDataset[]): Task[] {
  const [first] = datasets;
  if (!first) throw new Error('buildTasks: no dataset');
  const common = { flat: true, ...(data.validation !== undefined ? { validation: data.validation } : {}) };
  let tasks: Task[];
  switch (data.sequence) {
    case 'permuted':
      tasks = taskSequence('permuted', { dataset: first, ...common, numTasks: data.numTasks ?? 10, seed: data.seed ?? 0, ...(data.scenario ? { scenario: data.scenario } : {}) });
      break;
    case 'split':
      tasks = taskSequence('split', { dataset: first, ...common, ...(data.scenario ? { scenario: data.scenario } : {}) });
      break;
    case 'rotated':
      tasks = taskSequence('rotated', { dataset: first, ...common, ...(data.angles ? { angles: data.angles } : {}) });
      break;
    case 'queue':
      tasks = taskSequence('queue', { datasets, ...common, ...(data.angles ? { angles: data.angles } : {}) });
      break;
  }
  if (data.numTasks !== undefined && data.sequence !== 'permuted') tasks = tasks.slice(0, data.numTasks);
  if (data.trainLimit === undefined) return tasks;
  return tasks.map((t) => ({ ...t, train: limitSource(t.train, data.trainLimit) }));
}
