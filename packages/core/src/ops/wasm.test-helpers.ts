import * as tf from '@tensorflow/tfjs-core';
import { ensureWasmKernels } from './wasm-kernels.js';
import { DEPTHWISE_SIMD_SHARED_WASM, DEPTHWISE_SIMD_WASM } from './depthwise-simd.wasm.js';

/** A tensor's values and shape off the backend, to carry between cpu and wasm. */
export type Host = { v: Float32Array; s: number[] };
export const host = (t: tf.Tensor): Host => ({ v: t.dataSync().slice() as Float32Array, s: t.shape });
export const dev = (h: Host): tf.Tensor => tf.tensor(h.v, h.s);

/** Runs `fn` on the wasm backend with forgetless's wasm kernels, then returns to cpu. */
export async function onWasm<T>(fn: () => T | Promise<T>): Promise<T> {
  await tf.setBackend('wasm');
  ensureWasmKernels();
  try {
    return await fn();
  } finally {
    await tf.setBackend('cpu');
  }
}

/**
 * A fresh instance of forgetless's SIMD module (the one-thread or the shared-memory variant) on a
 * small memory of its own, every float NaN: a caller of its exports by name, and the memory as floats.
 */
export function rawSimdModule(shared: boolean): { call: (kernel: string, ...args: number[]) => void; heap: Float32Array } {
  const b64 = shared ? DEPTHWISE_SIMD_SHARED_WASM : DEPTHWISE_SIMD_WASM;
  const memory = new WebAssembly.Memory({ initial: 8, maximum: 16, shared } as WebAssembly.MemoryDescriptor);
  const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
  const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as unknown as Record<string, (...args: number[]) => void>;
  const heap = new Float32Array(memory.buffer);
  heap.fill(Number.NaN);
  const call = (kernel: string, ...args: number[]) => {
    const f = ex[kernel];
    if (!f) throw new Error(`the SIMD module has no export '${kernel}'`);
    f(...args);
  };
  return { call, heap };
}

/** Throws naming the first float of `heap` that differs from `before` outside `ranges` ([first float, count] each). */
export function expectWritesOnly(heap: Float32Array, before: Float32Array, ranges: readonly (readonly [number, number])[], what: string): void {
  for (let i = 0; i < heap.length; i++) {
    if (ranges.some(([start, count]) => i >= start && i < start + count)) continue;
    if (!Object.is(heap[i], before[i])) throw new Error(`${what} wrote float ${i}, outside its output and scratch`);
  }
}

/**
 * The geometry arguments of the patch kernels of `gemm-simd.c` after their four pointers — N, H, W,
 * C, Ho, Wo, O, kh, kw, sh, sw, dh, dw, pt, pl — for input shape `x`, `o` output channels, strides
 * `s`, dilations `d`.
 */
export function patchKernelGeometry(
  c: { x: readonly number[]; o: number; s: readonly number[]; d: readonly number[] },
  info: tf.backend_util.Conv2DInfo,
  kh: number,
  kw: number,
): number[] {
  return [...c.x, info.outHeight, info.outWidth, c.o, kh, kw, ...c.s, ...c.d, info.padInfo.top, info.padInfo.left];
}
