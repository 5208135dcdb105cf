/**
 * Paper 2's pruning experiment (arXiv 2109.10021), the one implementation the demo and the benchmark
 * call: train the model on one task (SI tracked during training), compute each importance of the
 * trained weights (|w|, SIG, FIS, MAS on a calibration set; SI from the tracker), zero the least
 * important weights (biases ranked with them) globally and per layer at each sparsity with exact-count
 * masks, measure test accuracy, and restore the trained weights before the next cell.
 *
 * Browser-safe: no node:* imports.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  type ContinualOptions,
  type ContinualResult,
  type DataSource,
  type EvaluateOptions,
  type ParamMap,
  type ProgressEvent,
  type Model,
  type Task,
  disposeParams,
  evaluate,
  trainContinual,
} from '@forgetless/core';
import { type ImportanceMethod, type ImportanceOptions, computeImportance, siTracker } from '@forgetless/importances';
import { applyMasks, pruningMasks } from './masks.js';

/** Paper 2's global sparsities (70/80/90/95/97 %) and per-layer sparsities (80/90 %). @deprecated the papers' protocols are data in @forgetless/experiments (same names); kept here for compatibility. */
export const PAPER2_GLOBAL_SPARSITIES: readonly number[] = [0.7, 0.8, 0.9, 0.95, 0.97];
export const PAPER2_LAYER_SPARSITIES: readonly number[] = [0.8, 0.9];

/** Paper 2's MNIST test accuracies by importance label: `global[i]` at PAPER2_GLOBAL_SPARSITIES[i], `layer[i]` at PAPER2_LAYER_SPARSITIES[i]. @deprecated the papers' protocols are data in @forgetless/experiments (same names); kept here for compatibility. */
export const PAPER2_PRUNING: Readonly<Record<string, { readonly global: readonly number[]; readonly layer: readonly number[] }>> = {
  '|w|': { global: [0.973, 0.959, 0.857, 0.613, 0.383], layer: [0.921, 0.677] },
  SIG: { global: [0.969, 0.955, 0.896, 0.699, 0.457], layer: [0.859, 0.625] },
  FIS: { global: [0.918, 0.737, 0.288, 0.181, 0.165], layer: [0.404, 0.214] },
  MAS: { global: [0.86, 0.636, 0.314, 0.192, 0.148], layer: [0.239, 0.118] },
  SI: { global: [0.768, 0.492, 0.222, 0.131, 0.118], layer: [0.232, 0.125] },
};

/** Paper 2's label of each importance (the keys of PAPER2_PRUNING). @deprecated the papers' protocols are data in @forgetless/experiments (same names); kept here for compatibility. */
export const PAPER2_LABELS: Readonly<Record<ImportanceMethod, string>> = { magnitude: '|w|', sig: 'SIG', fisher: 'FIS', mas: 'MAS', si: 'SI', taylor: 'Taylor' };

/** Paper 2's importances, in its order. @deprecated the papers' protocols are data in @forgetless/experiments (same names); kept here for compatibility. */
export const PAPER2_METHODS: readonly ImportanceMethod[] = ['magnitude', 'sig', 'fisher', 'mas', 'si'];

/** Paper 2's figure for one cell, if it has one. @deprecated the papers' protocols are data in @forgetless/experiments (same names); kept here for compatibility. */
export function paper2Accuracy(label: string, scope: 'global' | 'layer', sparsity: number): number | undefined {
  const list = scope === 'global' ? PAPER2_GLOBAL_SPARSITIES : PAPER2_LAYER_SPARSITIES;
  const i = list.findIndex((s) => Math.abs(s - sparsity) < 1e-9);
  return i < 0 ? undefined : PAPER2_PRUNING[label]?.[scope][i];
}

export interface Paper2PruningRow {
  /** Paper 2's label: '|w|', 'SIG', 'FIS', 'MAS', 'SI'. */
  method: string;
  importance: ImportanceMethod;
  scope: 'global' | 'layer';
  sparsity: number;
  accuracy: number;
  /** Entries the masks removed (zeros in the masks) of `total` (every parameter, biases included). */
  removed: number;
  total: number;
  /** Paper 2's accuracy for this cell (MNIST), when it has one. */
  paper?: number;
}

export type Paper2PruningEvent = { kind: 'train'; event: ProgressEvent } | { kind: 'method'; method: string; rows: Paper2PruningRow[] };

export interface Paper2PruningOptions {
  /** Trained on `task.train` (with `train`), calibrated on `calibration` (default `task.train`), evaluated on `task.test`. */
  task: Task;
  /**
   * trainContinual options of the training run on `task` before pruning (an siTracker is added to its
   * plugins, for SI). Omit when `model` is already trained: then `si` cannot be among the methods.
   */
  train?: Omit<ContinualOptions, 'onProgress' | 'signal'>;
  /** The calibration set of the data-driven importances (default `task.train`). */
  calibration?: DataSource;
  /** Default: paper 2's, PAPER2_METHODS. */
  methods?: readonly ImportanceMethod[];
  /** A row's `method`: each importance's label (default paper 2's, PAPER2_LABELS). */
  labels?: Readonly<Partial<Record<ImportanceMethod, string>>>;
  /** A row's `paper`: the published accuracy of a cell, if any (default paper 2's, paper2Accuracy). */
  published?: (label: string, scope: 'global' | 'layer', sparsity: number) => number | undefined;
  /** Default PAPER2_GLOBAL_SPARSITIES and PAPER2_LAYER_SPARSITIES. */
  globalSparsities?: readonly number[];
  layerSparsities?: readonly number[];
  /** computeImportance options (default { limit: 10000, batchSize: 100 }: paper 2's 10 000 samples). */
  importanceOptions?: ImportanceOptions;
  /** evaluate options of every accuracy (`limit`, `batchSize`). */
  evaluateOptions?: EvaluateOptions;
  onProgress?: (event: Paper2PruningEvent) => void;
  /** Called after each cell is measured, with the pruned weights still in the model (restored right after). */
  onPruned?: (row: Paper2PruningRow, model: Model) => void | Promise<void>;
  /** Aborting stops training and the pruning loop; the function then throws. */
  signal?: AbortSignal;
}

