/**
 * Elastic weight consolidation (Kirkpatrick et al. 2017; papers 2–4 by Kutalev):
 *
 *   L = CE + Σ c ⊙ (θ − θ*)²,   c = λ·I (papers 2–4, default) or λ/2·I (paper 1, Kirkpatrick)
 *
 * with I the parameters' importance (Fisher diagonal by default; any method of
 * `@forgetless/importances`, SI through its tracker) computed on each task's closing set, and θ*
 * the parameters at the end of the task. Modes:
 * - `online`: one running I (sum of task importances) and the latest θ* (the papers);
 * - `separate`: one I_t and θ*_t per task, L = CE + Σ_t Σ c_t ⊙ (θ − θ*_t)² (Kirkpatrick);
 *   memory and step cost grow with the number of tasks;
 * - `decay`: online EWC (Schwarz et al. 2018), I ← γ·I + I_task, latest θ*.
 */
import type { ImportanceTracker, ImportanceTrackerOptions } from '@forgetless/importances';
import { checkLambda, checkOneOf } from './check.js';
import { type Consolidation, consolidation } from './consolidation.js';
import { CONSOLIDATION_MODES, type ConsolidationMode } from './importance-source.js';
import { EWC_CONVENTIONS, type EwcConvention } from './penalty.js';

export interface EwcOptions {
  /** λ ≥ 0, the penalty's strength (dimensionless; the papers' best on permuted MNIST: 14 (paper 1, Fisher), 41 (paper 2, Fisher, Adam)). */
  lambda: number;
  /** Default 'online'. */
  mode?: ConsolidationMode;
  /** Default 'lambda' (c = λ·I); 'half-lambda' gives Kirkpatrick's c = λ/2·I. */
  convention?: EwcConvention;
  /** γ ∈ [0, 1] of mode 'decay'. */
  gamma?: number;
  /**
   * The importance: options of an `importanceTracker` (default `{ method: 'fisher' }`, the empirical
   * Fisher on at most 5000 closing-set examples), or a tracker you made; the consolidation drives it
   * (do not list it in `plugins` too) and disposes only a tracker it made.
   */
  importance?: ImportanceTrackerOptions | ImportanceTracker;
}

/** The EWC consolidation plugin for `trainContinual` (see the module comment for the formula). */
export function ewc(options: EwcOptions): Consolidation {
  const what = 'ewc';
  if (!options || typeof options !== 'object') throw new Error(`${what}: options { lambda, ... } are required, got ${String(options)}`);
  const lambda = checkLambda(options.lambda, what);
  const mode = checkOneOf(options.mode ?? 'online', CONSOLIDATION_MODES, 'mode', what);
  const convention = checkOneOf(options.convention ?? 'lambda', EWC_CONVENTIONS, 'convention', what);
  return consolidation({
    kind: 'ewc',
    mode,
    lambda,
    convention,
    ...(options.gamma !== undefined ? { gamma: options.gamma } : {}),
    importance: options.importance ?? { method: 'fisher' },
  });
}
