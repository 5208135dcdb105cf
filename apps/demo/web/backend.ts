/**
 * Backends in the worker. Bundlers cannot follow `useBackend`'s lazy import by package name, so the
 * backends are imported here: cpu and wasm statically, with the wasm binaries served by Vite
 * (`?url`); WebGL lazily, as its own chunk, only when picked (an OffscreenCanvas context in the worker).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfjsWasm from '@tensorflow/tfjs-backend-wasm';
import { kernelThreadsStatus, useBackend } from '@forgetless/core';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { BackendChoice, ThreadsChoice } from './protocol.js';

tfjsWasm.setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
});
tf.env().set('PROD', true);

/**
 * Activates `choice`; falls back to wasm (with a note) when WebGL cannot start here. wasm runs on `threads`
 * threads (`auto`: tfjs's choice) where the page is cross-origin isolated, else on one, said in a note; the
 * count is fixed once wasm has started in this worker (a different count then throws, saying so).
 */
export async function activateBackend(choice: BackendChoice, threads: ThreadsChoice = 'auto'): Promise<{ name: string; note?: string; threads?: number }> {
  const active = await activate(choice, threads);
  if (active.name !== 'wasm') return active;
  const running = kernelThreadsStatus().threads;
  if (typeof threads === 'number' && threads > 1 && running === 1 && !globalThis.crossOriginIsolated) {
    const note = 'one thread: the page is not cross-origin isolated (served without COOP/COEP headers)';
    return { ...active, threads: running, note: active.note ? `${active.note}; ${note}` : note };
  }
  return { ...active, threads: running };
}

async function activate(choice: BackendChoice, threads: ThreadsChoice): Promise<{ name: string; note?: string }> {
  // the module itself: a bundle cannot import the package by name, and the thread count is set on it
  const wasm = () => useBackend('wasm', threads === 'auto' ? {} : { threads, module: tfjsWasm });
  if (choice === 'webgl') {
    try {
      await import('@tensorflow/tfjs-backend-webgl');
      if (await tf.setBackend('webgl')) {
        await tf.ready();
        return { name: tf.getBackend() };
      }
    } catch (e) {
      return { name: await wasm(), note: `WebGL unavailable in this worker (${(e as Error).message}); using wasm` };
    }
    return { name: await wasm(), note: 'WebGL unavailable in this worker; using wasm' };
  }
  return { name: choice === 'wasm' ? await wasm() : await useBackend(choice) };
}
