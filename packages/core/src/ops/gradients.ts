/**
 * forgetless's gradients, registered with tfjs by kernel name (as tfjs registers its own), so every
 * model, and any other tfjs code, gets gradients that are fast and correct on the active backend:
 *
 * | kernel                | ours                                                   | used in 'auto' when            |
 * | BatchMatMul           | ∂a = δ·bᵀ, ∂b = aᵀ·δ with explicit transposes          | backend is wasm (its matMul with transposeA/B is ~12× slower) |
 * | BatchMatMul           | ∂a, ∂b of a 2-D product with C·O ≤ 2¹⁸ by the SIMD 1×1 convolution kernels (`gemm-simd.ts`) | backend is wasm and the module runs there ('auto' only) |
 * | Conv2D                | ∂filter = Xᵀ·δ over patches (`im2col.ts`), or from forward convolutions | backend has no Conv2DBackpropFilter kernel (wasm) |
 * | Conv2D                | ∂filter by forgetless's SIMD kernels (`gemm-simd.ts`): 1×1 unit-stride, or < 8 input channels | backend is wasm and the module runs there ('auto' only) |
 * | Conv2D                | ∂x = col2im(δ·Wᵀ), or a forward convolution at stride 1 | backend is wasm (its Conv2DBackpropInput is ~5× slower) |
 * | Conv2D                | ∂x by forgetless's SIMD kernels (`gemm-simd.ts`): 1×1 unit-stride δ·Wᵀ, every other kernel col2im(δ·Wᵀ) a chunk at a time | backend is wasm and the module runs there ('auto' only) |
 * | DepthwiseConv2dNative | ∂filter, ∂x by forgetless's SIMD kernels (`depthwise-simd.ts`) | backend is wasm and the module runs there ('auto' only) |
 * | DepthwiseConv2dNative | ∂filter, ∂x from forward depthwise convolutions        | backend lacks DepthwiseConv2dNativeBackpropFilter/Input (wasm) |
 * | Conv2DBackpropInput   | ∂filter (of conv2dTranspose) by `conv2dFilterGrad`     | backend has no Conv2DBackpropFilter kernel (wasm) |
 * | MaxPool               | δ to each window's first maximum (any [kh, kw] window) | backend is wasm (its MaxPoolGrad loses gradient) |
 * | AvgPool               | Σ over windows of δ / (the window's taps inside the image), its forward's derivative (`max-pool.ts`) | always: tfjs's divides by kh·kw, wrong for windows over 'same' padding |
 * | MirrorPad             | δ's centre plus its borders reversed onto the values they mirror (`tfjs-fixes.ts`) | always: tfjs's drops the borders |
 * | ResizeNearestNeighbor | tfjs's kernel image by image on cpu (`tfjs-fixes.ts`)   | always: tfjs-backend-cpu's is wrong for batches |
 *
 * Dilated Conv2D and DepthwiseConv2dNative have no tfjs gradient at all: ours serve in every mode;
 * AvgPool's too, where tfjs's is wrong.
 *
 * Everywhere else tfjs's own gradient runs. Gradients stay lazy (one thunk per input), so tfjs only
 * computes those on a path to what is differentiated (no ∂x for the first layer, no ∂W when only
 * pre-activation taps are differentiated).
 *
 * Which of the two formulations of the conv gradients runs is `setConvFormulation`'s choice
 * (`formulation.ts`: 'im2col' by default, 'forward-conv' as in forgetless 0.1). The functions
 * `conv2dBackpropInput`/`conv2dBackpropFilter`/`depthwiseBackpropInput`/`depthwiseBackpropFilter`
 * are exactly what the registered gradients run, for code (and benchmarks) that calls them directly.
 *
 * `setGradientMode('stock')` restores tfjs's own wherever tfjs has one (for comparison); `'custom'` uses ours on
 * every backend (for testing them on cpu against the stock ones).
 */
