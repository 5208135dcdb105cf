/**
 * Paper 2's pruning experiment (arXiv 2109.10021) as the demo runs it: the protocol itself (train one
 * task, each importance, exact-count masks globally and per layer, accuracy per cell) is
 * `paper2PruningExperiment` of @forgetless/pruning; this file holds the demo's config and event shapes; the paper's numbers are data in protocols.ts.
 *
 * Browser-safe: no node:* imports.
 */
import { type ProgressEvent, type Task, modelFromSpec } from '@forgetless/core';
import type { ImportanceMethod } from '@forgetless/importances';
import { type Paper2PruningRow, paper2PruningExperiment } from '@forgetless/pruning';
import type { OptimizerName } from './methods.js';
import { createOptimizer } from './optimizer.js';
import { PAPER2_GLOBAL_SPARSITIES, PAPER2_LABELS, PAPER2_LAYER_SPARSITIES, PAPER2_PRUNING_PROTOCOL as P2, paper2Accuracy } from './protocols.js';

export const PRUNING_GLOBAL: readonly number[] = PAPER2_GLOBAL_SPARSITIES;
export const PRUNING_LAYER: readonly number[] = PAPER2_LAYER_SPARSITIES;

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
    model: P2.model,
    optimizer: P2.optimizer,
    learningRate: P2.learningRate,
    epochs: quick ? 1 : P2.epochs,
    batchSize: P2.batchSize,
    seed: 0,
    calibration: quick ? 2000 : P2.calibration,
    methods: [...P2.methods],
    ...(quick ? { evalLimit: 5000 } : {}),
  };
}

const toRow = ({ method, scope, sparsity, accuracy, paper }: Paper2PruningRow): PruningRow => ({ method, scope, sparsity, accuracy, ...(paper !== undefined ? { paper } : {}) });

export async function runPruning(config: PruningConfig, options: { task: Task; onEvent?: (e: PruningEvent) => void; signal?: AbortSignal }): Promise<PruningResult> {
  const { task } = options;
  const model = modelFromSpec(config.model, { seed: config.seed });
  const optimizer = createOptimizer(config.optimizer, config.learningRate);
  try {
    const r = await paper2PruningExperiment(model, {
      task,
      train: {
        optimizer,
        epochs: config.epochs,
        batchSize: config.batchSize,
        seed: config.seed,
        learningRate: config.learningRate,
        ...(config.evalLimit !== undefined ? { evalLimit: config.evalLimit } : {}),
      },
      methods: config.methods,
      globalSparsities: PRUNING_GLOBAL,
      layerSparsities: PRUNING_LAYER,
      labels: PAPER2_LABELS,
      published: paper2Accuracy,
      importanceOptions: { limit: config.calibration, batchSize: 100 },
      ...(config.evalLimit !== undefined ? { evaluateOptions: { limit: config.evalLimit } } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (e) => options.onEvent?.(e.kind === 'train' ? e : { kind: 'method', method: e.method, rows: e.rows.map(toRow) }),
    });
    return { config, task: task.name, trainSize: task.train.size, unpruned: r.unpruned, rows: r.rows.map(toRow), seconds: r.seconds };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
