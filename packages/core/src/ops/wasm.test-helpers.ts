import * as tf from '@tensorflow/tfjs-core';
import { ensureWasmKernels } from './wasm-kernels.js';

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
