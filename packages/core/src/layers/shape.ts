/**
 * Parameter-free layers that move values without mixing them: ZeroPadding2D, Cropping2D,
 * UpSampling2D, Reshape, Permute (NHWC, as tfjs-layers computes them). Per-example shapes exclude
 * the batch axis; `null` dims stay `null` wherever the output size depends on them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

abstract class Stateless {
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
}

const text = (s: Shape) => `[${s.map((d) => d ?? 'any').join(', ')}]`;

/** Padding or cropping of height and width: n, [h, w] (symmetric), or [[top, bottom], [left, right]]. */
export type Margins2d = number | readonly [number, number] | readonly [readonly [number, number], readonly [number, number]];

/** Normalises `Margins2d` to [[top, bottom], [left, right]]; throws naming `what` for anything else. */
export function margins2d(v: Margins2d, what: string): [[number, number], [number, number]] {
  let m: unknown;
  if (typeof v === 'number')
    m = [
      [v, v],
      [v, v],
    ];
  else if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number')
    m = [
      [v[0], v[0]],
      [v[1], v[1]],
    ];
  else m = v;
  const ok = Array.isArray(m) && m.length === 2 && m.every((p) => Array.isArray(p) && p.length === 2 && p.every((d) => Number.isInteger(d) && d >= 0));
  if (!ok) throw new Error(`${what} must be a non-negative integer, [height, width], or [[top, bottom], [left, right]], got ${JSON.stringify(v)}`);
  const [[t, b], [l, r]] = m as [[number, number], [number, number]];
  return [
    [t, b],
    [l, r],
  ];
}

function spatial(name: string, inputShape: Shape): [number | null, number | null, number | null] {
  if (inputShape.length !== 3) throw new Error(`${name}: expects [height, width, channels] input, got ${text(inputShape)}`);
  return inputShape as [number | null, number | null, number | null];
}

export interface ZeroPadding2dOptions {
  /** Zeros added around height and width (default 1). */
  padding?: Margins2d;
}

/** y = x with [[top, bottom], [left, right]] rows and columns of zeros around it. */
export class ZeroPadding2d extends Stateless implements Layer {
  readonly kind = 'zeroPadding2d' as const;
  name = 'zeroPadding2d';
  readonly padding: [[number, number], [number, number]];

  constructor(options: ZeroPadding2dOptions = {}) {
    super();
    this.padding = margins2d(options.padding ?? 1, 'zeroPadding2d: padding');
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    const [h, w, c] = spatial(this.name, inputShape);
    const [[t, b], [l, r]] = this.padding;
    return [h === null ? null : h + t + b, w === null ? null : w + l + r, c];
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return tf.pad(x, [[0, 0], this.padding[0], this.padding[1], [0, 0]]);
  }

  config(): LayerConfig {
    return { kind: this.kind, padding: this.padding };
  }
}

export interface Cropping2dOptions {
  /** Rows and columns removed from each side (default 0). */
  cropping?: Margins2d;
}

/** y = x[top : H − bottom, left : W − right]. */
export class Cropping2d extends Stateless implements Layer {
  readonly kind = 'cropping2d' as const;
  name = 'cropping2d';
  readonly cropping: [[number, number], [number, number]];

  constructor(options: Cropping2dOptions = {}) {
    super();
    this.cropping = margins2d(options.cropping ?? 0, 'cropping2d: cropping');
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    const [h, w, c] = spatial(this.name, inputShape);
    const [[t, b], [l, r]] = this.cropping;
    const out = [h === null ? null : h - t - b, w === null ? null : w - l - r, c];
    if (out.some((d) => d !== null && d < 1)) throw new Error(`${this.name}: cropping ${JSON.stringify(this.cropping)} leaves nothing of input ${text(inputShape)}`);
    return out;
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const [[t, b], [l, r]] = this.cropping;
    const [, h, w] = x.shape as number[];
    return tf.slice(x, [0, t, l, 0], [-1, (h as number) - t - b, (w as number) - l - r, -1]);
  }

  config(): LayerConfig {
    return { kind: this.kind, cropping: this.cropping };
  }
}

export interface UpSampling2dOptions {
  /** Factors [sh, sw] (or one for both; default 2). */
  size?: number | readonly [number, number];
  /** Default 'nearest'. */
  interpolation?: 'nearest' | 'bilinear';
}

/**
 * Upsampling by integer factor s along `axis` (1: rows, 2: columns) of NHWC x, equal to tfjs's
 * resize kernels with alignCorners = halfPixelCenters = false: output index i = g·s + r reads
 *   nearest:  x[g]
 *   bilinear: x[g] + (x[min(g + 1, n − 1)] − x[g]) · r/s
 * built from reshape, slice, concat and broadcast arithmetic, whose gradients are right on every
 * backend (tfjs 4.22's ResizeBilinear gradient fails on cpu when H ≠ W, and wasm's
 * ResizeNearestNeighborGrad is wrong for batches or channels > 1).
 */
