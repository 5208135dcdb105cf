/**
 * L2 to the previous task's end, the uniform-importance baseline of EWC:
 *
 *   L = CE + Σ c·(θ − θ*)²,   c = λ (I = 1; or λ/2 with the `half-lambda` convention),
 *
 * θ* the parameters at the end of the latest task. Holds one anchor per parameter and a scalar c.
 */
import { checkLambda, checkOneOf } from './check.js';
import { type Consolidation, consolidation } from './consolidation.js';
import { EWC_CONVENTIONS, type EwcConvention } from './penalty.js';

export interface L2Options {
  /** λ ≥ 0. */
  lambda: number;
  /** Default 'lambda' (c = λ). */
  convention?: EwcConvention;
}

/** The L2 consolidation plugin for `trainContinual`. */
export function l2(options: L2Options): Consolidation {
  const what = 'l2';
  if (!options || typeof options !== 'object') throw new Error(`${what}: options { lambda } are required, got ${String(options)}`);
  const lambda = checkLambda(options.lambda, what);
  const convention = checkOneOf(options.convention ?? 'lambda', EWC_CONVENTIONS, 'convention', what);
  return consolidation({ kind: 'l2', mode: 'online', lambda, convention, importance: 'uniform' });
}