import * as tf from '@tensorflow/tfjs-core';
import { conv2dInputGradStride1, pair } from './conv2d.js';
import { getConvFormulation, isAutoFormulation } from './formulation.js';
import { IM2COL_MIN_CHANNELS, conv2dInputGradIm2col, conv2dInputGradTaps, formulatedFilterGrad } from './im2col.js';
import { depthwiseInputGrad, formulatedDepthwiseFilterGrad } from './depthwise.js';
import { simdKernelsFor } from './depthwise-simd.js';
import { avgPoolGrad, maxPoolGrad } from './max-pool.js';
import { mirrorPadGrad, resizeNearestGrad } from './tfjs-fixes.js';
import { normSimdUsable, simdClipGrad, simdRelu6Grad } from './norm-simd.js';
import { isSimdFilterGradConv, isSimdInputGradConv, isPointwise, pointwiseSimd } from './gemm-simd.js';
import { sharedTensor } from './light-saves.js';
import { registerOwnGradient } from './own-gradients.js';
import { ensureWasmKernels, isForgetlessKernel } from './wasm-kernels.js';

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
/** Backends where element-wise compositions of fast kernels beat the stock gradient's (wasm's comparisons and Select are slow). */
const FAST_WASM_KERNELS = new Set(['wasm']);

/** The backend has no kernel of its own for this (none, or only the one forgetless registers on wasm). */
const missing = (kernel: string) => () => {
  const k = tf.getKernel(kernel, tf.getBackend());
  return k === undefined || isForgetlessKernel(k);
};
const isDilated = (d: readonly number[]) => d[0] !== 1 || d[1] !== 1;

/**
 * ∂x of `tf.conv2d(x, filter, strides, pad, 'NHWC', dilation)` for upstream gradient dy, as
 * forgetless's registered Conv2D gradient computes it on the active backend, under the current
 * gradient mode and formulation: on wasm under 'auto' where the module runs, forgetless's SIMD
 * kernels (`gemm-simd.ts`: δ·Wᵀ at 1×1 unit stride; for every other kernel, stride, dilation and
 * channel count the patch gradients δ·Wᵀ a chunk of pixels at a time, added back where the patches
 * came from, `conv_input_grad`: 0.3–0.85× the time of the taps it replaced); else col2im
 * (`im2col.ts`) on wasm (1×1 kernels, or at least 8 input channels: one matMul per tap under 'auto',
 * one column matrix under 'im2col'), a forward convolution at stride 1 under 'forward-conv' or with
 * fewer channels, tfjs's Conv2DBackpropInput otherwise (dilated convolutions, which tfjs cannot
 * differentiate, always take ours).
 */
export function conv2dBackpropInput(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: readonly number[],
  strides: number | readonly number[],
  pad: 'same' | 'valid',
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  const s = pair(strides);
  const d = pair(dilation);
  const ours = isDilated(d) || use(() => SLOW_CONV_INPUT_GRAD.has(tf.getBackend()));
  const [kh, kw, c] = filter.shape;
  const f = getConvFormulation();
  // 1×1 at unit stride on wasm under 'auto': dy·Wᵀ by forgetless's SIMD kernel (`gemm-simd.ts`), through wasm's Conv2DBackpropInput (ours)
  if (ours && pointwiseHere('Conv2DBackpropInput', filter.shape, s, d, dy, filter))
    return tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides: s, pad, dataFormat: 'NHWC', inputShape: [...inputShape] } as never) as tf.Tensor4D;
  // every other conv on wasm under 'auto': the patch gradients dy·Wᵀ a chunk at a time, added back where the patches came from, through the same kernel
  if (ours && simdInputGradHere(filter.shape, dy, filter))
    return tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { strides: s, pad, dataFormat: 'NHWC', inputShape: [...inputShape], dilations: d } as never) as tf.Tensor4D;
  if (ours && f !== 'forward-conv' && (kh * kw === 1 || c >= IM2COL_MIN_CHANNELS)) {
    // 'auto': one matMul per tap (`conv2dInputGradTaps`), 1.1–1.7× faster than col2im's column matrix on wasm
    return isAutoFormulation(f) ? conv2dInputGradTaps(dy, filter, inputShape, s, pad, d) : conv2dInputGradIm2col(dy, filter, inputShape, s, pad, d);
  }
  if (ours && s[0] === 1 && s[1] === 1) return conv2dInputGradStride1(dy, filter, inputShape, pad, d);
  return tf.conv2dTranspose(dy, filter, inputShape as [number, number, number, number], s, pad);
}

