/**
 * Kernels forgetless registers for tfjs-backend-wasm (4.22), so that any tfjs code trains there,
 * stock tfjs-layers models included (whose fused convolutions call the backprop kernels directly,
 * not through a gradient forgetless could replace):
 * - Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter and DepthwiseConv2dNativeBackpropInput,
 *   which the wasm backend lacks: the depthwise ones, and Conv2DBackpropFilter of 1×1 unit-stride
 *   convolutions and of every other convolution, by forgetless's WebAssembly
 *   SIMD kernels under 'auto' (`depthwise-simd.ts`, `gemm-simd.ts`), otherwise composed of the ops
 *   forgetless's own gradients use (`im2col.ts`, `conv2d.ts`, `depthwise.ts`: matMul, convolutions,
 *   slices and pads that wasm has);
 * - DepthwiseConv2dNative by the SIMD kernel under 'auto' (the stock XNNPACK one otherwise);
 * - MaxPoolGrad in place of the wasm one, which loses gradient (`max-pool.ts`);
 * - Slice in place of the stock one (below).
 * A kernel function may return a tensor made by ops: tfjs's engine takes it as the output as it is.
 *
 * A Slice kernel for tfjs-backend-wasm that copies in place on the wasm heap. The stock one (tfjs
 * 4.22) first copies the WHOLE input out of the heap (`readSync`) for every slice, so taking the
 * kh·kw taps of a convolution's input costs kh·kw copies of the input (13 ms for 9 rows of a
 * [9, 32768] tensor), and above rank 4 it falls back to a generic JavaScript loop. This one copies
 * only the slice, as runs of contiguous floats (`copyWithin` on the heap, a plain loop for short
 * runs), at any rank. Same
 * semantics as the stock kernel (begin/size as `tf.slice` takes them).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Padding } from './conv2d.js';
import { depthwiseInputGrad, formulatedDepthwiseFilterGrad } from './depthwise.js';
import { simdDepthwiseFilterGrad, simdDepthwiseForward, simdDepthwiseInputGrad, simdKernelsFor } from './depthwise-simd.js';
import { getConvFormulation, isAutoFormulation, onConvFormulation } from './formulation.js';
import {
  isFewChannelConv,
  isPointwise,
  isSimdFilterGradConv,
  pointwiseSimd,
  simdConvFilterGrad,
  simdConvForward,
  simdPointwiseFilterGrad,
  simdPointwiseForward,
  simdPointwiseInputGrad,
  simdConvInputGrad,
  isSimdInputGradConv,
} from './gemm-simd.js';
import { simdRelu6 } from './norm-simd.js';
import { formulatedFilterGrad } from './im2col.js';
import { maxPoolGrad } from './max-pool.js';

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(id: unknown): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array };
}

function sliceInPlace(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    if (!stock) throw new Error(`wasm Slice (forgetless): no stock kernel for dtype ${x.dtype}`);
    return stock(args as never) as tf.TensorInfo;
  }
  const backend = args.backend as WasmBackendLike;
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, args.attrs.begin as number[], args.attrs.size as number[]) as [number[], number[]];
  const out = backend.makeOutput(size, x.dtype);
  const total = size.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  // heap view after makeOutput (a malloc may grow the heap and detach older views)
  const heap = new Int32Array(backend.wasm.HEAPU8.buffer); // float32 and int32: 4-byte elements
  const src = backend.dataIdMap.get(x.dataId).memoryOffset / 4;
  const dst = backend.dataIdMap.get(out.dataId).memoryOffset / 4;
  const shape = x.shape;
  const rank = shape.length;
  const strides = new Array<number>(rank);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i] as number;
  }
  // the trailing axes taken whole merge into one contiguous run
  let inner = rank - 1;
  let run = size[rank - 1] as number;
  while (inner > 0 && size[inner] === shape[inner] && begin[inner] === 0) {
    inner--;
    run *= size[inner] as number;
  }
  let base = src;
  for (let i = 0; i < rank; i++) base += (begin[i] as number) * (strides[i] as number);
  if (inner === 0) {
    heap.copyWithin(dst, base, base + run);
    return out;
  }
  if (inner <= 3) {
    // rank ≤ 4 after merging: three nested loops over the run starts (the common case, kept monomorphic)
    const lead = 3 - inner; // leading unit levels
    const n0 = lead > 0 ? 1 : (size[0] as number);
    const n1 = lead > 1 ? 1 : (size[inner - 2] as number);
    const n2 = size[inner - 1] as number;
    const s0 = lead > 0 ? 0 : (strides[0] as number);
    const s1 = lead > 1 ? 0 : (strides[inner - 2] as number);
    const s2 = strides[inner - 1] as number;
    copyRuns(heap, base, dst, run, n0, n1, n2, s0, s1, s2);
    return out;
  }
  const idx = new Array<number>(inner).fill(0);
  let o = dst;
  let off = base;
  const runs = total / run;
  for (let r = 0; r < runs; r++) {
    copyRun(heap, off, o, run);
    o += run;
    for (let i = inner - 1; i >= 0; i--) {
      idx[i] = (idx[i] as number) + 1;
      off += strides[i] as number;
      if ((idx[i] as number) < (size[i] as number)) break;
      off -= (size[i] as number) * (strides[i] as number);
      idx[i] = 0;
    }
  }
  return out;
}

/** Copies `run` elements from src to dst: by `copyWithin` (long runs) or a plain loop (short ones: ~0.2 µs a call saved, 15× faster for taps of small images). */
function copyRun(heap: Int32Array, src: number, dst: number, run: number): void {
  if (run >= SHORT_RUN) {
    heap.copyWithin(dst, src, src + run);
    return;
  }
  for (let k = 0; k < run; k++) heap[dst + k] = heap[src + k] as number;
}

