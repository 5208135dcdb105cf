/**
 * Kernels forgetless registers for tfjs-backend-wasm (4.22), so that any tfjs code trains there,
 * stock tfjs-layers models included (whose fused convolutions call the backprop kernels directly,
 * not through a gradient forgetless could replace):
 * - Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter and DepthwiseConv2dNativeBackpropInput,
 *   which the wasm backend lacks, composed of the ops forgetless's own gradients use (`im2col.ts`,
 *   `conv2d.ts`, `depthwise.ts`: matMul, convolutions, slices and pads that wasm has);
 * - MaxPoolGrad in place of the wasm one, which loses gradient (`max-pool.ts`);
 * - Slice in place of the stock one (below).
 * A kernel function may return a tensor made by ops: tfjs's engine takes it as the output as it is.
 *
 * A Slice kernel for tfjs-backend-wasm that copies in place on the wasm heap. The stock one (tfjs
 * 4.22) first copies the WHOLE input out of the heap (`readSync`) for every slice, so taking the
 * kh·kw taps of a convolution's input costs kh·kw copies of the input (13 ms for 9 rows of a
 * [9, 32768] tensor), and above rank 4 it falls back to a generic JavaScript loop. This one copies
 * only the slice, as runs of contiguous floats (`copyWithin` on the heap), at any rank. Same
 * semantics as the stock kernel (begin/size as `tf.slice` takes them).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Padding } from './conv2d.js';
import { depthwiseFilterGrad, depthwiseInputGrad } from './depthwise.js';
import { getConvFormulation, onConvFormulation } from './formulation.js';
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
  const idx = new Array<number>(inner).fill(0);
  let o = dst;
  const runs = total / run;
  for (let r = 0; r < runs; r++) {
    let off = base;
    for (let i = 0; i < inner; i++) off += (idx[i] as number) * (strides[i] as number);
    heap.copyWithin(o, off, off + run);
    o += run;
    for (let i = inner - 1; i >= 0; i--) {
      idx[i] = (idx[i] as number) + 1;
      if ((idx[i] as number) < (size[i] as number)) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** The stock kernel, for the dtypes this one leaves to it (bool, string, complex64). */
let stock: tf.KernelFunc | undefined;

const config: tf.KernelConfig = { kernelName: tf.Slice, backendName: 'wasm', kernelFunc: sliceInPlace as unknown as tf.KernelFunc };

/**
 * Puts forgetless's wasm Slice kernel in place of the stock one (tfjs's own under the 'forward-conv'
 * formulation). Idempotent and cheap when already in place; called by `useBackend('wasm')`, by
 * `ensureOwnGradients()` and on every `setConvFormulation`, so importing tfjs-backend-wasm afterwards
 * does not bring the slow one back for long.
 */
export function ensureWasmKernels(): void {
  ensureBackpropKernels();
  if (getConvFormulation() === 'forward-conv') {
    restoreStockWasmKernels();
    return;
  }
  const current = tf.getKernel(tf.Slice, 'wasm');
  if (!current || current.kernelFunc === config.kernelFunc) return; // tfjs-backend-wasm not loaded, or done
  stock = current.kernelFunc;
  tf.unregisterKernel(tf.Slice, 'wasm');
  tf.registerKernel(config);
}

/**
 * Puts tfjs-backend-wasm's own Slice and MaxPoolGrad kernels back (forgetless 0.1's state, for
 * before/after comparisons; the kernels wasm lacks stay registered); `ensureWasmKernels` undoes it.
 */
export function restoreStockWasmKernels(): void {
  const current = tf.getKernel(tf.Slice, 'wasm');
  if (current && current.kernelFunc === config.kernelFunc && stock) {
    tf.unregisterKernel(tf.Slice, 'wasm');
    tf.registerKernel({ kernelName: tf.Slice, backendName: 'wasm', kernelFunc: stock });
  }
  for (const [name, k] of stockKernels) {
    if (tf.getKernel(name, 'wasm')?.kernelFunc === k.kernelFunc) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(k);
    // its setup (binding the wasm function) runs when the backend initialises: run it if that was while ours stood in
    const backend = tf.engine().registry.wasm;
    if (backend) k.setupFunc?.(backend);
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
    kernelFunc: (({ inputs, attrs }: KernelArgs) => {
      const g = geometry('Conv2DBackpropFilter', attrs);
      return tf.tidy(() => formulatedFilterGrad(t4(inputs.x), t4(inputs.dy), attrs.filterShape as number[], g.s, g.pad, g.d));
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropFilter',
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs }: KernelArgs) => {
      const g = geometry('DepthwiseConv2dNativeBackpropFilter', attrs);
      return tf.tidy(() => depthwiseFilterGrad(t4(inputs.x), t4(inputs.dy), attrs.filterShape as number[], g.s, g.pad, g.d));
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: 'DepthwiseConv2dNativeBackpropInput',
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs }: KernelArgs) => {
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

/** The wasm package's own kernels that forgetless's replace (MaxPoolGrad), by name. */
const stockKernels = new Map<string, tf.KernelConfig>();

const OURS = new Set<tf.KernelFunc>([config.kernelFunc, ...BACKPROP.map((k) => k.kernelFunc)]);

/** Whether a registered kernel is one of forgetless's (so gradients do not take it for the backend's own). */
export function isForgetlessKernel(k: tf.KernelConfig): boolean {
  return OURS.has(k.kernelFunc);
}

/**
 * Registers the backprop kernels above for wasm: the three it lacks at once (nothing else registers
 * those names), MaxPoolGrad in place of its own once tfjs-backend-wasm is loaded (registering it
 * first would only be overwritten, with a warning, when the package loads).
 */
function ensureBackpropKernels(): void {
  const wasmLoaded = tf.getKernel(tf.Slice, 'wasm') !== undefined;
  for (const k of BACKPROP) {
    const current = tf.getKernel(k.kernelName, 'wasm');
    if (current?.kernelFunc === k.kernelFunc) continue;
    if (k.kernelName === 'MaxPoolGrad' && !wasmLoaded) continue;
    if (current) {
      stockKernels.set(k.kernelName, current);
      tf.unregisterKernel(k.kernelName, 'wasm');
    }
    tf.registerKernel(k);
  }
}
