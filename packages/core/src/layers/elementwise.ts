/**
 * Parameter-free layers as Keras computes them: Softmax over any axes, Rescaling, and the noise
 * layers (GaussianNoise, GaussianDropout, SpatialDropout, AlphaDropout), which are the identity at
 * inference and draw seeded noise from `ctx.rng` in training.
 *
 * Axes follow Keras: indices into the batched tensor (0 is the batch axis), negative from the end.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

abstract class Stateless {
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    return [...inputShape];
  }
}

const shapeText = (s: Shape) => `[${s.map((d) => d ?? 'any').join(', ')}]`;

function checkRate(kind: string, rate: unknown): number {
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new Error(`${kind}: rate must be in [0, 1), got ${String(rate)}`);
  return rate;
}

export interface SoftmaxOptions {
  /** Axis or axes normalised over (default −1, the last). */
  axis?: number | number[];
}

/** y = exp(x − logΣexp(x)) over `axis` (tf.softmax when it is the last axis alone). */
export class Softmax extends Stateless implements Layer {
  readonly kind = 'softmax' as const;
  readonly elementwise = true;
  name = 'softmax';
  readonly axis: number | number[];
  private axes: number[] = [];
  private rank = 0;

  constructor(options: SoftmaxOptions = {}) {
    super();
    this.axis = options.axis ?? -1;
    const list = Array.isArray(this.axis) ? this.axis : [this.axis];
    if (list.length === 0 || list.some((a) => !Number.isInteger(a) || a === 0)) {
      throw new Error(`softmax: axis must be a non-zero integer or a list of them (0 is the batch axis), got ${JSON.stringify(options.axis)}`);
    }
  }

  override build(inputShape: Shape, _rng: Rng): (number | null)[] {
    const rank = inputShape.length + 1;
    const axes = (Array.isArray(this.axis) ? this.axis : [this.axis]).map((a) => (a < 0 ? a + rank : a));
    if (axes.some((a) => a < 1 || a >= rank))
      throw new Error(`${this.name}: axis ${JSON.stringify(this.axis)} is outside the input of per-example shape ${shapeText(inputShape)} (batch axis 0 excluded)`);
    this.axes = [...new Set(axes)].sort((a, b) => a - b);
    this.rank = rank;
    return [...inputShape];
  }

  /** Once built: the softmax is over the last axis alone (tfjs-layers saves its default as axis 1 of a rank-2 input). */
  get isLastAxis(): boolean {
    return this.axes.length === 1 && this.axes[0] === this.rank - 1;
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    if (this.axes.length === 1 && this.axes[0] === x.rank - 1) return tf.softmax(x);
    return tf.exp(tf.sub(x, tf.logSumExp(x, this.axes, true)));
  }

  config(): LayerConfig {
    return { kind: 'softmax', axis: this.axis };
  }
}

export interface RescalingOptions {
  /** Multiplier: a number, or values broadcast against the input's trailing axes (per channel). */
  scale: number | number[];
  /** Added after scaling (default 0). */
  offset?: number | number[];
}

/** y = x · scale + offset (an int input is cast to float32 first). */
export class Rescaling extends Stateless implements Layer {
  readonly kind = 'rescaling' as const;
  readonly elementwise = true;
  name = 'rescaling';
  readonly scale: number | number[];
  readonly offset: number | number[];

  constructor(options: RescalingOptions) {
    super();
    this.scale = options.scale;
    this.offset = options.offset ?? 0;
    for (const [key, v] of [
      ['scale', this.scale],
      ['offset', this.offset],
    ] as const) {
      const ok = typeof v === 'number' ? Number.isFinite(v) : Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'number' && Number.isFinite(e));
      if (!ok) throw new Error(`rescaling: ${key} must be a finite number or a non-empty list of them, got ${JSON.stringify(v)}`);
    }
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const xf = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    const s = typeof this.scale === 'number' ? this.scale : tf.tensor1d(this.scale);
    const o = typeof this.offset === 'number' ? this.offset : tf.tensor1d(this.offset);
    return tf.add(tf.mul(xf, s), o);
  }

  config(): LayerConfig {
    return { kind: 'rescaling', scale: this.scale, offset: this.offset };
  }
}

/** Training: y = x + n, n ~ N(0, stddev²) per element, seeded by the run. Inference: y = x. */
export class GaussianNoise extends Stateless implements Layer {
  readonly kind = 'gaussianNoise' as const;
  name = 'gaussian_noise';

  constructor(readonly stddev: number) {
    super();
    if (!(typeof stddev === 'number' && stddev >= 0 && Number.isFinite(stddev))) throw new Error(`gaussianNoise: stddev must be a finite number >= 0, got ${String(stddev)}`);
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    if (!ctx.training || this.stddev === 0) return x;
    return tf.add(x, tf.randomNormal(x.shape, 0, this.stddev, 'float32', ctx.rng?.seedInt()));
  }

  config(): LayerConfig {
    return { kind: 'gaussianNoise', stddev: this.stddev };
  }
}

/** Training: y = x · n, n ~ N(1, rate/(1 − rate)) per element, seeded by the run. Inference: y = x. */
export class GaussianDropout extends Stateless implements Layer {
  readonly kind = 'gaussianDropout' as const;
  name = 'gaussian_dropout';