/** Runs at src + i0·s0 + i1·s1 + i2·s2 (i0 < n0, i1 < n1, i2 < n2), written one after another from dst. */
function copyRuns(heap: Int32Array, src: number, dst: number, run: number, n0: number, n1: number, n2: number, s0: number, s1: number, s2: number): void {
  let o = dst;
  for (let i0 = 0; i0 < n0; i0++) {
    for (let i1 = 0; i1 < n1; i1++) {
      let off = src + i0 * s0 + i1 * s1;
      if (run >= SHORT_RUN) {
        for (let i2 = 0; i2 < n2; i2++, off += s2, o += run) heap.copyWithin(o, off, off + run);
      } else {
        for (let i2 = 0; i2 < n2; i2++, off += s2) {
          for (let k = 0; k < run; k++) heap[o++] = heap[off + k] as number;
        }
      }
    }
  }
}

/**
 * PadV2 (`tf.pad`, ZeroPadding2D) in place on the wasm heap under 'auto': the output filled with the
 * constant, then the input copied in as runs of contiguous floats (`copyRun`). The stock kernel
 * took ~1 ms per MobileNetV2 stride-2 padding of [8, 48, 48, 48] (5 a step).
 */
function padInPlace(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || getConvFormulation() !== 'auto') return stockKernel('PadV2', args);
  const backend = args.backend as WasmBackendLike;
  const pads = args.attrs.paddings as Array<[number, number]>;
  const rank = x.shape.length;
  if (pads.length !== rank || pads.some((p) => p[0] < 0 || p[1] < 0)) return stockKernel('PadV2', args);
  const outShape = x.shape.map((d, i) => d + (pads[i] as [number, number])[0] + (pads[i] as [number, number])[1]);
  const out = backend.makeOutput(outShape, x.dtype);
  const total = outShape.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  const dst = backend.dataIdMap.get(out.dataId).memoryOffset / 4;
  const value = (args.attrs.constantValue as number) ?? 0;
  if (x.dtype === 'float32') new Float32Array(backend.wasm.HEAPU8.buffer).fill(value, dst, dst + total);
  else new Int32Array(backend.wasm.HEAPU8.buffer).fill(value, dst, dst + total);
  const inTotal = x.shape.reduce((a, b) => a * b, 1);
  if (inTotal === 0) return out;
  const heap = new Int32Array(backend.wasm.HEAPU8.buffer); // 4-byte elements either way
  const src = backend.dataIdMap.get(x.dataId).memoryOffset / 4;
  const xs = new Array<number>(rank);
  const os = new Array<number>(rank);
  for (let i = rank - 1, a = 1, b = 1; i >= 0; i--) {
    xs[i] = a;
    os[i] = b;
    a *= x.shape[i] as number;
    b *= outShape[i] as number;
  }
  // the trailing unpadded axes and the last padded one copy as one run
  let m = rank - 1;
  while (m > 0 && (pads[m] as [number, number])[0] === 0 && (pads[m] as [number, number])[1] === 0) m--;
  const run = (x.shape[m] as number) * (xs[m] as number);
  let base = dst;
  for (let i = 0; i < rank; i++) base += (pads[i] as [number, number])[0] * (os[i] as number);
  const idx = new Array<number>(m).fill(0);
  const runs = inTotal / run;
  let s = src;
  let o = base;
  for (let r = 0; r < runs; r++) {
    copyRun(heap, s, o, run);
    s += run;
    for (let i = m - 1; i >= 0; i--) {
      idx[i] = (idx[i] as number) + 1;
      o += os[i] as number;
      if ((idx[i] as number) < (x.shape[i] as number)) break;
      o -= (x.shape[i] as number) * (os[i] as number);
      idx[i] = 0;
    }
  }
  return out;
}

