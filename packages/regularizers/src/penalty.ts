/**
 * The quadratic consolidation penalty and its coefficient conventions.
 *
 *   L = CE + Σ c ⊙ (θ − θ*)²,   ∂/∂θ Σ c ⊙ (θ − θ*)² = 2c ⊙ (θ − θ*)
 *
 * c is computed once per consolidation (task end) from the importance I; a step then costs one
 * subtraction, one multiplication and one reduction per parameter and anchor.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamMap, Penalty } from '@forgetless/core';

/**
 * How c follows from λ and I:
 * - `lambda`: c = λ·I (papers 2–4, Kutalev; the default);
 * - `half-lambda`: c = λ/2·I (paper 1's EWC, Kirkpatrick et al. 2017: L = CE + Σ λ/2·F·(θ − θ*)²).
 */
export type EwcConvention = 'lambda' | 'half-lambda';
export const EWC_CONVENTIONS: readonly EwcConvention[] = ['lambda', 'half-lambda'];

/** c = λ·I (`lambda`) or λ/2·I (`half-lambda`). `importance` undefined means I = 1 (a scalar c). */
export function ewcCoefficient(importance: tf.Tensor | undefined, lambda: number, convention: EwcConvention = 'lambda'): tf.Tensor {
  const k = convention === 'half-lambda' ? lambda / 2 : lambda;
  return importance ? tf.mul(importance, k) : tf.scalar(k);
}

/**
 * Stabilised EWC (paper 2, arXiv 2109.10021): c = λ·I / (2·(1 + η·λ·I)), η the learning rate, so
 * the penalty gradient is λI(θ − θ*)/(1 + ηλI). Under SGD the penalty alone then maps
 * θ − θ* to (θ − θ*)/(1 + ηλI): it never overshoots the anchor, whatever ηλI. For ηλI ≪ 1,
 * c ≈ λ/2·I (the `half-lambda` convention).
 */
export function stabilizedCoefficient(importance: tf.Tensor | undefined, lambda: number, learningRate: number): tf.Tensor {
  if (!importance) return tf.scalar(lambda / (2 * (1 + learningRate * lambda)));
  return tf.tidy(() => tf.div(tf.mul(importance, lambda / 2), tf.add(tf.mul(importance, learningRate * lambda), 1)));
}

/** One quadratic term: coefficients c and anchors θ* for (some of) the parameters. */
export interface QuadraticTerm {
  coefficient: ParamMap;
  anchor: ParamMap;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The penalty Σ_terms Σ c ⊙ (θ − θ*)² and its analytic gradient Σ_terms 2c ⊙ (θ − θ*), for the
 * parameters the terms name. A term's coefficient may be a scalar (uniform importance, L2).
 * Returns new tensors the caller owns (inside `trainStep` its tidy frees them). Throws naming the
 * parameter when `params` lacks it or its shape differs from the anchor's.
 */
export function quadraticPenalty(params: ParamMap, terms: readonly QuadraticTerm[], what = 'quadraticPenalty'): Penalty {
  for (const term of terms) {
    for (const [name, anchor] of Object.entries(term.anchor)) {
      const p = params[name];
      if (!p) throw new Error(`${what}: the anchor has parameter '${name}', which the model does not`);
      if (!sameShape(p.shape, anchor.shape)) throw new Error(`${what}: parameter '${name}' has shape [${p.shape}] but its anchor has [${anchor.shape}]`);
      const c = term.coefficient[name];
      if (!c) throw new Error(`${what}: parameter '${name}' has an anchor but no coefficient`);
      if (c.rank !== 0 && !sameShape(c.shape, anchor.shape))
        throw new Error(`${what}: parameter '${name}' has a coefficient of shape [${c.shape}], expected [${anchor.shape}] or a scalar`);
    }
  }
  return tf.tidy(() => {
    const parts: Record<string, tf.Tensor[]> = {};
    const values: tf.Tensor[] = [];
    for (const term of terms) {
      for (const [name, anchor] of Object.entries(term.anchor)) {
        const d = tf.sub(params[name] as tf.Tensor, anchor);
        const cd = tf.mul(term.coefficient[name] as tf.Tensor, d);
        values.push(tf.sum(tf.mul(cd, d)));
        (parts[name] ??= []).push(cd, cd);
      }
    }
    const grads: ParamMap = {};
    for (const [name, list] of Object.entries(parts)) grads[name] = list.length === 2 ? tf.add(list[0] as tf.Tensor, list[1] as tf.Tensor) : tf.addN(list);
    const value = (values.length === 0 ? tf.scalar(0) : values.length === 1 ? values[0] : tf.addN(values)) as tf.Scalar;
    return { value, grads };
  });
}
