/**
 * wva(optimizer, options): weight velocity attenuation (paper 1, arXiv 2005.07107) around any
 * tf.Optimizer, usable outside trainContinual. Mode defaults follow paper 4 (arXiv 2208.05791):
 * `gradients` for plain SGD, `steps` for every optimizer that keeps moments or adapts its scale.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams, keepParams } from '@forgetless/core';
import { attenuateGradients, attenuateSteps } from './attenuate.js';
import { type Attenuation, attenuationFactors, attenuationLabel, checkAttenuation, checkLambda } from './attenuation.js';
import { TransformedOptimizer, type WithTransformsOptions, wrappedOptimizer } from './transformed-optimizer.js';

/** Where WVA acts: on the gradient the optimizer sees, or on the step it took. */
export type ApplyTo = 'gradients' | 'steps';

const APPLY_TO: readonly ApplyTo[] = ['gradients', 'steps'];

/** tfjs-core's adaptive (or momentum) optimizers, by class name: `steps` by default. */
export const ADAPTIVE_OPTIMIZERS: readonly string[] = ['Momentum', 'Adam', 'Adamax', 'RMSProp', 'Adagrad', 'Adadelta'];

/** Throws unless `applyTo` is undefined, 'gradients' or 'steps'. */
export function checkApplyTo(applyTo: unknown, what: string): ApplyTo | undefined {
  if (applyTo === undefined) return undefined;
  if (typeof applyTo === 'string' && (APPLY_TO as readonly string[]).includes(applyTo)) return applyTo as ApplyTo;
  throw new Error(`${what}: unknown applyTo '${String(applyTo)}' (expected 'gradients' or 'steps')`);
}

/** The class name of an optimizer ('SGD', 'Momentum', 'Adam', ...), looking through wrappers. */
export function optimizerClassName(optimizer: tf.Optimizer): string {
  let o: tf.Optimizer = optimizer;
  for (let inner = wrappedOptimizer(o); inner; inner = wrappedOptimizer(o)) o = inner;
  return o.getClassName();
}

/**
 * `gradients` for tfjs's SGDOptimizer (where the two modes coincide and gradients mode needs no
 * copy of θ), `steps` otherwise: Momentum (a subclass of SGDOptimizer in tfjs), Adam, Adamax,
 * RMSProp, Adagrad, Adadelta, and any optimizer of unknown class (steps mode works for all).
 */
export function defaultApplyTo(optimizer: tf.Optimizer): ApplyTo {
  return optimizerClassName(optimizer) === 'SGD' ? 'gradients' : 'steps';
}

export interface WvaOptions extends WithTransformsOptions {
  /** Running importance I (≥ 0, parameter-shaped); may be set later with `setImportances`. Not kept. */
  importances?: ParamMap;
  /** λ ≥ 0 (units of 1/importance). */
  lambda: number;
  /** `hyperbolic` (default) a = 1/(1 + λI), `exponential` a = exp(−λI), or a function of λI. */
  attenuation?: Attenuation;
  /** Default: `defaultApplyTo(optimizer)`. */
  applyTo?: ApplyTo;
}

/**
 * A tf.Optimizer: the wrapped optimizer with WVA. State: one factor tensor per attenuated parameter
 * (none before importances are set); the importances themselves are not kept. In steps mode θ is
 * copied inside each `applyGradients` call and freed before it returns.
 */
export class WvaOptimizer extends TransformedOptimizer {
  static override get className(): string {
    return 'WvaOptimizer';
  }

  readonly applyTo: ApplyTo;
  readonly lambda: number;
  readonly attenuation: Attenuation;
  private current: ParamMap = {};

  constructor(base: tf.Optimizer, options: WvaOptions) {
    super(base, [], options);
    const what = 'wva';
    this.lambda = checkLambda(options.lambda, what);
    this.attenuation = checkAttenuation(options.attenuation, what);
    this.applyTo = checkApplyTo(options.applyTo, what) ?? defaultApplyTo(base);
    if (options.importances) this.setImportances(options.importances);
  }

  /** The factors a in use, by key (attenuated parameters only). Owned by the optimizer. */
  get factors(): ParamMap {
    return this.current;
  }

  /**
   * Recomputes a = f(λ·I) once, replacing (and disposing) the previous factors; `undefined` clears
   * them (the wrapped optimizer alone). `importances` is read, not kept.
   */
  setImportances(importances: ParamMap | undefined): void {
    const next = importances
      ? keepParams(attenuationFactors(importances, { lambda: this.lambda, attenuation: this.attenuation, params: this.knownParams(Object.keys(importances)) }))
      : {};
    disposeParams(this.current);
    this.current = next;
    this.transforms = Object.keys(next).length === 0 ? [] : [this.applyTo === 'gradients' ? attenuateGradients(next) : attenuateSteps(next)];
  }

  override getConfig(): ReturnType<tf.Optimizer['getConfig']> {
    return { ...this.base.getConfig(), wva: { lambda: this.lambda, attenuation: attenuationLabel(this.attenuation), applyTo: this.applyTo } };
  }

  /** Disposes the factors and the wrapped optimizer. */
  override dispose(): void {
    disposeParams(this.current);
    this.current = {};
    this.transforms = [];
    super.dispose();
  }
}

/**
 * WVA around `optimizer`: a = 1/(1 + λI) (or exp(−λI)); `gradients` mode feeds a ⊙ g to the
 * optimizer, `steps` mode sets θ ← θ_prev + a ⊙ (θ_new − θ_prev) after its unmodified step.
 * Maps are keyed by `params`' names when given (`wva(opt, { params: model.params, ... })`), else by
 * tf.Variable name. The returned optimizer owns `optimizer` (dispose the wrapper, not both).
 */
export function wva(optimizer: tf.Optimizer, options: WvaOptions): WvaOptimizer {
  return new WvaOptimizer(optimizer, options);
}