/**
 * Tile under 'auto' where it repeats the whole input: reps > 1 only on leading axes of size 1, as
 * tfjs-core's batch-norm gradient (FusedBatchNorm's, which stock tfjs-layers' BatchNormalization
 * trains through) tiles 1/√(σ² + ε) from [1, 1, 1, C] to x's shape. The input is copied once and
 * the output doubled by `copyWithin`. The stock kernel took ~15 ms for [1, 1, 1, 16] → [8, 48, 48, 16]
 * (52 of them, ~0.8 s, in a stock tfjs-layers MobileNetV2 `fit` step); other tilings stay with it.
 */
function tileInPlace(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x as tf.TensorInfo;
  const reps = args.attrs.reps as number[];
  const rank = x.shape.length;
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || getConvFormulation() !== 'auto' || !Array.isArray(reps) || reps.length !== rank) return stockKernel('Tile', args);
  let k = rank; // axes from k on are not repeated
  while (k > 0 && reps[k - 1] === 1) k--;
  for (let i = 0; i < k; i++) if (x.shape[i] !== 1) return stockKernel('Tile', args);
  const backend = args.backend as WasmBackendLike;
  const out = backend.makeOutput(
    x.shape.map((d, i) => d * (reps[i] as number)),
    x.dtype,
  );
  const n = x.shape.reduce((a, b) => a * b, 1);
  const total = n * reps.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  const heap = new Int32Array(backend.wasm.HEAPU8.buffer); // 4-byte elements either way
  const dst = backend.dataIdMap.get(out.dataId).memoryOffset / 4;
  copyRun(heap, backend.dataIdMap.get(x.dataId).memoryOffset / 4, dst, n);
  for (let filled = n; filled < total; filled += Math.min(filled, total - filled)) heap.copyWithin(dst + filled, dst, dst + Math.min(filled, total - filled));
  return out;
}

/** Runs shorter than this many elements are copied element by element rather than by `copyWithin`. */
const SHORT_RUN = 256;

/** The stock kernel, for the dtypes this one leaves to it (bool, string, complex64). */
let stock: tf.KernelFunc | undefined;

const config: tf.KernelConfig = { kernelName: tf.Slice, backendName: 'wasm', kernelFunc: sliceInPlace as unknown as tf.KernelFunc };

/**
 * Puts forgetless's wasm kernels in place of the stock ones, as the formulation asks: all of them
 * under 'auto' (the default) and 'composed', the Slice and MaxPoolGrad but not `REPLACEMENTS` under 'im2col',
 * none under 'forward-conv' (tfjs's own, as in forgetless 0.1); the kernels wasm lacks always.
 * Idempotent and cheap when already in place; called by `useBackend('wasm')`, by
 * `ensureOwnGradients()` and on every `setConvFormulation`, so importing tfjs-backend-wasm afterwards
 * does not bring the slow ones back for long.
 */
export function ensureWasmKernels(): void {
  const f = getConvFormulation();
  ensureBackpropKernels(isAutoFormulation(f));
  if (f === 'forward-conv') {
    restoreStockWasmKernels();
    return;
  }
  if (!isAutoFormulation(f)) restoreStock((name) => REPLACED.has(name));
  const current = tf.getKernel(tf.Slice, 'wasm');
  if (!current || current.kernelFunc === config.kernelFunc) return; // tfjs-backend-wasm not loaded, or done
  stock = current.kernelFunc;
  tf.unregisterKernel(tf.Slice, 'wasm');
  tf.registerKernel(config);
}