function upsampleAxis(x: tf.Tensor4D, axis: 1 | 2, s: number, bilinear: boolean): tf.Tensor4D {
  if (s === 1) return x;
  const [n, h, w, c] = x.shape;
  const phases = axis === 1 ? [1, 1, s, 1, 1] : [1, 1, 1, s, 1];
  const split = (t: tf.Tensor) => tf.reshape(t, axis === 1 ? [n, h, 1, w, c] : [n, h, w, 1, c]);
  const x5 = split(x);
  let y5: tf.Tensor;
  if (!bilinear) y5 = tf.mul(x5, tf.ones(phases));
  else {
    const len = x.shape[axis];
    const at = (i: number, size: number) => tf.slice(x, axis === 1 ? [0, i, 0, 0] : [0, 0, i, 0], axis === 1 ? [-1, size, -1, -1] : [-1, -1, size, -1]);
    const next = len === 1 ? x : tf.concat([at(1, len - 1), at(len - 1, 1)], axis);
    const frac = tf.tensor(
      Array.from({ length: s }, (_, r) => r / s),
      phases,
    );
    y5 = tf.add(x5, tf.mul(tf.sub(split(next), x5), frac));
  }
  return tf.reshape(y5, axis === 1 ? [n, h * s, w, c] : [n, h, w * s, c]);
}

/** Resizes [H, W] to [H·sh, W·sw] as tfjs-layers' UpSampling2D (`tf.image.resizeNearestNeighbor`/`resizeBilinear`, alignCorners false). */
export class UpSampling2d extends Stateless implements Layer {
  readonly kind = 'upSampling2d' as const;
  name = 'upSampling2d';
  readonly size: [number, number];
  readonly interpolation: 'nearest' | 'bilinear';

  constructor(options: UpSampling2dOptions = {}) {
    super();
    const s = options.size ?? 2;
    this.size = typeof s === 'number' ? [s, s] : [s[0], s[1]];
    if (!(typeof s === 'number' || (Array.isArray(s) && s.length === 2)) || this.size.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`upSampling2d: size must be a positive integer or two of them, got ${JSON.stringify(s)}`);
    }
    this.interpolation = options.interpolation ?? 'nearest';
    if (this.interpolation !== 'nearest' && this.interpolation !== 'bilinear')
      throw new Error(`upSampling2d: interpolation must be 'nearest' or 'bilinear', got '${String(this.interpolation)}'`);
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    const [h, w, c] = spatial(this.name, inputShape);
    return [h === null ? null : h * this.size[0], w === null ? null : w * this.size[1], c];
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const bilinear = this.interpolation === 'bilinear';
    // columns first, then rows: the order in which tfjs's bilinear kernel interpolates
    return tf.tidy(() => upsampleAxis(upsampleAxis(x as tf.Tensor4D, 2, this.size[1], bilinear), 1, this.size[0], bilinear));
  }

  config(): LayerConfig {
    return { kind: this.kind, size: this.size, interpolation: this.interpolation };
  }
}

export interface ReshapeOptions {
  /** Per-example output shape; one entry may be -1 (inferred from the input's size). */
  targetShape: readonly number[];
}

/**
 * y = x reshaped to [batch, ...targetShape]. With a fully known input, the -1 entry becomes
 * size(input) / Π(other entries); with an input of unknown size it stays `null` (as tfjs-layers).
 */
export class Reshape extends Stateless implements Layer {
  readonly kind = 'reshape' as const;
  name = 'reshape';
  readonly targetShape: readonly number[];

  constructor(options: ReshapeOptions) {
    super();
    const t = options?.targetShape;
    const ok = Array.isArray(t) && t.length > 0 && t.every((d) => Number.isInteger(d) && (d >= 1 || d === -1)) && t.filter((d) => d === -1).length <= 1;
    if (!ok) throw new Error(`reshape: targetShape must be positive integers with at most one -1, got ${JSON.stringify(t)}`);
    this.targetShape = [...t];
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    const free = this.targetShape.indexOf(-1);
    const known = this.targetShape.reduce((a, d) => (d === -1 ? a : a * d), 1);
    if (inputShape.some((d) => d === null)) return this.targetShape.map((d) => (d === -1 ? null : d));
    const size = (inputShape as number[]).reduce((a, b) => a * b, 1);
    const fail = free < 0 ? size !== known : size % known !== 0;
    if (fail) throw new Error(`${this.name}: cannot reshape input ${text(inputShape)} (${size} values) to [${this.targetShape.join(', ')}]`);
    return this.targetShape.map((d) => (d === -1 ? size / known : d));
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return tf.reshape(x, [x.shape[0] as number, ...this.targetShape]);
  }

  config(): LayerConfig {
    return { kind: this.kind, targetShape: [...this.targetShape] };
  }
}

export interface PermuteOptions {
  /** A permutation of 1..rank (1-based, the batch axis excluded, as Keras): output axis i is input axis dims[i]. */
  dims: readonly number[];
}

/** y = transpose(x, [0, ...dims]). */
export class Permute extends Stateless implements Layer {
  readonly kind = 'permute' as const;
  name = 'permute';
  readonly dims: readonly number[];

  constructor(options: PermuteOptions) {
    super();
    const d = options?.dims;
    const ok = Array.isArray(d) && d.length > 0 && [...d].sort((a, b) => a - b).every((v, i) => v === i + 1);
    if (!ok) throw new Error(`permute: dims must be a permutation of 1..rank (1-based), got ${JSON.stringify(d)}`);
    this.dims = [...d];
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    if (inputShape.length !== this.dims.length) throw new Error(`${this.name}: dims [${this.dims.join(', ')}] need an input of rank ${this.dims.length}, got ${text(inputShape)}`);
    return this.dims.map((d) => inputShape[d - 1] as number | null);
  }

  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return tf.transpose(x, [0, ...this.dims]);
  }

  config(): LayerConfig {
    return { kind: this.kind, dims: [...this.dims] };
  }
}
