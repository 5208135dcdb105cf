// A wasm allocation past tfjs-backend-wasm's 4 GB heap throws a clear error at once, instead of tfjs
// writing the kernel's output through the null pointer emscripten's malloc returns.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../backend.js';
import { WASM_HEAP_MAX_BYTES, WasmOutOfMemoryError, guardWasmMalloc } from './wasm-memory.js';

describe('the wasm heap limit', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('an op whose output the heap cannot hold throws WasmOutOfMemoryError naming the size; the backend goes on computing right', () => {
    const before = tf.memory().numTensors;
    let caught: unknown;
    try {
      // as many bytes as the heap's cap (4 GB less 64 KB): more than it can grow by, with anything in it
      tf.fill([WASM_HEAP_MAX_BYTES / 4], 1);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(WasmOutOfMemoryError);
    expect((caught as Error).message).toMatch(
      /^the wasm backend is out of memory: 4096 MB asked for with its heap grown to \d+ MB of the 4096 MB tfjs-backend-wasm allows; use smaller batches/,
    );
    expect(tf.memory().numTensors).toBe(before);
    const a = tf.tensor1d([1, 2, 3]);
    const sum = tf.add(a, a);
    expect(Array.from(sum.dataSync())).toEqual([2, 4, 6]);
    tf.dispose([a, sum]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('wraps a module once; a successful allocation passes through', () => {
    const calls: number[] = [];
    const module = {
      _malloc: (n: number) => {
        calls.push(n);
        return n < 100 ? 64 : 0;
      },
      HEAPU8: new Uint8Array(128),
    };
    const backend = { wasm: module };
    guardWasmMalloc(backend);
    const wrapped = module._malloc;
    guardWasmMalloc(backend);
    expect(module._malloc).toBe(wrapped);
    expect(module._malloc(8)).toBe(64);
    expect(module._malloc(0)).toBe(64);
    expect(() => module._malloc(200)).toThrow(WasmOutOfMemoryError);
    expect(() => module._malloc(2 ** 32)).toThrow(WasmOutOfMemoryError); // not passed on: it would wrap to 0
    expect(calls).toEqual([8, 0, 200]);
    expect(WASM_HEAP_MAX_BYTES).toBe(4294901760);
  });
});