/**
 * ∂filter of `tf.conv2d(x, filter, strides, pad, 'NHWC', dilation)` as forgetless's registered
 * gradient computes it: on wasm under 'auto', forgetless's SIMD kernels, one for 1×1 unit-stride
 * convolutions and one for every other convolution (`gemm-simd.ts`); else ours (`formulatedFilterGrad`: im2col, or
 * forward convolutions) where the backend has no Conv2DBackpropFilter kernel (wasm) or the conv is
 * dilated, tfjs's kernel otherwise.
 */
export function conv2dBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly number[],
  strides: number | readonly number[],
  pad: 'same' | 'valid',
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  const s = pair(strides);
  const d = pair(dilation);
  // 1×1 at unit stride on wasm under 'auto': xᵀ·dy by forgetless's SIMD kernel (`gemm-simd.ts`), through wasm's Conv2DBackpropFilter (ours)
  const pointwise = pointwiseHere('Conv2DBackpropFilter', filterShape, s, d, x, dy);
  // every other conv, any geometry, dilated too: patches a chunk at a time and the same micro-kernel, ∂W in cache-sized blocks, through the same kernel
  const patches = !pointwise && simdFilterGradHere(filterShape, x, dy);
  if (patches) return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: s, pad, dataFormat: 'NHWC', filterShape, dilations: d } as never) as tf.Tensor4D;
  if (!pointwise && (isDilated(d) || use(missing('Conv2DBackpropFilter')))) return formulatedFilterGrad(x, dy, filterShape, s, pad, d);
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: s, pad, dataFormat: 'NHWC', filterShape } as never) as tf.Tensor4D;
}

/**
 * ∂x of `tf.depthwiseConv2d` as the registered gradient computes it: on wasm under 'auto', forgetless's
 * SIMD kernel (`depthwise-simd.ts`, dilated too); else forward depthwise ops where the backend lacks
 * the kernel (wasm) or the conv is dilated; the backend's kernel otherwise.
 */
export function depthwiseBackpropInput(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: readonly number[],
  strides: number | readonly number[],
  pad: 'same' | 'valid',
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  const s = pair(strides);
  const d = pair(dilation);
  const simd = simdDepthwiseHere(dy, filter);
  if (!simd && (isDilated(d) || use(missing('DepthwiseConv2dNativeBackpropInput')))) return depthwiseInputGrad(dy, filter, inputShape, s, pad, d);
  return tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { strides: s, pad, dilations: d, inputShape } as never) as tf.Tensor4D;
}

/** ∂filter of `tf.depthwiseConv2d` as the registered gradient computes it (see `depthwiseBackpropInput`). */
export function depthwiseBackpropFilter(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly number[],
  strides: number | readonly number[],
  pad: 'same' | 'valid',
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  const s = pair(strides);
  const d = pair(dilation);
  const simd = simdDepthwiseHere(x, dy);
  if (!simd && (isDilated(d) || use(missing('DepthwiseConv2dNativeBackpropFilter')))) return formulatedDepthwiseFilterGrad(x, dy, filterShape, s, pad, d);
  return tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { strides: s, pad, dilations: d, filterShape } as never) as tf.Tensor4D;
}

/** Whether forgetless's SIMD depthwise kernels (registered on wasm, `wasm-kernels.ts`) run these tensors' depthwise backprop kernels here. */
function simdDepthwiseHere(...ts: tf.Tensor[]): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  ensureWasmKernels();
  return simdKernelsFor(tf.backend(), ...ts) !== undefined;
}

/**
 * Whether batch norm trains through `fusedTrainingBatchNorm` (its gradient in closed form, far fewer
 * ops): on wasm under the 'auto' formulation, and everywhere in 'custom' mode (tests).
 */
export function useFusedBatchNorm(x: tf.Tensor): boolean {
  return x.dtype === 'float32' && use(() => FAST_WASM_KERNELS.has(tf.getBackend()) && isAutoFormulation());
}

