/**
 * forgetless's gradients, registered with tfjs by kernel name (as tfjs registers its own), so every
 * model, and any other tfjs code, gets gradients that are fast and correct on the active backend:
 *
 * | kernel                | ours                                                   | used in 'auto' when            |
 * | BatchMatMul           | ∂a = δ·bᵀ, ∂b = aᵀ·δ with explicit transposes          | backend is wasm (its matMul with transposeA/B is ~12× slower) |
 * | Conv2D                | ∂filter from forward convolutions (`conv2dFilterGrad`) | backend has no Conv2DBackpropFilter kernel (wasm) |
 * | Conv2D                | ∂x of stride-1 convs as a forward convolution          | backend is wasm (its Conv2DBackpropInput is ~5× slower) |
 * | DepthwiseConv2dNative | ∂filter, ∂x from forward depthwise convolutions        | backend lacks DepthwiseConv2dNativeBackpropFilter/Input (wasm) |
 * | Conv2DBackpropInput   | ∂filter (of conv2dTranspose) by `conv2dFilterGrad`     | backend has no Conv2DBackpropFilter kernel (wasm) |
 * | MaxPool               | δ to each window's first maximum (any [kh, kw] window) | backend is wasm (its MaxPoolGrad loses gradient) |
 *
 * Dilated Conv2D and DepthwiseConv2dNative have no tfjs gradient at all: ours serve in every mode.
 *
 * Everywhere else tfjs's own gradient runs. Gradients stay lazy (one thunk per input), so tfjs only
 * computes those on a path to what is differentiated (no ∂x for the first layer, no ∂W when only
 * pre-activation taps are differentiated).
 *
 * `setGradientMode('stock')` restores tfjs's own wherever tfjs has one (for comparison); `'custom'` uses ours on
 * every backend (for testing them on cpu against the stock ones).
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dFilterGrad, conv2dInputGradStride1, pair } from './conv2d.js';
import { getConvFormulation } from './formulation.js';
import { conv2dFilterGradIm2col, conv2dInputGradIm2col } from './im2col.js';
import { depthwiseFilterGrad, depthwiseInputGrad } from './depthwise.js';
import { maxPoolGrad } from './max-pool.js';
import { registerOwnGradient } from './own-gradients.js';

export type GradientMode = 'auto' | 'custom' | 'stock';

let mode: GradientMode = 'auto';

export function setGradientMode(m: GradientMode): void {
  if (m !== 'auto' && m !== 'custom' && m !== 'stock') throw new Error(`setGradientMode: expected 'auto', 'custom' or 'stock', got '${String(m)}'`);
  mode = m;
}

export function getGradientMode(): GradientMode {
  return mode;
}

/** Runs fn under a gradient mode, restoring the previous one afterwards. */
export function withGradientMode<T>(m: GradientMode, fn: () => T): T {
  const prev = mode;
  setGradientMode(m);
  try {
    return fn();
  } finally {
    mode = prev;
  }
}

const EXPLICIT_TRANSPOSE = new Set(['wasm']);
const BAD_MAXPOOL_GRAD = new Set(['wasm']);
const SLOW_CONV_INPUT_GRAD = new Set(['wasm']);

/**
 * Below this many input channels, patches are runs of a few floats (slow to copy): the filter
 * gradient of a strided conv and the input gradient keep the forward-conv formulation there.
 */
const IM2COL_MIN_CHANNELS = 8;

/** ∂W of a conv2d under the current formulation (`formulation.ts`). */
function filterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, shape: readonly number[], s: [number, number], pad: 'same' | 'valid', d: [number, number]): tf.Tensor4D {
  const strided = s[0] !== 1 || s[1] !== 1;
  const im2col = getConvFormulation() === 'im2col' && !(strided && (x.shape[3] as number) < IM2COL_MIN_CHANNELS);
  return im2col ? conv2dFilterGradIm2col(x, dy, shape, s, pad, d) : conv2dFilterGrad(x, dy, shape, s, pad, d);
}

function use(customWhen: () => boolean): boolean {
  return mode === 'custom' || (mode === 'auto' && customWhen());
}

/** a·bᵀ, transposing explicitly where the backend's transposed matMul is slow. */
export function matMulBT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return use(() => EXPLICIT_TRANSPOSE.has(tf.getBackend())) ? tf.matMul(a, tf.transpose(b)) : tf.matMul(a, b, false, true);
}

/** aᵀ·b, transposing explicitly where the backend's transposed matMul is slow. */
export function matMulAT(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return use(() => EXPLICIT_TRANSPOSE.has(tf.getBackend())) ? tf.matMul(tf.transpose(a), b) : tf.matMul(a, b, true, false);
}

type Thunks = Record<string, () => tf.Tensor>;
type GradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => Thunks;

let registered = false;

const missing = (kernel: string) => () => tf.getKernel(kernel, tf.getBackend()) === undefined;

/** Stride and dilation pairs, and whether our forward-op gradients handle these attributes. */
function convAttrs(attrs: tf.NamedAttrMap): { s: [number, number]; d: [number, number]; pad: 'same' | 'valid'; dilated: boolean } | undefined {
  const s = pair(attrs.strides as number | number[]);
  const d = pair((attrs.dilations ?? 1) as number | number[]);
  const nhwc = attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC';
  if (!nhwc || attrs.dimRoundingMode != null || (attrs.pad !== 'same' && attrs.pad !== 'valid')) return undefined;
  return { s, d, pad: attrs.pad as 'same' | 'valid', dilated: d[0] !== 1 || d[1] !== 1 };
}

