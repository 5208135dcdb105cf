/**
 * 2-D convolution, NHWC: y = act(conv(x, W) + b), W: [kh, kw, in, out] (Keras's `kernel`), with
 * strides [sh, sw] and kernel dilation [dh, dw]:
 *   y[n,i,j,o] = Σ_{a,b,c} xp[n, i·sh + a·dh, j·sw + b·dw, c] · W[a,b,c,o] + b[o]
 * Also the geometry helpers the other convolution layers share.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addTap } from '../ops/tap.js';
import { type InitializerName, initialize, toVariable } from '../init.js';
import { type Padding, conv2d as conv2dOp } from '../ops/conv2d.js';
import { simdKernelsFor } from '../ops/depthwise-simd.js';
import { layerFusionOn } from '../ops/formulation.js';
import type { ConvGeometry, ConvKind } from '../ops/conv-bn.js';
import { isFewChannelConv } from '../ops/gemm-simd.js';
import { ensureWasmKernels } from '../ops/wasm-kernels.js';
import type { Rng } from '../rng.js';
import { type ActivationLike, type ActivationSpec, applyActivation, toActivationSpec } from './activation.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

/** One size for both spatial axes, or [height, width]. */
export type Size2 = number | readonly [number, number];

/** `v` as [h, w] of positive integers; throws naming the layer kind and the option. */
export function sizePair(kind: string, key: string, v: Size2 | undefined, fallback: number): [number, number] {
  const p: [number, number] = v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  const ok = (typeof v === 'number' || v === undefined || (Array.isArray(v) && v.length === 2)) && p.every((d) => Number.isInteger(d) && d >= 1);
  if (!ok) throw new Error(`${kind}: ${key} must be a positive integer or two of them, got ${JSON.stringify(v)}`);
  return p;
}

/** tfjs (as Keras) convolves with a stride or a dilation above 1, not both. */
export function checkStrideDilation(kind: string, strides: readonly number[], dilation: readonly number[]): void {
  if (strides.some((s) => s > 1) && dilation.some((d) => d > 1)) {
    throw new Error(`${kind}: strides [${strides}] and dilation [${dilation}] cannot both exceed 1`);
  }
}

export function checkPadding<P extends string>(kind: string, padding: P, allowed: readonly P[] = ['same', 'valid'] as P[]): P {
  if (!allowed.includes(padding)) throw new Error(`${kind}: padding must be ${allowed.map((p) => `'${p}'`).join(' or ')}, got '${String(padding)}'`);
  return padding;
}

/**
 * Output length as tfjs-layers' `convOutputLength`: e = (k−1)·d + 1; valid: ⌈(n − e + 1)/s⌉;
 * same and causal: ⌈n/s⌉; `null` stays `null`.
 */
export function convOutputLength(n: number | null, k: number, s: number, d: number, padding: Padding | 'causal'): number | null {
  if (n === null) return null;
  const len = padding === 'valid' ? n - ((k - 1) * d + 1) + 1 : n;
  return Math.floor((len + s - 1) / s);
}

/** Checks a [height, width, channels] input with known channels; returns it typed. */
export function imageInput(name: string, kind: string, inputShape: Shape): [number | null, number | null, number] {
  const text = `[${inputShape.map((d) => d ?? 'any').join(', ')}]`;
  if (inputShape.length !== 3) throw new Error(`${name}: ${kind} expects [height, width, channels] input, got ${text}`);
  const [h, w, c] = inputShape as [number | null, number | null, number | null];
  if (c === null) throw new Error(`${name}: the number of input channels must be known, got ${text}`);
  return [h, w, c];
}