/**
 * Whether wasm's `kernel` is forgetless's here and its SIMD path takes these tensors (wasm, 'auto',
 * float32, the module running; `gemm-simd.ts`), for a convolution `takes` says that path serves.
 */
function convSimdHere(kernel: string, takes: boolean, tensors: tf.Tensor[]): boolean {
  if (!takes || mode === 'stock' || tf.getBackend() !== 'wasm') return false;
  const k = tf.getKernel(kernel, 'wasm');
  return k !== undefined && isForgetlessKernel(k) && pointwiseSimd(tf.backend(), ...tensors) !== undefined;
}

/** A 1×1 unit-stride convolution that forgetless's SIMD kernels take here. */
function pointwiseHere(kernel: string, filterShape: readonly number[], s: readonly number[], d: readonly number[], ...tensors: tf.Tensor[]): boolean {
  return convSimdHere(kernel, isPointwise(filterShape, { strides: s, dilations: d, pad: 'valid' }), tensors);
}

/** A convolution whose ∂W forgetless's patch kernel takes here (every NHWC one; `simdConvFilterGrad`, behind wasm's Conv2DBackpropFilter). */
function simdFilterGradHere(filterShape: readonly number[], ...tensors: tf.Tensor[]): boolean {
  return convSimdHere('Conv2DBackpropFilter', isSimdFilterGradConv(filterShape, {}), tensors);
}

/** A convolution whose ∂x forgetless's patch kernel takes here (every non-1×1 NHWC one; `simdConvInputGrad`, behind wasm's Conv2DBackpropInput). */
function simdInputGradHere(filterShape: readonly number[], ...tensors: tf.Tensor[]): boolean {
  return convSimdHere('Conv2DBackpropInput', isSimdInputGradConv(filterShape, {}), tensors);
}

/**
 * Whether a 1×1 unit-stride convolution with this filter runs forward, ∂x and ∂W on forgetless's SIMD
 * kernels here (wasm, 'auto', float32, the module running): then layers that could run it as a matMul
 * (SeparableConv2D's pointwise part) take the convolution, ~1.4× faster forward and backward on wasm
 * than the matMul, whose gradient needs explicit transposes.
 */
export function pointwiseConvOnSimd(filterShape: readonly number[], ...tensors: tf.Tensor[]): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  ensureWasmKernels();
  return ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'].every((k) => pointwiseHere(k, filterShape, [1, 1], [1, 1], ...tensors));
}

function use(customWhen: () => boolean): boolean {
  return mode === 'custom' || (mode === 'auto' && customWhen());
}

/**
 * The largest C·O (input times output units) of a dense layer whose gradients run on the 1×1
 * convolution kernels on wasm (1 MB of weights: they stay in L2 across the product). Measured at
 * batch 100, same process: 784→300 ∂W 2.48 → 2.16 ms and ∂x 3.13 → 1.94 ms, 300→150 ∂x 0.68 → 0.40;
 * at 1024→1024 the kernels, which do not block the reduction for cache, were 1.1–1.3× slower.
 */
export const DENSE_ON_POINTWISE_MAX = 1 << 18;

