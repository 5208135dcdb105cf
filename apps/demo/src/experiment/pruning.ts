/**
 * Paper 2's pruning experiment (arXiv 2109.10021): train one task, compute each importance of the
 * trained model (|w|, SIG, FIS, MAS on a calibration set; SI tracked during training), zero the
 * least important weights (biases ranked with them) globally and per layer at several sparsities
 * with @forgetless/pruning's exact-count masks, and measure test accuracy, restoring the trained
 * weights between cells.
 *
 * Browser-safe: no node:* imports.
 */
import { type ParamMap, type ProgressEvent, type Task, disposeParams, evaluate, modelFromSpec, trainContinual } from '@forgetless/core';
import { type ImportanceMethod, computeImportance, siTracker } from '@forgetless/importances';
import { applyMasks, pruningMasks } from '@forgetless/pruning';
import { IMPORTANCE_LABELS, type OptimizerName } from './methods.js';
import { createOptimizer } from './optimizer.js';

/** Paper 2's MNIST accuracies by importance: global at 70/80/90/95/97 %, per layer at 80/90 %. */
export const PAPER2_PRUNING: Readonly<Record<string, { global: readonly number[]; layer: readonly number[] }>> = {
  '|w|': { global: [0.973, 0.959, 0.857, 0.613, 0.383], layer: [0.921, 0.677] },
  SIG: { global: [0.969, 0.955, 0.896, 0.699, 0.457], layer: [0.859, 0.625] },
  FIS: { global: [0.918, 0.737, 0.288, 0.181, 0.165], layer: [0.404, 0.214] },
  MAS: { global: [0.86, 0.636, 0.314, 0.192, 0.148], layer: [0.239, 0.118] },
  SI: { global: [0.768, 0.492, 0.222, 0.131, 0.118], layer: [0.232, 0.125] },
};
export const PRUNING_GLOBAL: readonly number[] = [0.7, 0.8, 0.9, 0.95, 0.97];
export const PRUNING_LAYER: readonly number[] = [0.8, 0.9];

export interface PruningConfig {
  model: string;
  optimizer: OptimizerName;
  learningRate: number;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Calibration examples for the data-driven importances (paper 2: 10 000). */
  calibration: number;
  methods: ImportanceMethod[];
  /** Evaluate on at most this many test examples. */
  evalLimit?: number;
}

export interface PruningRow {
  method: string;
  scope: 'global' | 'layer';
  sparsity: number;
  accuracy: number;
  /** Paper 2's accuracy for this cell (MNIST), when it has one. */
  paper?: number;
}

export interface PruningResult {
  config: PruningConfig;
  task: string;
  trainSize: number;
  unpruned: number;
  rows: PruningRow[];
  seconds: { train: number; prune: number };
}

export type PruningEvent = { kind: 'train'; event: ProgressEvent } | { kind: 'method'; method: string; rows: PruningRow[] };

/** Paper 2's protocol, or its scale-down. */
export function pruningConfig(quick: boolean): PruningConfig {
  return {
    model: '784-300-150-10:leakyrelu',
    optimizer: 'adam',
    learningRate: 1e-3,
    epochs: quick ? 1 : 6,
    batchSize: 100,
    seed: 0,
    calibration: quick ? 2000 : 10000,
    methods: ['magnitude', 'sig', 'fisher', 'mas', 'si'],
    ...(quick ? { evalLimit: 5000 } : {}),
  };
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

export async function runPruning(config: PruningConfig, options: { task: Task; onEvent?: (e: PruningEvent) => void; signal?: AbortSignal }): Promise<PruningResult> {
  const { task } = options;
  const model = modelFromSpec(config.model, { seed: config.seed });
  const si = siTracker();
  const optimizer = createOptimizer(config.optimizer, config.learningRate);
  const rows: PruningRow[] = [];
  const evalOpts = config.evalLimit !== undefined ? { limit: config.evalLimit } : {};
  let trained: ParamMap | undefined;
  let siImportance: ParamMap | undefined;
  try {
    const t0 = now();
    const run = await trainContinual(model, [task], {
      optimizer,
      epochs: config.epochs,
      batchSize: config.batchSize,
      seed: config.seed,
      plugins: [si],
      learningRate: config.learningRate,
      ...(config.evalLimit !== undefined ? { evalLimit: config.evalLimit } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (event) => options.onEvent?.({ kind: 'train', event }),
    });
    if (run.cancelled) throw new Error('pruning: cancelled during training');
    const train = (now() - t0) / 1000;
    const unpruned = run.accuracy[0]?.[0] ?? Number.NaN;
    trained = model.getWeights({ state: false });
    siImportance = si.taskImportance();
    const t1 = now();
    for (const method of config.methods) {
      const label = IMPORTANCE_LABELS[method];
      const imp = method === 'si' ? siImportance : await computeImportance(method, model, task.train, { limit: config.calibration, batchSize: 100 });
      const mine: PruningRow[] = [];
      try {
        const cells = [...PRUNING_GLOBAL.map((s, i) => ['global', s, i] as const), ...PRUNING_LAYER.map((s, i) => ['layer', s, i] as const)];
        for (const [scope, sparsity, i] of cells) {
          if (options.signal?.aborted) throw new Error('pruning: cancelled');
          const masks = await pruningMasks(imp, { sparsity, scope, biases: true });
          applyMasks(model.params, masks);
          disposeParams(masks);
          const accuracy = (await evaluate(model, task.test, evalOpts)).accuracy;
          model.setWeights(trained);
          const paper = PAPER2_PRUNING[label]?.[scope][i];
          mine.push({ method: label, scope, sparsity, accuracy, ...(paper !== undefined ? { paper } : {}) });
        }
      } finally {
        if (method !== 'si') disposeParams(imp);
      }
      rows.push(...mine);
      options.onEvent?.({ kind: 'method', method: label, rows: mine });
    }
    return { config, task: task.name, trainSize: task.train.size, unpruned, rows, seconds: { train, prune: (now() - t1) / 1000 } };
  } finally {
    disposeParams(trained);
    disposeParams(siImportance);
    si.dispose?.();
    optimizer.dispose();
    model.dispose();
  }
}
