/** Parameter-free layers: pooling, flatten, dropout, activation. */
import * as tf from '@tensorflow/tfjs-core';
import type { Padding } from '../ops/conv2d.js';
import { type Size2, pair, poolAxis } from '../ops/max-pool.js';
import type { Rng } from '../rng.js';
import { type ActivationLike, type ActivationSpec, applyActivation, toActivationSpec } from './activation.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

abstract class Stateless {
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
}

export interface Pool2dOptions {
  /** Window: one size, or [height, width] (default 2). */
  poolSize?: Size2;
  /** Stride: one size, or [height, width] (default the window). */
  stride?: Size2;
  padding?: Padding;
}

const sizeText = (v: Size2) => (typeof v === 'number' ? String(v) : `[${v[0]}, ${v[1]}]`);
const shapeText = (s: Shape) => `[${s.map((d) => d ?? 'any').join(', ')}]`;

/** Max or average pooling over [ph × pw] windows at strides [sh, sw] (NHWC). */
export class Pool2d extends Stateless implements Layer {
  name: string;
  /** As given: one size or [height, width]. */
  readonly poolSize: Size2;
  readonly stride: Size2;
  readonly padding: Padding;
  /** [ph, pw] and [sh, sw]. */
  readonly window: [number, number];
  readonly strides: [number, number];

  constructor(
    readonly kind: 'maxPool2d' | 'avgPool2d',
    options: Pool2dOptions = {},
  ) {
    super();
    this.name = kind;
    this.poolSize = options.poolSize ?? 2;
    this.stride = options.stride ?? this.poolSize;
    this.padding = options.padding ?? 'valid';
    this.window = pair(this.poolSize);
    this.strides = pair(this.stride);
    for (const [key, v] of [
      ['poolSize', this.window],
      ['stride', this.strides],
    ] as const) {
      if (v.some((d) => !Number.isInteger(d) || d < 1))
        throw new Error(`${kind}: ${key} must be a positive integer or two of them, got ${sizeText(key === 'poolSize' ? this.poolSize : this.stride)}`);
    }
    if (this.padding !== 'valid' && this.padding !== 'same') throw new Error(`${kind}: padding must be 'valid' or 'same', got '${String(this.padding)}'`);
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    if (inputShape.length !== 3) throw new Error(`${this.name}: pooling expects [height, width, channels] input, got ${shapeText(inputShape)}`);
    const [h, w, c] = inputShape as [number | null, number | null, number | null];
    const out = (n: number | null, i: 0 | 1) => (n === null ? null : poolAxis(n, this.window[i], this.strides[i], this.padding).out);
    const shape = [out(h, 0), out(w, 1), c];
    if (shape.some((d) => d !== null && d < 1)) {
      throw new Error(`${this.name}: a ${sizeText(this.poolSize)} window does not fit input ${shapeText(inputShape)} with 'valid' padding`);
    }
    return shape;
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const f = this.kind === 'maxPool2d' ? tf.maxPool : tf.avgPool;
    return f(x as tf.Tensor4D, this.window, this.strides, this.padding);
  }

  config(): LayerConfig {
    return { kind: this.kind, poolSize: this.poolSize, stride: this.stride, padding: this.padding };
  }
}

export class Flatten extends Stateless implements Layer {
  readonly kind = 'flatten' as const;
  name = 'flatten';

  build(inputShape: Shape, _rng: Rng): number[] {
    if (inputShape.some((d) => d === null)) throw new Error(`${this.name}: flatten needs a fully known input shape, got [${inputShape.map((d) => d ?? 'any')}]`);
    return [(inputShape as number[]).reduce((a, b) => a * b, 1)];
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return tf.reshape(x, [x.shape[0] as number, -1]);
  }

  config(): LayerConfig {
    return { kind: 'flatten' };
  }
}

/** Inverted dropout: zeroes a fraction `rate` of activations in training mode, seeded by the run. */
export class Dropout extends Stateless implements Layer {
  readonly kind = 'dropout' as const;
  name = 'dropout';

  constructor(readonly rate: number) {
    super();
    if (!(rate >= 0 && rate < 1)) throw new Error(`dropout: rate must be in [0, 1), got ${rate}`);
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    return [...inputShape];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    if (!ctx.training || this.rate === 0) return x;
    return tf.dropout(x, this.rate, undefined, ctx.rng?.seedInt());
  }

  config(): LayerConfig {
    return { kind: 'dropout', rate: this.rate };
  }
}

export class Activation extends Stateless implements Layer {
  readonly kind = 'activation' as const;
  readonly elementwise = true;
  name = 'activation';
  readonly activation: ActivationSpec;

  constructor(activation: ActivationLike) {
    super();
    this.activation = toActivationSpec(activation);
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    return [...inputShape];
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return applyActivation(x, this.activation);
  }

  config(): LayerConfig {
    return { kind: 'activation', activation: this.activation };
  }
}