let denseOnPointwise = true;
/** Turns the dense gradients on the 1×1 convolution kernels off (explicit transposes and matMuls) or back on; for same-process before/after benchmarks. */
export function setDenseOnPointwise(on: boolean): void {
  denseOnPointwise = on;
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

/** Stride and dilation pairs, and whether our forward-op gradients handle these attributes. */
function convAttrs(attrs: tf.NamedAttrMap): { s: [number, number]; d: [number, number]; pad: 'same' | 'valid'; dilated: boolean } | undefined {
  const s = pair(attrs.strides as number | number[]);
  const d = pair((attrs.dilations ?? 1) as number | number[]);
  const nhwc = attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC';
  if (!nhwc || attrs.dimRoundingMode != null || (attrs.pad !== 'same' && attrs.pad !== 'valid')) return undefined;
  return { s, d, pad: attrs.pad as 'same' | 'valid', dilated: d[0] !== 1 || d[1] !== 1 };
}

/**
 * A reduction's input seen as [A, R, B] with the reduced axes as R, when they are one run of adjacent
 * axes (after sorting) of a non-empty tensor; undefined otherwise.
 */
function reducedRun(shape: readonly number[], axis: number | number[] | undefined): [number, number, number] | undefined {
  const axes = [...tf.util.parseAxisParam(axis as number | number[], shape as number[])].sort((a, b) => a - b);
  if (!axes.length || tf.util.sizeFromShape(shape as number[]) === 0) return undefined;
  if (axes.some((a, i) => i > 0 && a !== (axes[i - 1] as number) + 1)) return undefined;
  const lo = axes[0] as number;
  const hi = axes[axes.length - 1] as number;
  const size = tf.util.sizeFromShape;
  return [size(shape.slice(0, lo)), size(shape.slice(lo, hi + 1)), size(shape.slice(hi + 1))];
}

/** `n` copies of `s` ([A, 1, B]) side by side on axis 1, by Concat: directly up to 64, by doubling above. */
function repeatAxis1(s: tf.Tensor, n: number): tf.Tensor {
  if (n <= 64) return n === 1 ? s : tf.concat(new Array<tf.Tensor>(n).fill(s), 1);
  const half = repeatAxis1(s, n >> 1);
  return tf.concat(n & 1 ? [half, half, s] : [half, half], 1);
}

/** Registers the gradients above (idempotent; called when @forgetless/core is imported). */
export function registerForgetlessGradients(): void {
  if (registered) return;
  const kernels = ['BatchMatMul', 'Conv2D', 'MaxPool', 'DepthwiseConv2dNative', 'Conv2DBackpropInput', 'LeakyRelu', 'Relu6', 'ClipByValue', 'Mean', 'Sum', 'Add'];
  const stocks = kernels.map((k) => tf.getGradient(k));
  const absent = kernels.filter((_, i) => !stocks[i]);
  if (absent.length) throw new Error(`@forgetless/core: tfjs gradients are not registered (${absent.join('/')} missing)`);
  registered = true;
  // wasm's missing backprop kernels (and, when tfjs-backend-wasm is already loaded, its Slice and MaxPoolGrad)
  ensureWasmKernels();
  const [stockMatMul, stockConv, stockMaxPool, stockDw, stockBpi, stockLeaky, stockRelu6, stockClip, stockMean, stockSum, stockAdd] = stocks as tf.GradConfig[];
  const [sm, sc, sp, sd, sb, sl, s6, sClip, sMean, sSum, sAdd] = (stocks as tf.GradConfig[]).map((g) => g.gradFunc as unknown as GradFunc) as [
    GradFunc,
    GradFunc,
    GradFunc,
    GradFunc,
    GradFunc,
    GradFunc,
    GradFunc,
    GradFunc,
    GradFunc,
    GradFunc,
    GradFunc,
  ];
  const fastElementwise = (x: tf.Tensor) => x.dtype === 'float32' && use(() => FAST_WASM_KERNELS.has(tf.getBackend()) && isAutoFormulation());

  // Relu6: δ·(step(x) − step(x − 6)) is the stock δ·[0 < x ≤ 6] exactly, without wasm's slow LessEqual.
  registerOwnGradient({
    ...stockRelu6,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x] = saved as [tf.Tensor];
      if (!fastElementwise(x)) return s6(dy, saved, attrs);
      // one pass by forgetless's SIMD kernel where it runs ('auto' on wasm: `norm-simd.ts`)
      if (normSimdUsable(x, dy)) return { x: () => simdRelu6Grad(x, dy) };
      return { x: () => tf.mul(dy, tf.sub(tf.step(x), tf.step(tf.sub(x, 6)))) };
    }) as never,
  } as tf.GradConfig);

  // ClipByValue (stock tfjs-layers' ReLU(max_value) clips): δ·[lo ≤ x ≤ hi] in one pass by forgetless's
  // SIMD kernel on wasm under 'auto' where the stock where(x ≥ lo ∧ x ≤ hi, δ, 0) runs four slow kernels
  registerOwnGradient({
    ...stockClip,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x] = saved as [tf.Tensor];
      if (!fastElementwise(x) || !normSimdUsable(x, dy)) return sClip(dy, saved, attrs);
      return { x: () => simdClipGrad(x, dy, attrs.clipValueMin as number, attrs.clipValueMax as number) };
    }) as never,
  } as tf.GradConfig);

  // Mean (a global average pool's) and Sum: δ (÷ the reduced size) repeated over the reduced axes by
  // Concat, memory copies, where tfjs's gradients multiply by a tensor of ones of x's shape, filled in
  // JavaScript and multiplied by wasm's broadcasting Multiply element by element: 3.5 ms for
  // [8, 3, 3, 1280], 97 ms for [32, 7, 7, 1280], 0.2 and 1.8 ms by Concat (`scripts/reduce-grad-ab.mjs`).
  // The same values bit for bit (δ·1 ÷ n is δ ÷ n). Reduced axes that are not one run stay stock.
  for (const [stock, sf, divide] of [
    [stockMean, sMean, true],
    [stockSum, sSum, false],
  ] as const) {
    registerOwnGradient({
      ...stock,
      gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const [x] = saved as [tf.Tensor];
        const run = x.dtype === 'float32' && dy.dtype === 'float32' && fastElementwise(x) ? reducedRun(x.shape, attrs.axis as number | number[]) : undefined;
        if (!run) return sf(dy, saved, attrs);
        const [A, R, B] = run;
        return { x: () => tf.reshape(repeatAxis1(tf.reshape(divide ? tf.div(dy, R) : dy, [A, 1, B]), R), x.shape) };
      }) as never,
    } as tf.GradConfig);
  }

  // Add of two tensors of δ's shape (a residual connection): δ itself for a and a second tensor on δ's
  // memory for b, where tfjs's gradient reshapes δ to each input's shape, two Reshape kernel calls (the
  // same memory, and the engine's per-call work for each). Inputs that broadcast stay stock.
  registerOwnGradient({
    ...stockAdd,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const same = (t: tf.Tensor) => t.rank === dy.rank && t.shape.every((v, i) => v === dy.shape[i]);
      if (dy.dtype !== 'float32' || !same(a) || !same(b) || !use(() => FAST_WASM_KERNELS.has(tf.getBackend()))) return sAdd(dy, saved, attrs);
      return { a: () => dy, b: () => sharedTensor(dy) };
    }) as never,
  } as tf.GradConfig);

  // LeakyRelu: δ·step(x, α) (1 where x > 0, α elsewhere) is the stock where(x > 0, δ, α·δ) exactly, in
  // two fast wasm kernels where the stock one runs Greater and Select (10 ms for [32, 24, 24, 64]).
  registerOwnGradient({
    ...stockLeaky,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [x] = saved as [tf.Tensor];
      if (!fastElementwise(x)) return sl(dy, saved, attrs);
      return { x: () => tf.mul(dy, tf.step(x, attrs.alpha as number)) };
    }) as never,
  } as tf.GradConfig);

  registerOwnGradient({
    ...stockMatMul,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const plain = a.rank === 2 && b.rank === 2 && !attrs.transposeA && !attrs.transposeB;
      if (!plain || !use(() => EXPLICIT_TRANSPOSE.has(tf.getBackend()))) return sm(dy, saved, attrs);
      const [P, C] = a.shape as [number, number];
      const O = b.shape[1] as number;
      // a dense layer's product is a 1×1 convolution over P pixels: on the SIMD kernels, ∂W = aᵀ·δ reads
      // a and δ as they are and ∂a = δ·bᵀ transposes b into scratch (no transposed tensors, no XNNPACK
      // operator set up per call); up to C·O of DENSE_ON_POINTWISE_MAX, where they measured faster
      const asConv = denseOnPointwise && C * O <= DENSE_ON_POINTWISE_MAX && P > 0;
      const conv = { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] };
      return {
        a: () =>
          asConv && pointwiseHere('Conv2DBackpropInput', [1, 1, C, O], [1, 1], [1, 1], dy as tf.Tensor, b)
            ? tf.reshape(
                tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.reshape(dy as tf.Tensor, [1, 1, P, O]), filter: tf.reshape(b, [1, 1, C, O]) }, {
                  ...conv,
                  inputShape: [1, 1, P, C],
                } as never) as tf.Tensor,
                [P, C],
              )
            : tf.matMul(dy as tf.Tensor2D, tf.transpose(b as tf.Tensor2D)),
        b: () =>
          asConv && pointwiseHere('Conv2DBackpropFilter', [1, 1, C, O], [1, 1], [1, 1], a, dy as tf.Tensor)
            ? tf.reshape(
                tf.engine().runKernel('Conv2DBackpropFilter', { x: tf.reshape(a, [1, 1, P, C]), dy: tf.reshape(dy as tf.Tensor, [1, 1, P, O]) }, {
                  ...conv,
                  filterShape: [1, 1, C, O],
                } as never) as tf.Tensor,
                [C, O],
              )
            : tf.matMul(tf.transpose(a as tf.Tensor2D), dy as tf.Tensor2D),
      };
    }) as never,
  } as tf.GradConfig);

  registerOwnGradient({
    ...stockConv,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const g = convAttrs(attrs);
      if (!g) return sc(dy, saved, attrs);
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      return {
        x: () => conv2dBackpropInput(dy as tf.Tensor4D, filter, x.shape, g.s, g.pad, g.d),
        filter: () => conv2dBackpropFilter(x, dy as tf.Tensor4D, filter.shape, g.s, g.pad, g.d),
      };
    }) as never,
  } as tf.GradConfig);

  registerOwnGradient({
    ...stockDw,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const g = convAttrs(attrs);
      if (!g) return sd(dy, saved, attrs);
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      return {
        x: () => depthwiseBackpropInput(dy as tf.Tensor4D, filter, x.shape, g.s, g.pad, g.d),
        filter: () => depthwiseBackpropFilter(x, dy as tf.Tensor4D, filter.shape, g.s, g.pad, g.d),
      };
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
      return { ...out, filter: () => formulatedFilterGrad(ddx as tf.Tensor4D, dy, filter.shape, g.s, g.pad, g.d) };
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

  // AvgPool: the derivative of its forward (a window's sum over the taps inside the image, divided by their
  // number), in every gradient mode: tfjs's own divides by kh·kw everywhere, wrong for windows that overlap
  // 'same' or explicit padding (`avgPoolGrad`). On wasm under 'auto', one SIMD kernel.
  const stockAvgPool = tf.getGradient('AvgPool');
  if (stockAvgPool) {
    const sa = stockAvgPool.gradFunc as unknown as GradFunc;
    registerOwnGradient({
      ...stockAvgPool,
      gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const [x] = saved as [tf.Tensor];
        if (x?.rank !== 4 || dy.rank !== 4 || attrs.dimRoundingMode != null) return sa(dy, saved, attrs);
        const window = pair(attrs.filterSize as number | number[]);
        const strides = pair(attrs.strides as number | number[]);
        return { x: () => avgPoolGrad(x as tf.Tensor4D, dy as tf.Tensor4D, window, strides, attrs.pad as 'same' | 'valid' | number) };
      }) as never,
    } as tf.GradConfig);
  }

  // tfjs gradients that are wrong without a word, put right in every mode (`tfjs-fixes.ts`): MirrorPad's drops the
  // reflected borders' gradient; cpu's ResizeNearestNeighbor kernel is wrong for batches (run image by image)
  const fix = (kernel: string, input: string, grad: (dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => tf.Tensor) => {
    const stock = tf.getGradient(kernel);
    if (stock) registerOwnGradient({ ...stock, gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => ({ [input]: () => grad(dy, saved, attrs) })) as never });
  };
  fix('MirrorPad', 'x', (dy, [x], attrs) => mirrorPadGrad(dy, (x as tf.Tensor).shape, attrs.paddings as [number, number][], attrs.mode as 'reflect' | 'symmetric'));
  fix('ResizeNearestNeighbor', 'images', (dy, [images], attrs) => resizeNearestGrad(dy as tf.Tensor4D, images as tf.Tensor4D, attrs));
}
