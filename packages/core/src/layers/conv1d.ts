/**
 * 1-D convolution over [steps, channels], as Keras's Conv1D: with kernel W [k, in, out] (Keras's
 * `kernel`), stride s, dilation d,
 *   y[n,i,o] = act(Σ_{a,c} xp[n, i·s + a·d, c] · W[a,c,o] + b[o])
 * where xp is x padded as 'valid' (none), 'same' (as tfjs) or 'causal' ((k−1)·d zeros before the
 * first step, then valid: y[i] sees no step after i·s). Computed as a 2-D convolution of x viewed as
 * [N, 1, L, C] with the kernel viewed as [1, k, in, out], strides [1, s], dilation [1, d] (as tf.conv1d).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type InitializerName, initialize, toVariable } from '../init.js';
import { conv2d as conv2dOp } from '../ops/conv2d.js';
import type { Rng } from '../rng.js';
import { type ActivationLike, type ActivationSpec, toActivationSpec } from './activation.js';
import { checkPadding, checkStrideDilation, convOutputLength, finish } from './conv2d.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

export type Conv1dPadding = 'same' | 'valid' | 'causal';

export interface Conv1dOptions {
  filters: number;
  kernelSize: number;
  /** Default 1. */
  stride?: number;
  /** Kernel dilation (default 1); excludes a stride above 1. */
  dilation?: number;
  /** Default 'valid'. */
  padding?: Conv1dPadding;
  activation?: ActivationLike;
  /** Default true (as Keras). */
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

const positive = (key: string, v: number) => {
  if (!Number.isInteger(v) || v < 1) throw new Error(`conv1d: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
};

export class Conv1d implements Layer {
  readonly kind = 'conv1d' as const;
  name = 'conv1d';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly activation: ActivationSpec;
  readonly filters: number;
  readonly kernelSize: number;
  readonly strides: number;
  readonly dilation: number;
  readonly padding: Conv1dPadding;

  constructor(readonly options: Conv1dOptions) {
    this.filters = positive('filters', options.filters);
    this.kernelSize = positive('kernelSize', options.kernelSize);
    this.strides = positive('stride', options.stride ?? 1);
    this.dilation = positive('dilation', options.dilation ?? 1);
    checkStrideDilation('conv1d', [this.strides], [this.dilation]);
    this.padding = checkPadding<Conv1dPadding>('conv1d', options.padding ?? 'valid', ['same', 'valid', 'causal']);
    this.activation = toActivationSpec(options.activation);
  }

  /** Zeros a causal convolution puts before the first step: (k−1)·d. */
  get causalPad(): number {
    return this.padding === 'causal' ? (this.kernelSize - 1) * this.dilation : 0;
  }

  build(inputShape: Shape, rng: Rng): (number | null)[] {
    const text = `[${inputShape.map((d) => d ?? 'any').join(', ')}]`;
    if (inputShape.length !== 2) throw new Error(`${this.name}: conv1d expects [steps, channels] input, got ${text}`);
    const [l, c] = inputShape as [number | null, number | null];
    if (c === null) throw new Error(`${this.name}: the number of input channels must be known, got ${text}`);
    const out = convOutputLength(l, this.kernelSize, this.strides, this.dilation, this.padding);
    if (out !== null && out < 1) throw new Error(`${this.name}: input ${text} is shorter than the kernel (${this.kernelSize} at dilation ${this.dilation})`);
    const k = this.kernelSize;
    const o = this.filters;
    this.params.kernel = toVariable(initialize(this.options.kernelInitializer ?? 'glorot', [k, c, o], k * c, k * o, rng), true);
    if (this.options.useBias !== false) {
      this.params.bias = toVariable(initialize(this.options.biasInitializer ?? 'zeros', [o], k * c, k * o, rng), true);
    }
    return [out, o];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const [n, l, c] = x.shape as [number, number, number];
    const before = this.causalPad;
    const xp = before
      ? tf.pad(x, [
          [0, 0],
          [before, 0],
          [0, 0],
        ])
      : x;
    const x4 = tf.reshape(xp, [n, 1, l + before, c]) as tf.Tensor4D;
    const w4 = tf.reshape(this.params.kernel as tf.Variable, [1, this.kernelSize, c, this.filters]) as tf.Tensor4D;
    const padding = this.padding === 'causal' ? 'valid' : this.padding;
    const z4 = conv2dOp(x4, w4, this.params.bias as tf.Tensor1D | undefined, { stride: [1, this.strides], padding, dilation: [1, this.dilation] });
    const z = tf.reshape(z4, [n, z4.shape[2], this.filters]);
    return finish(this, x, z, ctx);
  }

  config(): LayerConfig {
    return {
      kind: this.kind,
      ...this.options,
      stride: this.strides,
      dilation: this.dilation,
      padding: this.padding,
      activation: this.activation,
    };
  }
}