/** Output [h, w] of a convolution; throws if a known dim ends below 1. */
export function imageOutput(
  name: string,
  inputShape: Shape,
  [h, w]: readonly (number | null)[],
  k: readonly number[],
  s: readonly number[],
  d: readonly number[],
  padding: Padding,
): [number | null, number | null] {
  const oh = convOutputLength(h ?? null, k[0] as number, s[0] as number, d[0] as number, padding);
  const ow = convOutputLength(w ?? null, k[1] as number, s[1] as number, d[1] as number, padding);
  if ((oh !== null && oh < 1) || (ow !== null && ow < 1)) {
    throw new Error(`${name}: input [${inputShape.map((x) => x ?? 'any')}] is smaller than the kernel [${k}] at dilation [${d}]`);
  }
  return [oh, ow];
}

/** Adds the layer's tap to z, applies the activation, records the capture. */
export function finish(
  layer: Layer & { activation: ActivationSpec },
  x: tf.Tensor,
  z0: tf.Tensor,
  ctx: ApplyContext,
  inner?: Record<string, tf.Tensor>,
  pads?: readonly [readonly [number, number], readonly [number, number]],
): tf.Tensor {
  const tap = ctx.taps?.[layer.name];
  const z = tap ? addTap(z0, tap) : z0;
  const y = applyActivation(z, layer.activation);
  if (ctx.capture) ctx.capture[layer.name] = { input: x, preActivation: z, output: y, ...(inner ? { inner } : {}), ...(pads ? { pads } : {}) };
  return y;
}

export interface Conv2dOptions {
  filters: number;
  kernelSize: Size2;
  /** [sh, sw], or one for both (default 1). */
  stride?: Size2;
  /** Kernel dilation [dh, dw], or one for both (default 1); excludes strides above 1. */
  dilation?: Size2;
  padding?: Padding;
  activation?: ActivationLike;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

export class Conv2d implements Layer {
  readonly kind = 'conv2d' as const;
  name = 'conv2d';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly activation: ActivationSpec;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly dilation: [number, number];
  readonly padding: Padding;

  constructor(readonly options: Conv2dOptions) {
    if (!Number.isInteger(options.filters) || options.filters < 1) {
      throw new Error(`conv2d: filters must be a positive integer, got ${options.filters}`);
    }
    this.kernelSize = sizePair('conv2d', 'kernelSize', options.kernelSize, 1);
    this.strides = sizePair('conv2d', 'stride', options.stride, 1);
    this.dilation = sizePair('conv2d', 'dilation', options.dilation, 1);
    checkStrideDilation('conv2d', this.strides, this.dilation);
    this.padding = checkPadding('conv2d', options.padding ?? 'valid');
    this.activation = toActivationSpec(options.activation);
  }

  /**
   * The one stride of a convolution with equal strides and no dilation (what code written for the
   * original conv2d reads); throws otherwise: read `strides` and `dilation`.
   */
  get stride(): number {
    const [sh, sw] = this.strides;
    if (sh !== sw || this.dilation[0] !== 1 || this.dilation[1] !== 1) {
      throw new Error(`${this.name}: strides [${this.strides}] at dilation [${this.dilation}] are not one stride; read strides and dilation`);
    }
    return sh;
  }

  build(inputShape: Shape, rng: Rng): (number | null)[] {
    const [h, w, c] = imageInput(this.name, 'conv2d', inputShape);
    const [kh, kw] = this.kernelSize;
    const o = this.options.filters;
    const out = imageOutput(this.name, inputShape, [h, w], this.kernelSize, this.strides, this.dilation, this.padding);
    const fanIn = kh * kw * c;
    const fanOut = kh * kw * o;
    this.params.kernel = toVariable(initialize(this.options.kernelInitializer ?? 'he', [kh, kw, c, o], fanIn, fanOut, rng), true);
    if (this.options.useBias !== false) {
      this.params.bias = toVariable(initialize(this.options.biasInitializer ?? 'zeros', [o], fanIn, fanOut, rng), true);
    }
    return [...out, o];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const z = conv2dOp(x as tf.Tensor4D, this.params.kernel as tf.Variable<tf.Rank.R4>, this.params.bias as tf.Tensor1D | undefined, {
      stride: this.strides,
      padding: this.padding,
      dilation: this.dilation,
    });
    return finish(this, x, z, ctx);
  }

