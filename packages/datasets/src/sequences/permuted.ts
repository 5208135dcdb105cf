/**
 * Permuted MNIST (Goodfellow et al. 2013; Kirkpatrick et al. 2017; papers 1, 2 and 4): every task is
 * the same dataset under its own fixed, seeded pixel permutation. The permutation is applied per batch
 * by the sources, so all tasks share one copy of the images.
 */
import { Rng, type Task } from '@forgetless/core';
import type { MnistFormatDataset } from '../mnist-format.js';
import { type PartOptions, datasetParts } from './parts.js';

export interface PermutedOptions extends PartOptions {
  /** Number of tasks (default 10, the papers'). */
  numTasks?: number;
  /** Seed of the permutations (default 0). */
  seed?: number;
  /** Task 0 sees the original images (default true). */
  firstUnpermuted?: boolean;
}

/**
 * The permutation of each task over `size` features (undefined: the identity). Task t's permutation
 * depends only on (seed, t): `firstUnpermuted` and `numTasks` do not change the other tasks'.
 * Feature i of a permuted example is feature perm[i] of the original.
 */
export function taskPermutations(numTasks: number, size: number, options: { seed?: number; firstUnpermuted?: boolean } = {}): (Int32Array | undefined)[] {
  if (!Number.isInteger(numTasks) || numTasks < 1) throw new Error(`numTasks must be a positive integer, got ${numTasks}`);
  const root = new Rng(options.seed ?? 0);
  return Array.from({ length: numTasks }, (_, t) => (t === 0 && (options.firstUnpermuted ?? true) ? undefined : root.fork(`permutation-${t}`).permutation(size)));
}

/** The inverse permutation: inverse[perm[i]] = i. */
export function invertPermutation(perm: Int32Array): Int32Array {
  const inverse = new Int32Array(perm.length).fill(-1);
  for (let i = 0; i < perm.length; i++) {
    const p = perm[i] as number;
    if (p < 0 || p >= perm.length || inverse[p] !== -1) throw new Error(`invertPermutation: not a permutation (entry ${i} = ${p})`);
    inverse[p] = i;
  }
  return inverse;
}

/** `numTasks` permuted tasks of one dataset, named `<dataset>-permuted-<t>`. */
export function permutedTasks(data: MnistFormatDataset, options: PermutedOptions = {}): Task[] {
  const base = datasetParts(data, options);
  const perms = taskPermutations(options.numTasks ?? 10, data.rows * data.cols, options);
  return perms.map((permutation, t) => {
    const change = { permutation };
    return {
      name: `${data.name}-permuted-${t}`,
      train: base.train.with(change),
      test: base.test.with(change),
      ...(base.validation ? { validation: base.validation.with(change) } : {}),
    };
  });
}
