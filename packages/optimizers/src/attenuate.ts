/**
 * WVA's two modes as transformations (paper 1, arXiv 2005.07107; paper 4, arXiv 2208.05791), given
 * the factors a of `attenuationFactors` (a missing name: a = 1). With SGD the modes coincide; with
 * adaptive optimizers only `attenuateSteps` attenuates: Adam's m/√v cancels a per-parameter scale
 * of the gradient (paper 4: Adam + gradients mode fails, .407 after 10 tasks; steps mode .841).
 * The transforms read the factors at each call and do not own them.
 */
import type { ParamMap } from '@forgetless/core';
import { type Transform, scaleEntries } from './transform.js';

/** `gradients` mode: the optimizer sees a ⊙ g. */
export function attenuateGradients(factors: ParamMap): Transform {
  return {
    name: 'attenuateGradients',
    elementwise: true,
    transformGradients: (grads) => scaleEntries(grads, factors, 'attenuateGradients (factor)'),
  };
}

/**
 * `steps` mode: θ ← θ_prev + a ⊙ (θ_new − θ_prev) around an unmodified optimizer step, whose
 * moments see the raw gradients. In trainContinual it works on the loop's Δθ (no copy of θ
 * survives between steps).
 */
export function attenuateSteps(factors: ParamMap): Transform {
  return {
    name: 'attenuateSteps',
    elementwise: true,
    transformStep: (delta) => scaleEntries(delta, factors, 'attenuateSteps (factor)'),
  };
}