  /**
   * Whether `applyPadded` takes x here: layer fusions on (`withLayerFusion`), 'valid' padding, unit
   * dilation, fewer than 8 input channels (a network's stem, as Keras pads before MobileNetV2's and
   * InceptionV3's first conv), forgetless's SIMD kernels running (wasm, 'auto', float32: their Conv2D
   * forward and filter gradient take explicit padding; the input gradient is wasm's stock kernel, which
   * does too), and no capture or tap asking for this layer (whose input they record) unless the
   * caller reads `LayerCapture.pads` (`ctx.capturePads`).
   */
  foldsPadding(x: tf.Tensor, ctx: ApplyContext): boolean {
    if (!layerFusionOn() || this.padding !== 'valid' || ((ctx.capture || ctx.taps) && !ctx.capturePads) || tf.getBackend() !== 'wasm') return false;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) return false; // tfjs's Conv2D gradient (which takes explicit padding) has no dilation
    const kernel = this.params.kernel as tf.Variable;
    if (!isFewChannelConv(kernel.shape, {})) return false;
    ensureWasmKernels();
    return simdKernelsFor(tf.backend(), x, kernel) !== undefined;
  }

  /**
   * This layer on x zero-padded by `pads` ([[top, bottom], [left, right]]: the ZeroPadding2D before it)
   * as one convolution with explicit padding: the same values without the padded copy (and, for a
   * layer that is not first, its gradient's slice). Only where `foldsPadding`.
   */
  applyPadded(x: tf.Tensor, pads: readonly [readonly [number, number], readonly [number, number]], ctx: ApplyContext): tf.Tensor {
    const explicit: tf.backend_util.ExplicitPadding = [[0, 0], [...pads[0]], [...pads[1]], [0, 0]];
    let z: tf.Tensor = tf.conv2d(x as tf.Tensor4D, this.params.kernel as tf.Variable<tf.Rank.R4>, this.strides, explicit, 'NHWC');
    if (this.params.bias) z = tf.add(z, this.params.bias);
    return finish(this, x, z, ctx, undefined, pads);
  }

  /**
   * This layer as the convolution of a conv + batch norm pair run as one op (`ops/conv-bn.ts`): its
   * kernel, filter and geometry (the ZeroPadding2D before it folded in as explicit `pads`); undefined
   * where the layer adds a bias or an activation of its own.
   */
  fusedConv(pads?: readonly [readonly [number, number], readonly [number, number]]): { kind: ConvKind; filter: tf.Variable; geometry: ConvGeometry } | undefined {
    return convSpec('Conv2D', this, this.params.kernel, pads);
  }

  config(): LayerConfig {
    const one = (p: [number, number]) => (p[0] === p[1] ? p[0] : p);
    return {
      kind: 'conv2d',
      ...this.options,
      kernelSize: this.kernelSize,
      stride: one(this.strides),
      dilation: one(this.dilation),
      padding: this.padding,
      activation: this.activation,
    };
  }
}

/** A conv layer's kernel, filter and geometry for `ops/conv-bn.ts`; undefined with a bias or an activation. */
export function convSpec(
  kind: ConvKind,
  layer: { params: Record<string, tf.Variable>; activation: ActivationSpec; strides: [number, number]; dilation: [number, number]; padding: Padding },
  filter: tf.Variable | undefined,
  pads?: readonly [readonly [number, number], readonly [number, number]],
): { kind: ConvKind; filter: tf.Variable; geometry: ConvGeometry } | undefined {
  if (!filter || layer.params.bias || layer.activation.name !== 'linear') return undefined;
  const pad: ConvGeometry['pad'] = pads ? [[0, 0], [...pads[0]], [...pads[1]], [0, 0]] : layer.padding;
  return { kind, filter, geometry: { strides: [...layer.strides], pad, dilations: [...layer.dilation] } };
}
