/**
 * WVA's attenuation factor (paper 1, arXiv 2005.07107; paper 4, arXiv 2208.05791): one factor per
 * parameter entry, a = f(λ·I), computed once per change of the running importance I (once per task),
 * never per step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, assertSameShape, disposeParams } from '@forgetless/core';

/** The papers' attenuations: `hyperbolic` a = 1/(1 + λI) (preferred, more robust to λ), `exponential` a = exp(−λI). */
export type AttenuationName = 'hyperbolic' | 'exponential';

/** A custom attenuation: maps λ·I (≥ 0, the parameter's shape) to the factor a (finite, ≥ 0, same shape). */
export type AttenuationFn = (scaledImportance: tf.Tensor) => tf.Tensor;

export type Attenuation = AttenuationName | AttenuationFn;

export interface AttenuationOptions {
  /** λ ≥ 0, in units of 1/importance (paper 4's best: SGD-SIG 1475 hyperbolic; Adam-SIG steps 1285). */
  lambda: number;
  /** Default `hyperbolic`. */
  attenuation?: Attenuation;
  /** The model's parameters: when given, every importance must name one of them and match its shape. */
  params?: ParamMap;
}

const NAMES: readonly AttenuationName[] = ['hyperbolic', 'exponential'];

/** Throws unless λ is a finite number ≥ 0. */
export function checkLambda(lambda: unknown, what: string): number {
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0) {
    throw new Error(`${what}: lambda must be a finite number ≥ 0, got ${String(lambda)}`);
  }
  return lambda;
}

/** Throws unless the attenuation is a known name or a function. */
export function checkAttenuation(attenuation: unknown, what: string): Attenuation {
  if (attenuation === undefined) return 'hyperbolic';
  if (typeof attenuation === 'function') return attenuation as AttenuationFn;
  if (typeof attenuation === 'string' && (NAMES as readonly string[]).includes(attenuation)) return attenuation as AttenuationName;
  throw new Error(`${what}: unknown attenuation '${String(attenuation)}' (expected ${NAMES.map((n) => `'${n}'`).join(', ')} or a function of λ·I)`);
}

/** The attenuation's name as stored in checkpoints ('custom' for a function). */
export function attenuationLabel(attenuation: Attenuation): string {
  return typeof attenuation === 'function' ? 'custom' : attenuation;
}

function factorOf(attenuation: Attenuation, importance: tf.Tensor, lambda: number): tf.Tensor {
  const scaled = tf.mul(tf.cast(importance, 'float32'), lambda);
  if (attenuation === 'hyperbolic') return tf.div(1, tf.add(1, scaled));
  if (attenuation === 'exponential') return tf.exp(tf.neg(scaled));
  return tf.cast(attenuation(scaled), 'float32');
}

/**
 * a = 1/(1 + λ·I) (`hyperbolic`, default) or exp(−λ·I) (`exponential`) or f(λ·I), per entry.
 *
 * Returns a new map the caller owns. Parameters whose factor is 1 everywhere (I = 0 or λ = 0) are
 * left out: a missing name means "not attenuated", so the transforms pass those tensors through
 * untouched and the base optimizer's trajectory is reproduced bit for bit.
 *
 * Throws, naming the parameter, on NaN, infinite or negative importances, on a shape unlike
 * `params`'s, on a name `params` lacks, and on a custom attenuation returning a wrong shape or
 * NaN/infinite/negative factors. One read-back from the backend per call (not per step).
 */
export function attenuationFactors(importances: ParamMap, options: AttenuationOptions): ParamMap {
  const what = 'attenuationFactors';
  const lambda = checkLambda(options.lambda, what);
  const attenuation = checkAttenuation(options.attenuation, what);
  const names = Object.keys(importances);
  if (options.params) {
    for (const name of names) {
      const p = options.params[name];
      if (!p) throw new Error(`${what}: importance given for '${name}', which is not a parameter of the model (known: ${Object.keys(options.params).join(', ')})`);
      assertSameShape(p, importances[name] as tf.Tensor, name, `${what} (importance)`);
    }
  }
  const factors: ParamMap = {};
  try {
    for (const name of names) {
      const imp = importances[name] as tf.Tensor;
      const a = tf.tidy(() => factorOf(attenuation, imp, lambda));
      factors[name] = a;
      if (a.shape.length !== imp.shape.length || a.shape.some((d, i) => d !== imp.shape[i])) {
        throw new Error(`${what}: the attenuation function returned shape [${a.shape}] for parameter '${name}' of shape [${imp.shape}]`);
      }
    }
    // One read-back for every check: per parameter [any non-finite I, min I, any non-finite a, min a, max a].
    const stats = tf.tidy(() =>
      names.length === 0
        ? tf.zeros([0])
        : tf.concat(
            names.map((name) => {
              const imp = tf.cast(importances[name] as tf.Tensor, 'float32');
              const a = factors[name] as tf.Tensor;
              const bad = (t: tf.Tensor) => tf.cast(tf.any(tf.logicalNot(tf.isFinite(t))), 'float32');
              const lo = (t: tf.Tensor) => (t.size ? tf.min(t) : tf.scalar(1));
              const hi = (t: tf.Tensor) => (t.size ? tf.max(t) : tf.scalar(1));
              return tf.stack([bad(imp), imp.size ? tf.min(imp) : tf.scalar(0), bad(a), lo(a), hi(a)]);
            }),
          ),
    );
    const s = stats.dataSync();
    stats.dispose();
    names.forEach((name, i) => {
      const [badI, minI, badA, minA, maxA] = Array.from(s.subarray(5 * i, 5 * i + 5));
      if (badI) throw new Error(`${what}: importance of parameter '${name}' contains NaN or Infinity`);
      if ((minI as number) < 0) throw new Error(`${what}: importance of parameter '${name}' has negative values (min ${minI}); importances are ≥ 0`);
      if (badA) throw new Error(`${what}: the attenuation gives NaN or Infinity for parameter '${name}'`);
      if ((minA as number) < 0) throw new Error(`${what}: the attenuation gives negative factors for parameter '${name}' (min ${minA})`);
      if (minA === 1 && maxA === 1) {
        (factors[name] as tf.Tensor).dispose();
        delete factors[name];
      }
    });
  } catch (e) {
    disposeParams(factors);
    throw e;
  }
  return factors;
}
