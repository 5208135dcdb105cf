/**
 * Layer normalisation (Ba et al. 2016), per example over the given axes, as Keras's
 * LayerNormalization:
 *   x̂ = (x − μ) / √(σ² + ε),   y = γ · x̂ + β
 * with μ, σ² (biased) over `axis` of each example, and γ, β shaped like those axes. The same in
 * training and inference; no state. `center: false` drops β, `scale: false` drops γ.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addTap } from '../ops/tap.js';
import { toVariable } from '../init.js';
import type { Rng } from '../rng.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

export interface LayerNormOptions {
  /**
   * The normalised axes, as Keras counts them: indices into the batched tensor (0, the batch axis,
   * is not allowed), negative from the end. Default −1 (the last).
   */
  axis?: number | number[];
  /** Added to σ² (default 1e-5; Keras's is 1e-3). */
  epsilon?: number;
  /** Learn the offset β (default true). */
  center?: boolean;
  /** Learn the scale γ (default true). */
  scale?: boolean;
}

const shapeText = (s: Shape) => `[${s.map((d) => d ?? 'any').join(', ')}]`;

export class LayerNorm implements Layer {
  readonly kind = 'layerNorm' as const;
  name = 'layer_norm';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly axis: number | number[];
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  /** The normalised axes of the batched input, resolved at build (each ≥ 1). */
  private axes: number[] = [];
  /** γ and β reshaped for broadcasting against a per-example tensor: 1 on every other axis. */
  private paramBroadcast: number[] = [];

  constructor(options: LayerNormOptions = {}) {
    this.axis = options.axis ?? -1;
    this.epsilon = options.epsilon ?? 1e-5;
    this.center = options.center ?? true;
    this.scale = options.scale ?? true;
    const list = Array.isArray(this.axis) ? this.axis : [this.axis];
    if (list.length === 0 || list.some((a) => !Number.isInteger(a) || a === 0)) {
      throw new Error(`layerNorm: axis must be a non-zero integer or a list of them (0 is the batch axis), got ${JSON.stringify(options.axis)}`);
    }
    if (!(this.epsilon > 0)) throw new Error(`layerNorm: epsilon must be > 0, got ${this.epsilon}`);
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    const rank = inputShape.length + 1;
    const axes = (Array.isArray(this.axis) ? this.axis : [this.axis]).map((a) => (a < 0 ? a + rank : a));
    if (axes.some((a) => a < 1 || a >= rank))
      throw new Error(`${this.name}: axis ${JSON.stringify(this.axis)} is outside the input of per-example shape ${shapeText(inputShape)} (batch axis 0 excluded)`);
    if (new Set(axes).size !== axes.length) throw new Error(`${this.name}: axis ${JSON.stringify(this.axis)} names an axis twice`);
    const paramShape = axes.map((a) => inputShape[a - 1] ?? null);
    if (paramShape.some((d) => d === null)) throw new Error(`${this.name}: the normalised axes ${JSON.stringify(this.axis)} must have known sizes, got ${shapeText(inputShape)}`);
    this.axes = axes;
    this.paramBroadcast = inputShape.map((d, i) => (axes.includes(i + 1) ? (d as number) : 1));
    if (this.scale) this.params.gamma = toVariable(tf.ones(paramShape as number[]), true);
    if (this.center) this.params.beta = toVariable(tf.zeros(paramShape as number[]), true);
    return [...inputShape];
  }

  /** The normalised axes of the batched input, once built. */
  get resolvedAxes(): readonly number[] {
    return this.axes;
  }

  /** γ or β (Keras layout: the normalised axes' sizes) shaped to broadcast against the batched input. */
  broadcast(v: tf.Tensor): tf.Tensor {
    return tf.reshape(v, this.paramBroadcast);
  }

  /** x̂ = (x − μ)/√(σ² + ε), each example over the normalised axes (per-example code: g_γ = Σ δ·x̂). */
  normalize(x: tf.Tensor): tf.Tensor {
    const { mean, variance } = tf.moments(x, this.axes, true);
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.epsilon)));
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    let z = this.normalize(x);
    if (this.params.gamma) z = tf.mul(z, this.broadcast(this.params.gamma));
    if (this.params.beta) z = tf.add(z, this.broadcast(this.params.beta));
    const tap = ctx.taps?.[this.name];
    if (tap) z = addTap(z, tap);
    if (ctx.capture) ctx.capture[this.name] = { input: x, preActivation: z, output: z };
    return z;
  }

  config(): LayerConfig {
    return { kind: 'layerNorm', axis: this.axis, epsilon: this.epsilon, center: this.center, scale: this.scale };
  }
}
