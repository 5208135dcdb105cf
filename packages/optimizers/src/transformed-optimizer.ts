/**
 * withTransforms: any tf.Optimizer with a chain of Transforms around its step, usable wherever a
 * tf.Optimizer is (its own `minimize`, trainContinual, a hand-written loop). Gradient transforms run
 * before the wrapped optimizer's `applyGradients`; step transforms after it, on
 * Δθ = θ_after − θ_before, assigning θ_before + Δθ′. The copy θ_before exists only inside
 * `applyGradients` (freed before it returns), and only when some transform has `transformStep`.
 * The wrapped optimizer's step runs through core's `applyGradientsInOne`: tfjs's plain SGD and Adam on
 * wasm in one kernel call, bit for bit what their own `applyGradients` computes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, applyGradientsInOne } from '@forgetless/core';
import type { Transform } from './transform.js';

/** tfjs's NamedTensor (not exported by tfjs-core's index). */
export interface NamedGradient {
  name: string;
  tensor: tf.Tensor;
}

export interface WithTransformsOptions {
  /**
   * The model's parameters (e.g. `model.params`). When given, the transforms' maps (factors, masks)
   * are keyed by parameter name (`dense_0/kernel`); gradients of variables not in it pass through
   * untransformed. Without it they are keyed by tf.Variable name (`variable.name`).
   */
  params?: ParamMap<tf.Variable>;
}

type Config = ReturnType<tf.Optimizer['getConfig']>;

// tf.Optimizer answers `instanceof` by duck typing (a static Symbol.hasInstance its subclasses
// inherit), so wrappers are recognised through this set instead.
const wrappers = new WeakSet<object>();

/** The optimizer a TransformedOptimizer (or WvaOptimizer) wraps, or undefined for any other optimizer. */
export function wrappedOptimizer(optimizer: tf.Optimizer): tf.Optimizer | undefined {
  return wrappers.has(optimizer) ? (optimizer as TransformedOptimizer).base : undefined;
}

export class TransformedOptimizer extends tf.Optimizer {
  /** tfjs's serialization name (the wrapper is not registered for deserialization). */
  static get className(): string {
    return 'TransformedOptimizer';
  }

  /** The wrapped optimizer; owned: `dispose()` disposes it. */
  readonly base: tf.Optimizer;
  protected transforms: readonly Transform[];
  /** tf.Variable name → parameter name. */
  private readonly keyOf = new Map<string, string>();
  private readonly params: ParamMap<tf.Variable> | undefined;

  constructor(base: tf.Optimizer, transforms: readonly Transform[] = [], options: WithTransformsOptions = {}) {
    super();
    if (!(base instanceof tf.Optimizer)) throw new Error('withTransforms: the first argument must be a tf.Optimizer (tf.train.sgd(0.1), tf.train.adam(), ...)');
    this.base = base;
    this.transforms = [...transforms];
    this.params = options.params;
    wrappers.add(this);
    for (const [name, v] of Object.entries(options.params ?? {})) {
      if (!(v instanceof tf.Variable)) throw new Error(`withTransforms: params['${name}'] is not a tf.Variable`);
      this.keyOf.set(v.name, name);
    }
  }

  /**
   * The variables the transforms' maps can name: `params` if given, else the registered tf.Variables
   * among `names` (to check a map's names and shapes against).
   */
  protected knownParams(names: readonly string[]): ParamMap<tf.Variable> {
    if (this.params) return this.params;
    const out: ParamMap<tf.Variable> = {};
    for (const n of names) {
      const v = tf.engine().registeredVariables[n];
      if (v) out[n] = v;
    }
    return out;
  }

  override get iterations(): number {
    return this.base.iterations;
  }

