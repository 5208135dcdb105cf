/** Parameter-free layers: pooling, flatten, dropout, activation. */
import * as tf from '@tensorflow/tfjs-core';
import { type Padding, convPadding } from '../ops/conv2d.js';
import type { Rng } from '../rng.js';
import { type ActivationLike, type ActivationSpec, applyActivation, toActivationSpec } from './activation.js';
import type { ApplyContext, Layer, LayerConfig } from './layer.js';

abstract class Stateless {
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
}

export interface Pool2dOptions {
  poolSize?: number;
  stride?: number;
  padding?: Padding;
}

/** Max or average pooling over [poolSize × poolSize] windows (NHWC). */
export class Pool2d extends Stateless implements Layer {
  name: string;
  readonly poolSize: number;
  readonly stride: number;
  readonly padding: Padding;

  constructor(
    readonly kind: 'maxPool2d' | 'avgPool2d',
    options: Pool2dOptions = {},
  ) {
    super();
    this.name = kind;
    this.poolSize = options.poolSize ?? 2;
    this.stride = options.stride ?? this.poolSize;
    this.padding = options.padding ?? 'valid';
  }

  build(inputShape: readonly number[], _rng: Rng): number[] {
    if (inputShape.length !== 3) throw new Error(`${this.name}: pooling expects [height, width, channels] input, got [${inputShape}]`);
    const [h, w, c] = inputShape as [number, number, number];
    const p = convPadding(h, w, this.poolSize, this.poolSize, this.stride, this.padding);
    return [p.outH, p.outW, c];
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const f = this.kind === 'maxPool2d' ? tf.maxPool : tf.avgPool;
    return f(x as tf.Tensor4D, this.poolSize, this.stride, this.padding);
  }

  config(): LayerConfig {
    return { kind: this.kind, poolSize: this.poolSize, stride: this.stride, padding: this.padding };
  }
}

export class Flatten extends Stateless implements Layer {
  readonly kind = 'flatten' as const;
  name = 'flatten';

  build(inputShape: readonly number[], _rng: Rng): number[] {
    return [inputShape.reduce((a, b) => a * b, 1)];
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

  build(inputShape: readonly number[], _rng: Rng): number[] {
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
  name = 'activation';
  readonly activation: ActivationSpec;

  constructor(activation: ActivationLike) {
    super();
    this.activation = toActivationSpec(activation);
  }

  build(inputShape: readonly number[], _rng: Rng): number[] {
    return [...inputShape];
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return applyActivation(x, this.activation);
  }

  config(): LayerConfig {
    return { kind: 'activation', activation: this.activation };
  }
}
