/**
 * Task sequences by name, so the CLI, the demo and the benchmarks can ask for one with a string:
 * `taskSequence('permuted', { dataset, numTasks: 10 })`. Every sequence returns core `Task`s whose
 * sources are `ArraySource` views over the datasets' shared Uint8Arrays.
 */
import type { Task } from '@forgetless/core';
import type { MnistFormatDataset } from '../mnist-format.js';
import { type PermutedOptions, permutedTasks } from './permuted.js';
import { type QueueOptions, datasetQueue } from './queue.js';
import { type RotatedOptions, rotatedTasks } from './rotated.js';
import { type SplitOptions, splitTasks } from './split.js';

/** The data of a sequence: one dataset (`dataset`), or several for the queue (`datasets`). */
export interface SequenceData {
  dataset?: MnistFormatDataset;
  datasets?: readonly MnistFormatDataset[];
}

/** Options of each named sequence. */
export interface SequenceOptionsByName {
  permuted: PermutedOptions;
  split: SplitOptions;
  rotated: RotatedOptions;
  queue: QueueOptions;
}

export type SequenceName = keyof SequenceOptionsByName;

export const SEQUENCE_NAMES: readonly SequenceName[] = ['permuted', 'split', 'rotated', 'queue'];

export function isSequenceName(name: string): name is SequenceName {
  return (SEQUENCE_NAMES as readonly string[]).includes(name);
}

/**
 * The tasks of the sequence `name` ('permuted' | 'split' | 'rotated' | 'queue'). Single-dataset sequences
 * use `dataset` (or the first of `datasets`); the queue uses `datasets` (or `[dataset]`).
 */
export function taskSequence<K extends SequenceName>(name: K, options: SequenceOptionsByName[K] & SequenceData): Task[];
export function taskSequence(name: string, options: SequenceData & Record<string, unknown>): Task[];
export function taskSequence(name: string, options: SequenceData & Record<string, unknown>): Task[] {
  if (!isSequenceName(name)) throw new Error(`taskSequence: unknown sequence '${name}'; known: ${SEQUENCE_NAMES.join(', ')}`);
  const { dataset, datasets, ...rest } = options;
  const list = datasets ?? (dataset ? [dataset] : []);
  const one = dataset ?? list[0];
  if (!one) throw new Error(`taskSequence('${name}'): pass a dataset (options.dataset or options.datasets)`);
  switch (name) {
    case 'permuted':
      return permutedTasks(one, rest as PermutedOptions);
    case 'split':
      return splitTasks(one, rest as SplitOptions);
    case 'rotated':
      return rotatedTasks(one, rest as RotatedOptions);
    case 'queue':
      return datasetQueue(list, rest as QueueOptions);
  }
}
