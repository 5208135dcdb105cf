/**
 * The papers' protocols and published numbers, as data. Paper 2's pruning experiment (arXiv
 * 2109.10021): the importances it compares, their labels, the sparsities, and its MNIST test
 * accuracies. The function that runs a pruning protocol is `paper2PruningExperiment` of
 * @forgetless/pruning (given these as options); the continual-learning protocols are `PRESETS`.
 *
 * Browser-safe: no node:* imports.
 */
import type { ImportanceMethod } from '@forgetless/importances';

/** Paper 2's global sparsities (70/80/90/95/97 %). */
export const PAPER2_GLOBAL_SPARSITIES: readonly number[] = [0.7, 0.8, 0.9, 0.95, 0.97];
/** Paper 2's per-layer sparsities (80/90 %). */
export const PAPER2_LAYER_SPARSITIES: readonly number[] = [0.8, 0.9];

/** Paper 2's MNIST test accuracies by importance label: `global[i]` at PAPER2_GLOBAL_SPARSITIES[i], `layer[i]` at PAPER2_LAYER_SPARSITIES[i]. */
export const PAPER2_PRUNING: Readonly<Record<string, { readonly global: readonly number[]; readonly layer: readonly number[] }>> = {
  '|w|': { global: [0.973, 0.959, 0.857, 0.613, 0.383], layer: [0.921, 0.677] },
  SIG: { global: [0.969, 0.955, 0.896, 0.699, 0.457], layer: [0.859, 0.625] },
  FIS: { global: [0.918, 0.737, 0.288, 0.181, 0.165], layer: [0.404, 0.214] },
  MAS: { global: [0.86, 0.636, 0.314, 0.192, 0.148], layer: [0.239, 0.118] },
  SI: { global: [0.768, 0.492, 0.222, 0.131, 0.118], layer: [0.232, 0.125] },
};

/** Paper 2's label of each importance (the keys of PAPER2_PRUNING). */
export const PAPER2_LABELS: Readonly<Record<ImportanceMethod, string>> = { magnitude: '|w|', sig: 'SIG', fisher: 'FIS', mas: 'MAS', si: 'SI', taylor: 'Taylor' };

/** Paper 2's importances, in its order. */
export const PAPER2_METHODS: readonly ImportanceMethod[] = ['magnitude', 'sig', 'fisher', 'mas', 'si'];

/** Paper 2's figure for one cell (importance label, scope, sparsity), if it has one. */
export function paper2Accuracy(label: string, scope: 'global' | 'layer', sparsity: number): number | undefined {
  const list = scope === 'global' ? PAPER2_GLOBAL_SPARSITIES : PAPER2_LAYER_SPARSITIES;
  const i = list.findIndex((s) => Math.abs(s - sparsity) < 1e-9);
  return i < 0 ? undefined : PAPER2_PRUNING[label]?.[scope][i];
}

/** Paper 2's pruning protocol: the options `paper2PruningExperiment` of @forgetless/pruning takes for it. */
export const PAPER2_PRUNING_PROTOCOL = {
  model: '784-300-150-10:leakyrelu',
  optimizer: 'adam',
  learningRate: 1e-3,
  epochs: 6,
  batchSize: 100,
  /** Calibration examples of the data-driven importances. */
  calibration: 10_000,
  methods: PAPER2_METHODS,
  labels: PAPER2_LABELS,
  globalSparsities: PAPER2_GLOBAL_SPARSITIES,
  layerSparsities: PAPER2_LAYER_SPARSITIES,
  published: paper2Accuracy,
} as const;