/**
 * Puts tfjs-backend-wasm's own kernels back where forgetless's replaced them (Slice, MaxPoolGrad,
 * Identity, Sum, Mean, LeakyRelu: forgetless 0.1's state, for before/after comparisons; the kernels
 * wasm lacks stay registered); `ensureWasmKernels` undoes it.
 */
export function restoreStockWasmKernels(): void {
  const current = tf.getKernel(tf.Slice, 'wasm');
  if (current && current.kernelFunc === config.kernelFunc && stock) {
    tf.unregisterKernel(tf.Slice, 'wasm');
    tf.registerKernel({ kernelName: tf.Slice, backendName: 'wasm', kernelFunc: stock });
  }
  restoreStock(() => true);
}

function restoreStock(which: (name: string) => boolean): void {
  for (const [name, k] of stockKernels) {
    if (!which(name) || tf.getKernel(name, 'wasm')?.kernelFunc === k.kernelFunc) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(k);
    // its setup (binding the wasm function) runs when the backend initialises: run it if that was while ours stood in
    const backend = tf.engine().registry.wasm;
    if (backend) {
      k.setupFunc?.(backend);
      stockSetUp.set(name, backend);
    }
  }
}

onConvFormulation(() => ensureWasmKernels());

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };

/** 'same'/'valid' NHWC geometry of a backprop kernel's attributes, or an error naming what is not supported. */
function geometry(kernel: string, attrs: tf.NamedAttrMap): { s: [number, number]; d: [number, number]; pad: Padding } {
  const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0] as number, v[1] as number] : [(v as number) ?? 1, (v as number) ?? 1]);
  if (attrs.pad !== 'same' && attrs.pad !== 'valid')
    throw new Error(`${kernel} on wasm (forgetless): padding ${JSON.stringify(attrs.pad)} is not supported, only 'same' and 'valid'`);
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') throw new Error(`${kernel} on wasm (forgetless): only NHWC is supported`);
  if (attrs.dimRoundingMode != null) throw new Error(`${kernel} on wasm (forgetless): dimRoundingMode is not supported`);
  return { s: pair(attrs.strides), d: pair(attrs.dilations ?? 1), pad: attrs.pad as Padding };
}

const t4 = (t: unknown) => t as tf.Tensor4D;

const BACKPROP: tf.KernelConfig[] = [
  {
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }: KernelArgs) => {
      // 1×1 at unit stride: xᵀ·dy by forgetless's SIMD kernel under 'auto' (`gemm-simd.ts`)
      const simd = isPointwise(attrs.filterShape as number[], attrs) ? pointwiseSimd(backend, inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo) : undefined;
      if (simd) return simdPointwiseFilterGrad(simd, backend, inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo, attrs.filterShape as number[]);
      // every other conv (a stem, 3×3 512 → 512, strided, dilated): patches a chunk at a time + the same micro-kernel, ∂W in cache-sized blocks (`gemm-simd.ts`)
      const patches = isSimdFilterGradConv(attrs.filterShape as number[], attrs) ? pointwiseSimd(backend, inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo) : undefined;
      if (patches) return simdConvFilterGrad(patches, backend, inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo, attrs.filterShape as number[], attrs);
      const g = geometry('Conv2DBackpropFilter', attrs);
      return tf.tidy(() => formulatedFilterGrad(t4(inputs.x), t4(inputs.dy), attrs.filterShape as number[], g.s, g.pad, g.d));
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropFilter',
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }: KernelArgs) => {
      const simd = simdKernelsFor(backend, inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo);
      if (simd) return simdDepthwiseFilterGrad(simd, backend, inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo, attrs as never);
      const g = geometry('DepthwiseConv2dNativeBackpropFilter', attrs);
      return tf.tidy(() => formulatedDepthwiseFilterGrad(t4(inputs.x), t4(inputs.dy), attrs.filterShape as number[], g.s, g.pad, g.d));
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropInput',
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }: KernelArgs) => {
      const simd = simdKernelsFor(backend, inputs.dy as tf.TensorInfo, inputs.filter as tf.TensorInfo);
      if (simd) return simdDepthwiseInputGrad(simd, backend, inputs.dy as tf.TensorInfo, inputs.filter as tf.TensorInfo, attrs as never);
      const g = geometry('DepthwiseConv2dNativeBackpropInput', attrs);
      return tf.tidy(() => depthwiseInputGrad(t4(inputs.dy), t4(inputs.filter), attrs.inputShape as number[], g.s, g.pad, g.d));
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: 'MaxPoolGrad',
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs }: KernelArgs) => {
      const g = geometry('MaxPoolGrad', attrs);
      const size = attrs.filterSize as number | [number, number];
      return tf.tidy(() => maxPoolGrad(t4(inputs.input), t4(inputs.output), t4(inputs.dy), size, g.s, g.pad));
    }) as unknown as tf.KernelFunc,
  },
];