/** Registers the gradients above (idempotent; called when @forgetless/core is imported). */
export function registerForgetlessGradients(): void {
  if (registered) return;
  const kernels = ['BatchMatMul', 'Conv2D', 'MaxPool', 'DepthwiseConv2dNative', 'Conv2DBackpropInput'];
  const stocks = kernels.map((k) => tf.getGradient(k));
  const absent = kernels.filter((_, i) => !stocks[i]);
  if (absent.length) throw new Error(`@forgetless/core: tfjs gradients are not registered (${absent.join('/')} missing)`);
  registered = true;
  const [stockMatMul, stockConv, stockMaxPool, stockDw, stockBpi] = stocks as tf.GradConfig[];
  const [sm, sc, sp, sd, sb] = (stocks as tf.GradConfig[]).map((g) => g.gradFunc as unknown as GradFunc) as [GradFunc, GradFunc, GradFunc, GradFunc, GradFunc];

  registerOwnGradient({
    ...stockMatMul,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const plain = a.rank === 2 && b.rank === 2 && !attrs.transposeA && !attrs.transposeB;
      if (!plain || !use(() => EXPLICIT_TRANSPOSE.has(tf.getBackend()))) return sm(dy, saved, attrs);
      return {
        a: () => tf.matMul(dy as tf.Tensor2D, tf.transpose(b as tf.Tensor2D)),
        b: () => tf.matMul(tf.transpose(a as tf.Tensor2D), dy as tf.Tensor2D),
      };
    }) as never,
  } as tf.GradConfig);

  registerOwnGradient({
    ...stockConv,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const g = convAttrs(attrs);
      if (!g) return sc(dy, saved, attrs);
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const out: Thunks = g.dilated ? {} : sc(dy, saved, attrs);
      if (g.dilated || use(missing('Conv2DBackpropFilter'))) {
        out.filter = () => filterGrad(x, dy as tf.Tensor4D, filter.shape, g.s, g.pad, g.d);
      }
      const stride1 = g.s[0] === 1 && g.s[1] === 1;
      const [kh, kw, c] = filter.shape;
      if (getConvFormulation() === 'im2col' && (kh * kw === 1 || c >= IM2COL_MIN_CHANNELS)) {
        // col2im: as fast as the forward conv on wasm (its Conv2DBackpropInput is ~5× slower)
        if (g.dilated || use(() => SLOW_CONV_INPUT_GRAD.has(tf.getBackend()))) {
          out.x = () => conv2dInputGradIm2col(dy as tf.Tensor4D, filter, x.shape, g.s, g.pad, g.d);
        }
      } else if (stride1 && (g.dilated || use(() => SLOW_CONV_INPUT_GRAD.has(tf.getBackend())))) {
        out.x = () => conv2dInputGradStride1(dy as tf.Tensor4D, filter, x.shape, g.pad, g.d);
      }
      return out;
    }) as never,
  } as tf.GradConfig);

  registerOwnGradient({
    ...stockDw,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const g = convAttrs(attrs);
      if (!g) return sd(dy, saved, attrs);
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const out: Thunks = g.dilated ? {} : sd(dy, saved, attrs);
      if (g.dilated || use(missing('DepthwiseConv2dNativeBackpropFilter'))) {
        out.filter = () => depthwiseFilterGrad(x, dy as tf.Tensor4D, filter.shape, g.s, g.pad, g.d);
      }
      if (g.dilated || use(missing('DepthwiseConv2dNativeBackpropInput'))) {
        out.x = () => depthwiseInputGrad(dy as tf.Tensor4D, filter, x.shape, g.s, g.pad, g.d);
      }
      return out;
    }) as never,
  } as tf.GradConfig);

  // y = conv2dTranspose(dy, filter) = Conv2DBackpropInput: its ∂filter is a Conv2D filter gradient
  // with x := δ (the upstream gradient, shaped like the transposed conv's output) and dy := its input.
  registerOwnGradient({
    ...stockBpi,
    gradFunc: ((ddx: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const out = sb(ddx, saved, attrs);
      const g = convAttrs(attrs);
      if (!g || g.dilated || !use(missing('Conv2DBackpropFilter'))) return out;
      const [dy, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      return { ...out, filter: () => filterGrad(ddx as tf.Tensor4D, dy, filter.shape, g.s, g.pad, g.d) };
    }) as never,
  } as tf.GradConfig);

  registerOwnGradient({
    ...stockMaxPool,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
      const window = pair(attrs.filterSize as number | number[]);
      const strides = pair(attrs.strides as number | number[]);
      const ours = (attrs.pad === 'same' || attrs.pad === 'valid') && attrs.dimRoundingMode == null && use(() => BAD_MAXPOOL_GRAD.has(tf.getBackend()));
      if (!ours || !y) return sp(dy, saved, attrs);
      return { x: () => maxPoolGrad(x, y, dy as tf.Tensor4D, window, strides, attrs.pad as 'same' | 'valid') };
    }) as never,
  } as tf.GradConfig);
}
