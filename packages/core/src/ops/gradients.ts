/**
 * forgetless's gradients, registered with tfjs by kernel name (as tfjs registers its own), so every
 * model, and any other tfjs code, gets gradients that are fast and correct on the active backend:
 *
 * | kernel      | ours                                                   | used in 'auto' when            |
 * | BatchMatMul | ∂a = δ·bᵀ, ∂b = aᵀ·δ with explicit transposes          | backend is wasm (its matMul with transposeA/B is ~12× slower) |
 * | Conv2D      | ∂filter from forward convolutions (`conv2dFilterGrad`) | backend has no Conv2DBackpropFilter kernel (wasm) |
 * | Conv2D      | ∂x of stride-1 convs as a forward convolution          | backend is wasm (its Conv2DBackpropInput is ~5× slower) |
 * | MaxPool     | δ to each window's first maximum, from forward ops     | backend is wasm (its MaxPoolGrad loses gradient) |
 *
 * Everywhere else tfjs's own gradient runs. Gradients stay lazy (one thunk per input), so tfjs only
 * computes those on a path to what is differentiated (no ∂x for the first layer, no ∂W when only
 * pre-activation taps are differentiated).
 *
 * `setGradientMode('stock')` restores tfjs's own everywhere (for comparison); `'custom'` uses ours on
 * every backend (for testing them on cpu against the stock ones).
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dFilterGrad, conv2dInputGradStride1 } from './conv2d.js';
import { maxPoolGrad } from './max-pool.js';

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

/** Registers the gradients above (idempotent; called when @forgetless/core is imported). */
export function registerForgetlessGradients(): void {
  if (registered) return;
  const stockMatMul = tf.getGradient('BatchMatMul');
  const stockConv = tf.getGradient('Conv2D');
  const stockMaxPool = tf.getGradient('MaxPool');
  if (!stockMatMul || !stockConv || !stockMaxPool) {
    throw new Error('@forgetless/core: tfjs gradients are not registered (BatchMatMul/Conv2D/MaxPool missing)');
  }
  registered = true;
  const sm = stockMatMul.gradFunc as unknown as GradFunc;
  const sc = stockConv.gradFunc as unknown as GradFunc;
  const sp = stockMaxPool.gradFunc as unknown as GradFunc;

  tf.registerGradient({
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
  });

  tf.registerGradient({
    ...stockConv,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const stock = sc(dy, saved, attrs);
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const strides = attrs.strides as number | [number, number];
      const dil = attrs.dilations as number | [number, number] | undefined;
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      const dilated = dil !== undefined && (typeof dil === 'number' ? dil !== 1 : dil.some((d) => d !== 1));
      const supported = sh === sw && !dilated && (attrs.pad === 'same' || attrs.pad === 'valid') && (attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC');
      if (!supported) return stock;
      const pad = attrs.pad as 'same' | 'valid';
      const out = { ...stock };
      if (use(() => tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) === undefined)) {
        out.filter = () => conv2dFilterGrad(x, dy as tf.Tensor4D, filter.shape as [number, number, number, number], sh, pad);
      }
      if (sh === 1 && use(() => SLOW_CONV_INPUT_GRAD.has(tf.getBackend()))) {
        out.x = () => conv2dInputGradStride1(dy as tf.Tensor4D, filter, x.shape as [number, number, number, number], pad);
      }
      return out;
    }) as never,
  });

  tf.registerGradient({
    ...stockMaxPool,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
      const filterSize = attrs.filterSize as number | [number, number];
      const strides = attrs.strides as number | [number, number];
      const [fh, fw] = typeof filterSize === 'number' ? [filterSize, filterSize] : filterSize;
      const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
      const ours = fh === fw && sh === sw && (attrs.pad === 'same' || attrs.pad === 'valid') && attrs.dimRoundingMode == null && use(() => BAD_MAXPOOL_GRAD.has(tf.getBackend()));
      if (!ours || !y) return sp(dy, saved, attrs);
      return { x: () => maxPoolGrad(x, y, dy as tf.Tensor4D, fh, sh, attrs.pad as 'same' | 'valid') };
    }) as never,
  });
}