/** The backend each stock kernel's setup last ran for (through `stockKernel`). */
const stockSetUp = new Map<string, unknown>();

/** The stock kernel `name` this process replaced, for the inputs ours leaves to it. */
function stockKernel(name: string, args: KernelArgs): tf.TensorInfo {
  const k = stockKernels.get(name);
  if (!k) throw new Error(`wasm ${name} (forgetless): no stock kernel to fall back to`);
  // its setup (binding the wasm function) runs when the backend initialises, unless ours stood in then
  if (k.setupFunc && stockSetUp.get(name) !== args.backend) {
    k.setupFunc(args.backend as never);
    stockSetUp.set(name, args.backend);
  }
  return k.kernelFunc(args as never) as tf.TensorInfo;
}

/**
 * The reduction axes of a Sum/Mean when they are one run of adjacent axes lo … hi short of the last
 * (the leading ones: batch norm and bias gradients over N·H·W; the middle ones: a global average
 * pool over H, W), as the [A, P, C] view (A the axes before, P the reduced, C those after): they
 * reduce as one average pooling of the [A, P, C / cb, cb] view over a [P, 1] window (XNNPACK's,
 * vectorised; ×P for a sum), 6–10× faster than wasm's Sum and Mean, which transpose the input first
 * whenever the reduced axes are not the innermost (3.8 against 0.4–0.6 ms for a [32, 24, 24, 64]
 * tensor over [0, 1, 2]; 0.22 against 0.03 ms for MobileNetV2's pool of [8, 3, 3, 1280] over [1, 2]).
 * (A GEMV ones[1, P]·X is as fast only when X was seen before: XNNPACK packs the right-hand side of
 * every new matMul, 8 ms here.)
 */
function runReduction(x: tf.TensorInfo, axis: unknown): { a: number; p: number; c: number; lo: number; hi: number; cb: number } | undefined {
  if (x.dtype !== 'float32') return undefined;
  const rank = x.shape.length;
  const axes = [...new Set(tf.util.parseAxisParam(axis as number | number[], x.shape))].sort((a, b) => a - b);
  if (axes.length === 0) return undefined;
  const lo = axes[0] as number;
  const hi = axes[axes.length - 1] as number;
  if (hi >= rank - 1 || axes.some((v, i) => v !== lo + i)) return undefined;
  const size = (from: number, to: number) => x.shape.slice(from, to).reduce((u, v) => u * v, 1);
  const [a, p, c] = [size(0, lo), size(lo, hi + 1), size(hi + 1, rank)];
  if (p < 2 || c === 0 || a === 0) return undefined;
  // channels per pooling position: at most POOL_MAX_CHANNELS, the columns split into [C / cb, cb]
  let cb = Math.min(c, POOL_MAX_CHANNELS);
  while (c % cb !== 0) cb--;
  if (cb < 64 && cb !== c) return undefined;
  return { a, p, c, lo, hi, cb };
}

/**
 * tfjs-backend-wasm's AvgPool (XNNPACK, 4.22) writes out of bounds with 16384 channels or more and a
 * window of 9 or more (it corrupts the heap: a later free fails with "memory access out of bounds"),
 * so wider [P, C] reductions pool [1, P, C / cb, cb] views with cb ≤ this.
 */
const POOL_MAX_CHANNELS = 8192;

