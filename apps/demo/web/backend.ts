/**
 * Backends in the worker. Bundlers cannot follow `useBackend`'s lazy import by package name, so the
 * backends are imported here: cpu and wasm statically, with the wasm binaries served by Vite
 * (`?url`); WebGL lazily, as its own chunk, only when picked (an OffscreenCanvas context in the worker).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { useBackend } from '@forgetless/core';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { BackendChoice } from './protocol.js';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
});
tf.env().set('PROD', true);

/** Activates `choice`; falls back to wasm (with a note) when WebGL cannot start here. */
export async function activateBackend(choice: BackendChoice): Promise<{ name: string; note?: string }> {
  if (choice === 'webgl') {
    try {
      await import('@tensorflow/tfjs-backend-webgl');
      if (await tf.setBackend('webgl')) {
        await tf.ready();
        return { name: tf.getBackend() };
      }
    } catch (e) {
      return { name: await useBackend('wasm'), note: `WebGL unavailable in this worker (${(e as Error).message}); using wasm` };
    }
    return { name: await useBackend('wasm'), note: 'WebGL unavailable in this worker; using wasm' };
  }
  return { name: await useBackend(choice) };
}