export interface Paper2PruningResult {
  /** Test accuracy of the trained, unpruned model. */
  unpruned: number;
  rows: Paper2PruningRow[];
  seconds: { train: number; prune: number };
  /** The training run, when `train` was given. */
  training?: ContinualResult;
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

async function zerosIn(masks: ParamMap): Promise<{ removed: number; total: number }> {
  let removed = 0;
  let total = 0;
  for (const m of Object.values(masks)) {
    const d = (await m.data()) as Float32Array;
    total += d.length;
    for (let i = 0; i < d.length; i++) if (d[i] === 0) removed++;
  }
  return { removed, total };
}

/**
 * Paper 2's pruning protocol on `model` (trained here when `options.train` is given). The model's
 * weights are the trained ones again when this returns; the model stays the caller's.
 */
export async function paper2PruningExperiment(model: Model, options: Paper2PruningOptions): Promise<Paper2PruningResult> {
  const what = 'paper2PruningExperiment';
  const { task, signal } = options;
  if (!task?.train || !task.test) throw new Error(`${what}: options.task (with train and test) is required`);
  const methods = options.methods ?? PAPER2_METHODS;
  if (methods.includes('si') && !options.train) throw new Error(`${what}: 'si' is tracked during training; give options.train or leave 'si' out of methods`);
  const cells = [
    ...(options.globalSparsities ?? PAPER2_GLOBAL_SPARSITIES).map((s) => ['global', s] as const),
    ...(options.layerSparsities ?? PAPER2_LAYER_SPARSITIES).map((s) => ['layer', s] as const),
  ];
  const importanceOptions: ImportanceOptions = { limit: 10000, batchSize: 100, ...options.importanceOptions };
  const calibration = options.calibration ?? task.train;
  const evalOpts: EvaluateOptions = { ...(task.classes ? { classes: task.classes } : {}), ...options.evaluateOptions };
  const si = options.train ? siTracker() : undefined;
  let trained: ParamMap | undefined;
  let siImportance: ParamMap | undefined;
  try {
    const t0 = now();
    let training: ContinualResult | undefined;
    if (options.train && si) {
      training = await trainContinual(model, [task], {
        ...options.train,
        plugins: [...(options.train.plugins ?? []), si],
        ...(signal ? { signal } : {}),
        onProgress: (event) => options.onProgress?.({ kind: 'train', event }),
      });
      if (training.cancelled || signal?.aborted) throw new Error(`${what}: cancelled during training`);
    }
    // measured exactly as the cells are (a 0 % cell equals it)
    const unpruned = (await evaluate(model, task.test, evalOpts)).accuracy;
    const train = (now() - t0) / 1000;
    trained = model.getWeights({ state: false });
    if (si && methods.includes('si')) siImportance = si.taskImportance();
    const t1 = now();
    const rows: Paper2PruningRow[] = [];
    for (const importance of methods) {
      if (signal?.aborted) throw new Error(`${what}: cancelled`);
      const method = (options.labels ?? PAPER2_LABELS)[importance] ?? importance;
      const imp = importance === 'si' ? (siImportance as ParamMap) : await computeImportance(importance, model, calibration, importanceOptions);
      const mine: Paper2PruningRow[] = [];
      try {
        for (const [scope, sparsity] of cells) {
          if (signal?.aborted) throw new Error(`${what}: cancelled`);
          const masks = await pruningMasks(imp, { sparsity, scope, biases: true });
          let count: { removed: number; total: number };
          try {
            count = await zerosIn(masks);
            applyMasks(model.params as ParamMap<tf.Variable>, masks);
          } finally {
            disposeParams(masks);
          }
          try {
            const accuracy = (await evaluate(model, task.test, evalOpts)).accuracy;
            const paper = (options.published ?? paper2Accuracy)(method, scope, sparsity);
            const row: Paper2PruningRow = { method, importance, scope, sparsity, accuracy, ...count, ...(paper !== undefined ? { paper } : {}) };
            await options.onPruned?.(row, model);
            mine.push(row);
          } finally {
            model.setWeights(trained);
          }
        }
      } finally {
        if (importance !== 'si') disposeParams(imp);
      }
      rows.push(...mine);
      options.onProgress?.({ kind: 'method', method, rows: mine });
    }
    return { unpruned, rows, seconds: { train, prune: (now() - t1) / 1000 }, ...(training ? { training } : {}) };
  } finally {
    disposeParams(trained);
    disposeParams(siImportance);
    si?.dispose?.();
  }
}
