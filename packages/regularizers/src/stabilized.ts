/**
 * Stabilised EWC (paper 2: Kutalev & Lapina, arXiv 2109.10021):
 *
 *   L = CE + Σ c ⊙ (θ − θ*)²,   c = λ·I / (2·(1 + η·λ·I)),
 *
 * η the learning rate (used as is under Adam too, as in the paper). Under SGD, the plain penalty
 * alone maps θ − θ* to (1 − 2ηc)(θ − θ*), which oscillates and diverges once ηλI > 1 (conv nets
 * reach Fisher importances of ~430); with this c the map is (θ − θ*)/(1 + ηλI): no overshoot, and
 * the task gradient is not clipped. For ηλI ≪ 1, c ≈ λ/2·I (paper 2's best stabilised λ are about
 * twice the plain ones: Fisher 85 against 41, MAS 8.5 against 4.5).
 */
import type { ImportanceTracker, ImportanceTrackerOptions } from '@forgetless/importances';
import { checkLambda, checkLearningRate, checkOneOf } from './check.js';
import { type Consolidation, consolidation } from './consolidation.js';
import { CONSOLIDATION_MODES, type ConsolidationMode } from './importance-source.js';

export interface StabilizedEwcOptions {
  /** λ ≥ 0 (paper 2's best on permuted MNIST with Adam: Fisher 85, MAS 8.5, SI 0.64). */
  lambda: number;
  /** η > 0, the optimizer's learning rate; default: trainContinual's `learningRate` option. */
  learningRate?: number;
  /** Default 'online'. */
  mode?: ConsolidationMode;
  /** γ ∈ [0, 1] of mode 'decay'. */
  gamma?: number;
  /** As for `ewc`: tracker options (default `{ method: 'fisher' }`) or a tracker. */
  importance?: ImportanceTrackerOptions | ImportanceTracker;
}

/** The stabilised-EWC consolidation plugin for `trainContinual`. */
export function stabilizedEwc(options: StabilizedEwcOptions): Consolidation {
  const what = 'stabilizedEwc';
  if (!options || typeof options !== 'object') throw new Error(`${what}: options { lambda, ... } are required, got ${String(options)}`);
  const lambda = checkLambda(options.lambda, what);
  const mode = checkOneOf(options.mode ?? 'online', CONSOLIDATION_MODES, 'mode', what);
  if (options.learningRate !== undefined) checkLearningRate(options.learningRate, what);
  return consolidation({
    kind: 'stabilized-ewc',
    mode,
    lambda,
    ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}),
    ...(options.gamma !== undefined ? { gamma: options.gamma } : {}),
    importance: options.importance ?? { method: 'fisher' },
  });
}