function reduceRun(kernel: 'Sum' | 'Mean', { inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo;
  const r = runReduction(x, attrs.axis);
  if (!r) return stockKernel(kernel, { inputs, attrs, backend });
  return tf.tidy(() => {
    const view = tf.reshape(t4(x) as tf.Tensor, [r.a, r.p, r.c / r.cb, r.cb]) as tf.Tensor4D;
    let s: tf.Tensor = tf.avgPool(view, [r.p, 1], 1, 'valid');
    if (kernel === 'Sum') s = tf.mul(s, r.p);
    const shape = attrs.keepDims ? x.shape.map((d, i) => (i >= r.lo && i <= r.hi ? 1 : d)) : x.shape.filter((_, i) => i < r.lo || i > r.hi);
    return tf.reshape(s, shape);
  }) as unknown as tf.TensorInfo;
}

/**
 * Kernels that replace tfjs-backend-wasm's own once it is loaded (all restored by
 * `restoreStockWasmKernels`, i.e. under the 'forward-conv' formulation), because the stock ones cost
 * a training step far more than their work:
 * - Identity shares the input's memory (a reference count, as the cpu backend and wasm's own Reshape
 *   do) where the stock one copies it: tfjs clones every tensor it saves for the backward pass, so
 *   a conv-net step ran ~130 full-size copies (11 ms of paper 2's step); so does Cast to the same
 *   dtype (which tfjs's ops call on every float input);
 * - Sum and Mean over one run of adjacent axes short of the last as an average pooling (`runReduction`);
 * - LeakyRelu as x·step(x, α) (two fast kernels, 2 against 9.6 ms for [32, 24, 24, 64]; the stock one
 *   is a scalar loop); its gradient is forgetless's (`gradients.ts`);
 * - DepthwiseConv2dNative by forgetless's SIMD kernel under 'auto' (`depthwise-simd.ts`), the stock
 *   one under 'composed' or where the module cannot run;
 * - Conv2D and Conv2DBackpropInput of 1×1 unit-stride convolutions by forgetless's SIMD kernels under
 *   'auto' (`gemm-simd.ts`: x·W, 20–35 % faster than XNNPACK's at MobileNetV2's shapes; dy·Wᵀ, which
 *   stock tfjs-layers models call directly), the stock ones otherwise; Conv2D of convolutions with
 *   fewer than 8 input channels (a network's stem, any geometry, explicit padding too) likewise
 *   (`simdConvForward`: 20–50 % faster than XNNPACK's at the stems of MobileNetV2, InceptionV3, ResNet
 *   and paper 2's conv net); FusedConv2D stays XNNPACK's; Conv2DBackpropInput of every other NHWC
 *   convolution (any kernel, stride, dilation, padding) by `simdConvInputGrad` (col2im of δ·Wᵀ a
 *   chunk at a time; the stock kernel is ~5× slower than forgetless's taps, which it beats too);
 * - PadV2 under 'auto' copying runs in place on the heap (`padInPlace`), the stock one otherwise;
 * - Tile under 'auto' where it repeats the whole input (`tileInPlace`: tfjs's batch-norm gradient), the stock one otherwise;
 * - Relu6 likewise by forgetless's SIMD kernel (`norm-simd.ts`; the stock one is a scalar loop, ~4×
 *   slower), the stock one under 'composed'.
 */
const REPLACEMENTS: tf.KernelConfig[] = [
  {
    kernelName: 'Identity',
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.dtype === 'string') return stockKernel('Identity', args);
      (args.backend as { incRef(id: unknown): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: 'Cast',
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.dtype === 'string' || x.dtype !== args.attrs.dtype) return stockKernel('Cast', args);
      (args.backend as { incRef(id: unknown): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }) as unknown as tf.KernelFunc,
  },
  { kernelName: 'Sum', backendName: 'wasm', kernelFunc: ((args: KernelArgs) => reduceRun('Sum', args)) as unknown as tf.KernelFunc },
  { kernelName: 'Mean', backendName: 'wasm', kernelFunc: ((args: KernelArgs) => reduceRun('Mean', args)) as unknown as tf.KernelFunc },
  {
    kernelName: 'DepthwiseConv2dNative',
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => {
      const x = args.inputs.x as tf.TensorInfo;
      const filter = args.inputs.filter as tf.TensorInfo;
      const simd = simdKernelsFor(args.backend, x, filter);
      return simd ? simdDepthwiseForward(simd, args.backend, x, filter, args.attrs as never) : stockKernel('DepthwiseConv2dNative', args);
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: 'Conv2D',
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => {
      const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      const simd = isPointwise(filter.shape, args.attrs) ? pointwiseSimd(args.backend, x, filter) : undefined;
      if (simd) return simdPointwiseForward(simd, args.backend, x, filter);
      // few input channels (a network's stem): patches a chunk at a time + the 1×1 forward's micro-kernel
      const few = isFewChannelConv(filter.shape, args.attrs) ? pointwiseSimd(args.backend, x, filter) : undefined;
      return few ? simdConvForward(few, args.backend, x, filter, args.attrs) : stockKernel('Conv2D', args);
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => {
      const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const simd = isPointwise(filter.shape, args.attrs) ? pointwiseSimd(args.backend, dy, filter) : undefined;
      if (simd) return simdPointwiseInputGrad(simd, args.backend, dy, filter, args.attrs.inputShape as number[]);
      // every other conv: the patch gradients dy·Wᵀ a chunk at a time, added back where the patches came from (col2im)
      const patches = isSimdInputGradConv(filter.shape, args.attrs) ? pointwiseSimd(args.backend, dy, filter) : undefined;
      return patches ? simdConvInputGrad(patches, args.backend, dy, filter, args.attrs.inputShape as number[], args.attrs) : stockKernel('Conv2DBackpropInput', args);
    }) as unknown as tf.KernelFunc,
  },
  { kernelName: 'PadV2', backendName: 'wasm', kernelFunc: padInPlace as unknown as tf.KernelFunc },
  { kernelName: 'Tile', backendName: 'wasm', kernelFunc: tileInPlace as unknown as tf.KernelFunc },
  {
    kernelName: 'Relu6',
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => {
      const x = args.inputs.x as tf.TensorInfo;
      const simd = simdKernelsFor(args.backend, x);
      return simd ? simdRelu6(simd, args.backend, x) : stockKernel('Relu6', args);
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: 'LeakyRelu',
    backendName: 'wasm',
    kernelFunc: ((args: KernelArgs) => {
      const x = args.inputs.x as tf.TensorInfo;
      if (x.dtype !== 'float32') return stockKernel('LeakyRelu', args);
      const alpha = args.attrs.alpha as number;
      return tf.tidy(() => tf.mul(t4(x), tf.step(t4(x), alpha))) as unknown as tf.TensorInfo;
    }) as unknown as tf.KernelFunc,
  },
];

/** The wasm package's own kernels that forgetless's replace (MaxPoolGrad and `REPLACEMENTS`), by name. */
const stockKernels = new Map<string, tf.KernelConfig>();

const REPLACED = new Set(REPLACEMENTS.map((k) => k.kernelName));

const OURS = new Set<tf.KernelFunc>([config.kernelFunc, ...BACKPROP.map((k) => k.kernelFunc), ...REPLACEMENTS.map((k) => k.kernelFunc)]);

/** Whether a registered kernel is one of forgetless's (so gradients do not take it for the backend's own). */
export function isForgetlessKernel(k: tf.KernelConfig): boolean {
  return OURS.has(k.kernelFunc);
}

/**
 * Registers the backprop kernels above for wasm: the three it lacks at once (nothing else registers
 * those names), MaxPoolGrad in place of its own once tfjs-backend-wasm is loaded (registering it
 * first would only be overwritten, with a warning, when the package loads).
 */
function ensureBackpropKernels(withReplacements: boolean): void {
  const wasmLoaded = tf.getKernel(tf.Slice, 'wasm') !== undefined;
  for (const k of withReplacements ? [...BACKPROP, ...REPLACEMENTS] : BACKPROP) {
    const current = tf.getKernel(k.kernelName, 'wasm');
    if (current?.kernelFunc === k.kernelFunc) continue;
    if ((k.kernelName === 'MaxPoolGrad' || REPLACEMENTS.includes(k)) && !wasmLoaded) continue;
    if (current) {
      stockKernels.set(k.kernelName, current);
      tf.unregisterKernel(k.kernelName, 'wasm');
    }
    // the stock kernel's setup (binding its wasm function) runs when the backend initialises, for the kernel
    // registered then: ours carries it, since other stock kernels call the stock one's function directly
    // (SpaceToBatchND pads through PadV2's: without its setup, "wasmPadV2 is not a function")
    const setup = current?.setupFunc;
    tf.registerKernel(
      setup
        ? {
            ...k,
            setupFunc: (backend: unknown) => {
              setup(backend as never);
              stockSetUp.set(k.kernelName, backend);
            },
          }
        : k,
    );
  }
}