  constructor(readonly rate: number) {
    super();
    checkRate('gaussianDropout', rate);
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    if (!ctx.training || this.rate === 0) return x;
    return tf.mul(x, tf.randomNormal(x.shape, 1, Math.sqrt(this.rate / (1 - this.rate)), 'float32', ctx.rng?.seedInt()));
  }

  config(): LayerConfig {
    return { kind: 'gaussianDropout', rate: this.rate };
  }
}

/** Keras's noise_shape (batched, `null` = the input's size) resolved against a batch's shape. */
function noiseShapeFor(shape: readonly number[], noiseShape: readonly (number | null)[] | undefined): number[] {
  if (!noiseShape) return [shape[0] as number, ...shape.slice(1, -1).map(() => 1), shape[shape.length - 1] as number];
  return shape.map((d, i) => noiseShape[i] ?? d);
}

function checkNoiseShape(layer: string, inputShape: Shape, noiseShape: readonly (number | null)[] | undefined): void {
  if (!noiseShape) return;
  const ok = noiseShape.length === inputShape.length + 1 && noiseShape.every((d, i) => d === null || d === 1 || (i > 0 && d === inputShape[i - 1]));
  if (!ok) throw new Error(`${layer}: noise shape ${JSON.stringify(noiseShape)} does not broadcast to the batched input [batch, ${inputShape.map((d) => d ?? 'any').join(', ')}]`);
}

export interface SpatialDropoutOptions {
  rate: number;
  /** The per-example rank the layer accepts: 2 ([steps, channels], SpatialDropout1D) or 3 (2D). Default any. */
  rank?: number;
  /**
   * Keras noise shape (batched; `null` = the input's size; 1 = one draw shared along that axis).
   * Default [batch, 1, …, 1, channels]: whole channels dropped.
   */
  noiseShape?: (number | null)[];
}

/** Training: inverted dropout with one keep/drop draw per noise-shape cell (per channel); inference: y = x. */
export class SpatialDropout extends Stateless implements Layer {
  readonly kind = 'spatialDropout' as const;
  name = 'spatial_dropout';
  readonly rate: number;
  readonly rank: number | undefined;
  readonly noiseShape: (number | null)[] | undefined;

  constructor(options: SpatialDropoutOptions) {
    super();
    this.rate = checkRate('spatialDropout', options.rate);
    this.rank = options.rank;
    this.noiseShape = options.noiseShape ? [...options.noiseShape] : undefined;
  }

  override build(inputShape: Shape, _rng: Rng): (number | null)[] {
    if (this.rank !== undefined && inputShape.length !== this.rank) {
      throw new Error(
        `${this.name}: expects per-example inputs of rank ${this.rank} (${this.rank === 2 ? '[steps, channels]' : '[height, width, channels]'}), got ${shapeText(inputShape)}`,
      );
    }
    checkNoiseShape(this.name, inputShape, this.noiseShape);
    return [...inputShape];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    if (!ctx.training || this.rate === 0) return x;
    return tf.dropout(x, this.rate, noiseShapeFor(x.shape, this.noiseShape), ctx.rng?.seedInt());
  }

  config(): LayerConfig {
    return { kind: 'spatialDropout', rate: this.rate, ...(this.rank === undefined ? {} : { rank: this.rank }), ...(this.noiseShape ? { noiseShape: this.noiseShape } : {}) };
  }
}

// SELU's constants (Klambauer et al. 2017; 1.6732632423543772848…, 1.0507009873554804934…) to double precision
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/**
 * Alpha dropout (Klambauer et al. 2017), as Keras: dropped values are set to α' = −λα (SELU's
 * saturation) and the result is affinely corrected to keep the mean and variance:
 *   y = a·(x·k + α'·(1 − k)) + b,  k ~ Bernoulli(1 − rate),  a = ((1 − rate)(1 + rate·α'²))^−½,  b = −a·α'·rate
 * Inference: y = x.
 */
export class AlphaDropout extends Stateless implements Layer {
  readonly kind = 'alphaDropout' as const;
  name = 'alpha_dropout';
  readonly rate: number;
  /** Keras noise shape (batched; `null` = the input's size); default one draw per element. */
  readonly noiseShape: (number | null)[] | undefined;

  constructor(options: { rate: number; noiseShape?: (number | null)[] }) {
    super();
    this.rate = checkRate('alphaDropout', options.rate);
    this.noiseShape = options.noiseShape ? [...options.noiseShape] : undefined;
  }

  override build(inputShape: Shape, _rng: Rng): (number | null)[] {
    checkNoiseShape(this.name, inputShape, this.noiseShape);
    return [...inputShape];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    if (!ctx.training || this.rate === 0) return x;
    const p = this.rate;
    const alphaP = -SELU_ALPHA * SELU_SCALE;
    const a = ((1 - p) * (1 + p * alphaP * alphaP)) ** -0.5;
    const b = -a * alphaP * p;
    const shape = this.noiseShape ? x.shape.map((d, i) => this.noiseShape?.[i] ?? d) : x.shape;
    const k = tf.cast(tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', ctx.rng?.seedInt()), p), 'float32');
    const kept = tf.add(tf.mul(x, k), tf.mul(tf.sub(1, k), alphaP));
    return tf.add(tf.mul(kept, a), b);
  }

  config(): LayerConfig {
    return { kind: 'alphaDropout', rate: this.rate, ...(this.noiseShape ? { noiseShape: this.noiseShape } : {}) };
  }
}
