/**
 * One-shot pruning of a model: importances on a calibration set, masks, the pruned weights zeroed in
 * place, accuracy before and after, and the measured sparsity (paper 2's protocol: one trained
 * model, importances on 10 000 samples, the least important weights zeroed).
 */
import type { DataSource, EvaluateOptions, ParamMap, Model } from '@forgetless/core';
import { disposeParams, evaluate } from '@forgetless/core';
import { type ImportanceSource, type ImportanceSpec, resolveImportance } from './importance.js';
import { type PruneOptions, applyMasks, pruningMasks } from './masks.js';
import { type SparsityReport, countZeros, sparsityReport } from './report.js';

export interface PruneModelOptions extends PruneOptions, ImportanceSource {
  /** A method of @forgetless/importances (`sig`, `magnitude`, `fisher`, `mas`, `si`) or a map. */
  importance: ImportanceSpec;
  /** Measure accuracy and loss before and after pruning on this set. */
  evaluateOn?: DataSource;
  evaluateOptions?: EvaluateOptions;
}

export interface PruneModelResult {
  /** Float32 0/1 masks of the pruned parameters (owned by the caller). */
  masks: ParamMap;
  /** Zeros measured in the pruned model's parameters. */
  report: SparsityReport;
  before?: { accuracy: number; loss: number };
  after?: { accuracy: number; loss: number };
}

/** Prunes `model` in place by `importance` to `sparsity`. */
export async function prune(model: Model, options: PruneModelOptions): Promise<PruneModelResult> {
  const what = 'prune';
  const { importance, calibration, importanceOptions, evaluateOn, evaluateOptions, ...rank } = options;
  const ev = async () => {
    if (!evaluateOn) return undefined;
    const r = await evaluate(model, evaluateOn, evaluateOptions);
    return { accuracy: r.accuracy, loss: r.loss };
  };
  const before = await ev();
  const zerosBefore = await countZeros(model.params);
  const { importances, owned } = await resolveImportance(model, importance, { ...(calibration ? { calibration } : {}), ...(importanceOptions ? { importanceOptions } : {}) }, what);
  let masks: ParamMap;
  try {
    masks = await pruningMasks(importances, rank);
  } finally {
    if (owned) disposeParams(importances);
  }
  applyMasks(model.params, masks);
  const after = await ev();
  const report = await sparsityReport(model.params, { masks, zerosBefore });
  return { masks, report, ...(before ? { before } : {}), ...(after ? { after } : {}) };
}