  /** Transforms the gradients, applies them with the wrapped optimizer, transforms the step. */
  applyGradients(variableGradients: tf.NamedTensorMap | NamedGradient[]): void {
    const transforms = this.transforms;
    if (transforms.length === 0) {
      applyGradientsInOne(this.base, variableGradients);
      return;
    }
    // The caller's order is kept (with any null gradients in place): adaptive optimizers index
    // their moments by position in this list.
    const list: NamedGradient[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name] as tf.Tensor }));
    const keys: (string | undefined)[] = list.map((g) => {
      if (g.tensor == null) return undefined;
      const key = this.keyOf.size ? this.keyOf.get(g.name) : g.name;
      if (key !== undefined && !tf.engine().registeredVariables[g.name]) {
        throw new Error(`withTransforms: gradient given for '${g.name}', which is not a registered tf.Variable`);
      }
      return key;
    });
    const variable = (i: number) => tf.engine().registeredVariables[(list[i] as NamedGradient).name] as tf.Variable;
    let grads: ParamMap = {};
    keys.forEach((key, i) => {
      if (key !== undefined) grads[key] = (list[i] as NamedGradient).tensor;
    });
    const steps = transforms.some((t) => t.transformStep);
    tf.tidy(() => {
      for (const t of transforms) if (t.transformGradients) grads = t.transformGradients(grads);
      const named = list.map((g, i) => {
        const key = keys[i];
        return key === undefined ? g : { name: g.name, tensor: grads[key] as tf.Tensor };
      });
      let before: ParamMap | undefined;
      if (steps) {
        before = {};
        keys.forEach((key, i) => {
          if (key !== undefined) (before as ParamMap)[key] = tf.clone(variable(i));
        });
      }
      // tfjs's plain SGD and Adam on wasm in one kernel call, the same values (`applyGradientsInOne`)
      applyGradientsInOne(this.base, named);
      if (!before) return;
      const b = before;
      const stepTransforms = transforms.filter((t) => t.transformStep);
      const apply = (d: ParamMap) => {
        for (const t of stepTransforms) d = (t.transformStep as NonNullable<Transform['transformStep']>)(d);
        return d;
      };
      if (stepTransforms.every((t) => t.elementwise)) {
        // One parameter at a time, freeing as we go: the peak is θ_before plus a few tensors of one parameter.
        keys.forEach((key, i) => {
          if (key === undefined) return;
          const v = variable(i);
          const d0 = tf.sub(v, b[key] as tf.Tensor);
          const d1 = apply({ [key]: d0 })[key] as tf.Tensor;
          if (d1 !== d0) {
            v.assign(tf.add(b[key] as tf.Tensor, d1));
            d1.dispose();
          }
          d0.dispose();
          (b[key] as tf.Tensor).dispose();
        });
        return;
      }
      const original: ParamMap = {};
      keys.forEach((key, i) => {
        if (key !== undefined) original[key] = tf.sub(variable(i), b[key] as tf.Tensor);
      });
      const d = apply(original);
      keys.forEach((key, i) => {
        if (key !== undefined && d[key] !== original[key]) variable(i).assign(tf.add(b[key] as tf.Tensor, d[key] as tf.Tensor));
      });
    });
  }

  /** The wrapped optimizer's weights (its iteration count and moments). */
  override async getWeights(): Promise<NamedGradient[]> {
    return this.base.getWeights();
  }

  override async setWeights(weightValues: NamedGradient[]): Promise<void> {
    return this.base.setWeights(weightValues);
  }

  override getConfig(): Config {
    return this.base.getConfig();
  }

  /** Disposes the wrapped optimizer. */
  override dispose(): void {
    this.base.dispose();
  }
}

/**
 * `optimizer` with `transforms` applied in order around each step (optax's `chain`), e.g.
 * `withTransforms(tf.train.adam(1e-3), [masked(masks)], { params: model.params })`.
 */
export function withTransforms(optimizer: tf.Optimizer, transforms: readonly Transform[], options: WithTransformsOptions = {}): TransformedOptimizer {
  return new TransformedOptimizer(optimizer, transforms, options);
}
