/**
 * A Slice kernel for tfjs-backend-wasm that copies in place on the wasm heap. The stock one (tfjs
 * 4.22) first copies the WHOLE input out of the heap (`readSync`) for every slice, so taking the
 * kh·kw taps of a convolution's input costs kh·kw copies of the input (13 ms for 9 rows of a
 * [9, 32768] tensor), and above rank 4 it falls back to a generic JavaScript loop. This one copies
 * only the slice, as runs of contiguous floats (`copyWithin` on the heap), at any rank. Same
 * semantics as the stock kernel (begin/size as `tf.slice` takes them).
 */
import * as tf from '@tensorflow/tfjs-core';
import { getConvFormulation, onConvFormulation } from './formulation.js';

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

/** Puts tfjs-backend-wasm's own Slice kernel back (for before/after comparisons); `ensureWasmKernels` undoes it. */
export function restoreStockWasmKernels(): void {
  const current = tf.getKernel(tf.Slice, 'wasm');
  if (!current || current.kernelFunc !== config.kernelFunc || !stock) return;
  tf.unregisterKernel(tf.Slice, 'wasm');
  tf.registerKernel({ kernelName: tf.Slice, backendName: 'wasm', kernelFunc: stock });
}

onConvFormulation(() => ensureWasmKernels());
