/**
 * The train / validation / test parts of a task, as views over a dataset's shared arrays.
 * The validation part is the papers' closing set: the last training examples, held out from training
 * (paper 2: the last 5000 of MNIST's 60000). It is what importances are computed on.
 */
import { ArraySource } from '@forgetless/core';
import type { MnistFormatDataset } from '../mnist-format.js';

export interface PartOptions {
  /** Examples as flat vectors [rows·cols] (an MLP; default) or images [rows, cols, 1] (a conv net). */
  flat?: boolean;
  /**
   * Size of the closing set held out from the end of each task's training examples: a count, or a
   * fraction of them when below 1. Default 1/12 (5000 of 60000, the papers'); 0 for none.
   */
  validation?: number;
}

export interface TaskParts {
  train: ArraySource;
  validation?: ArraySource;
  test: ArraySource;
}

/** Per-example shape of a dataset's images: [rows·cols] when flat, else [rows, cols, 1]. */
export function exampleShape(data: Pick<MnistFormatDataset, 'rows' | 'cols'>, flat = true): number[] {
  return flat ? [data.rows * data.cols] : [data.rows, data.cols, 1];
}

/** The number of validation examples out of `n` training examples (see `PartOptions.validation`). */
export function validationCount(validation: number | undefined, n: number): number {
  const v = validation ?? 1 / 12;
  if (!Number.isFinite(v) || v < 0) throw new Error(`validation must be a count ≥ 0 or a fraction in (0, 1), got ${validation}`);
  const count = v < 1 ? Math.round(v * n) : v;
  if (!Number.isInteger(count)) throw new Error(`validation must be a whole number of examples when ≥ 1, got ${validation}`);
  if (count >= n) throw new Error(`validation of ${count} examples leaves none of the ${n} training examples to train on`);
  return count;
}

/** Splits `positions` (of `source`) into the first n − v for training and the last v for validation. */
export function holdOut(source: ArraySource, positions: Int32Array, validation: number | undefined): Pick<TaskParts, 'train' | 'validation'> {
  const v = validationCount(validation, positions.length);
  const cut = positions.length - v;
  const train = source.subset(positions.subarray(0, cut));
  return v > 0 ? { train, validation: source.subset(positions.subarray(cut)) } : { train };
}

export interface DatasetPartsOptions extends PartOptions {
  /** Replacement pixels of the same size (e.g. rotated copies); default the dataset's own. */
  images?: { train: Uint8Array; test: Uint8Array };
  /** Label space of the sources (default the dataset's numClasses). */
  numClasses?: number;
}

/** All of a dataset as task parts: the training set less its last examples, those, and the test set. */
export function datasetParts(data: MnistFormatDataset, options: DatasetPartsOptions = {}): TaskParts {
  const shape = exampleShape(data, options.flat);
  const numClasses = options.numClasses ?? data.numClasses;
  const source = (x: Uint8Array, y: Uint8Array) => new ArraySource({ x, y, exampleShape: shape, numClasses });
  const all = source(options.images?.train ?? data.train.images, data.train.labels);
  const test = source(options.images?.test ?? data.test.images, data.test.labels);
  const positions = Int32Array.from({ length: all.size }, (_, i) => i);
  return { ...holdOut(all, positions, options.validation), test };
}

/** Positions of the examples whose label is in `classes`. */
export function positionsOfClasses(labels: Uint8Array, classes: readonly number[]): Int32Array {
  const wanted = new Set(classes);
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) if (wanted.has(labels[i] as number)) out.push(i);
  return Int32Array.from(out);
}
