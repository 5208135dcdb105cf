/**
 * 1-D pooling and global pooling (channels last), as tfjs-layers computes them. `null` step/spatial
 * dims are accepted (fully convolutional nets).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Padding } from '../ops/conv2d.js';
import { poolAxis } from '../ops/max-pool.js';
import type { Rng } from '../rng.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

abstract class Stateless {
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
}

const text = (s: Shape) => `[${s.map((d) => d ?? 'any').join(', ')}]`;

export interface Pool1dOptions {
  /** Window length (default 2). */
  poolSize?: number;
  /** Default the window length. */
  stride?: number;
  padding?: Padding;
}

/**
 * Max or average pooling over windows of `poolSize` steps of [steps, channels] input:
 *   y[n, i, c] = pool_{k < poolSize} x[n, i·stride + k − before, c]
 * computed as 2-D pooling of x expanded to [N, L, 1, C] with a [poolSize, 1] window and [stride, 1]
 * strides, as tfjs-layers does (on wasm, max pooling's gradient is right only where forgetless's
 * MaxPool gradient, `maxPoolGrad`, is registered for non-square windows).
 */
export class Pool1d extends Stateless implements Layer {
  name: string;
  readonly poolSize: number;
  readonly stride: number;
  readonly padding: Padding;

  constructor(
    readonly kind: 'maxPool1d' | 'avgPool1d',
    options: Pool1dOptions = {},
  ) {
    super();
    this.name = kind;
    this.poolSize = options.poolSize ?? 2;
    this.stride = options.stride ?? this.poolSize;
    this.padding = options.padding ?? 'valid';
    for (const [key, v] of [
      ['poolSize', this.poolSize],
      ['stride', this.stride],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${kind}: ${key} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    if (this.padding !== 'valid' && this.padding !== 'same') throw new Error(`${kind}: padding must be 'valid' or 'same', got '${String(this.padding)}'`);
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    if (inputShape.length !== 2) throw new Error(`${this.name}: expects [steps, channels] input, got ${text(inputShape)}`);
    const [l, c] = inputShape as [number | null, number | null];
    const out = l === null ? null : poolAxis(l, this.poolSize, this.stride, this.padding).out;
    if (out !== null && out < 1) throw new Error(`${this.name}: a window of ${this.poolSize} does not fit input ${text(inputShape)} with 'valid' padding`);
    return [out, c];
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const f = this.kind === 'maxPool1d' ? tf.maxPool : tf.avgPool;
    const y = f(tf.expandDims(x, 2) as tf.Tensor4D, [this.poolSize, 1], [this.stride, 1], this.padding);
    return tf.squeeze(y, [2]);
  }

  config(): LayerConfig {
    return { kind: this.kind, poolSize: this.poolSize, stride: this.stride, padding: this.padding };
  }
}

export interface GlobalPoolOptions {
  /** Keep the pooled axes as size 1 ([1, C] or [1, 1, C]) instead of dropping them (default false). */
  keepdims?: boolean;
  /** Number of pooled axes the input must have: 1 ([steps, C]) or 2 ([H, W, C]); default any. */
  spatialRank?: number;
}

/**
 * Max or mean over every axis but the batch and the channels (last) axis: [steps, C] (1-D) or
 * [H, W, C] (2-D) → [C]; y[n, c] = max or mean over p of x[n, p, c].
 */
export class GlobalPool extends Stateless implements Layer {
  name: string;
  readonly keepdims: boolean;
  readonly spatialRank: number | undefined;

  constructor(
    readonly kind: 'globalMaxPool' | 'globalAvgPool',
    options: GlobalPoolOptions = {},
  ) {
    super();
    this.name = kind;
    this.keepdims = options.keepdims ?? false;
    this.spatialRank = options.spatialRank;
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    const r = this.spatialRank;
    if (r !== undefined && inputShape.length !== r + 1) throw new Error(`${this.name}: expects input of rank ${r + 1} (${r} pooled axes and channels), got ${text(inputShape)}`);
    if (inputShape.length < 2) throw new Error(`${this.name}: expects [steps, channels] or [height, width, channels] input, got ${text(inputShape)}`);
    const c = inputShape[inputShape.length - 1] as number | null;
    return this.keepdims ? [...inputShape.slice(0, -1).map(() => 1), c] : [c];
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 1);
    return this.kind === 'globalMaxPool' ? tf.max(x, axes, this.keepdims) : tf.mean(x, axes, this.keepdims);
  }

  config(): LayerConfig {
    return { kind: this.kind, keepdims: this.keepdims, ...(this.spatialRank !== undefined ? { spatialRank: this.spatialRank } : {}) };
  }
}
