/**
 * Permuted MNIST (Goodfellow et al. 2013; Kirkpatrick et al. 2017; papers 1, 2 and 4): every task is
 * the same dataset under its own fixed, seeded pixel permutation. The permutation is applied per batch
 * by the sources, so all tasks share one copy of the images.
 */
import { Rng, type Task } from '@forgetless/core';
import type { Scenario } from './split.js';
import type { MnistFormatDataset } from '../mnist-format.js';
import { type PartOptions, datasetParts } from './parts.js';

export interface PermutedOptions extends PartOptions {
  /** Number of tasks (default 10, the papers'). */
  numTasks?: number;
  /** Seed of the permutations (default 0). */
  seed?: number;
  /** Task 0 sees the original images (default true). */
  firstUnpermuted?: boolean;
  /**
   * The scenario (van de Ven & Tolias 2019): `domain` (default: the same 10 labels and one shared
   * head for every task), `task` (task t's labels shifted to 10t..10t+9 and masked to them: one head
   * per task, the model needs 10·numTasks outputs), `class` (shifted labels, no mask: one head of
   * 10·numTasks classes).
   */
  scenario?: Scenario;
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
  const perms = taskPermutations(options.numTasks ?? 10, data.rows * data.cols, options);
  const scenario = options.scenario ?? 'domain';
  if (scenario !== 'task' && scenario !== 'domain' && scenario !== 'class') throw new Error(`permuted: scenario must be 'task', 'domain' or 'class', got '${scenario}'`);
  const k = data.numClasses;
  const shifted = scenario !== 'domain';
  const { train, test, validation } = datasetParts(data, { ...options, ...(shifted ? { numClasses: k * perms.length } : {}) });
  return perms.map((permutation, t) => {
    const change = { permutation, ...(shifted ? { labelMap: Int32Array.from({ length: k }, (_, c) => c + k * t) } : {}) };
    return {
      name: `${data.name}-permuted-${t}`,
      train: train.with(change),
      test: test.with(change),
      ...(validation ? { validation: validation.with(change) } : {}),
      ...(scenario === 'task' ? { classes: Array.from({ length: k }, (_, c) => c + k * t) } : {}),
      labels: Array.from({ length: k }, (_, c) => c + (shifted ? k * t : 0)),
    };
  });
}
