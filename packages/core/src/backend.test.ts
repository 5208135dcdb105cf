import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type BackendName, probeBackends, useBackend } from './backend.js';

describe('useBackend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('loads wasm in Node with no path setup, and cpu', async () => {
    expect(await useBackend('wasm')).toBe('wasm');
    const y = tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync()[0]);
    expect(y).toBe(3);
    expect(await useBackend('cpu')).toBe('cpu');
  });

  it('explains how to install tfjs-node when it is missing, and why that may fail', async () => {
    await expect(useBackend('tensorflow')).rejects.toThrow(/npm install @tensorflow\/tfjs-node@\^4\.22\.0.*downloads the libtensorflow binary/);
    await expect(useBackend('tensorflow-gpu')).rejects.toThrow(/@tensorflow\/tfjs-node-gpu.*CUDA/);
    await expect(useBackend('webgpu' as BackendName)).rejects.toThrow("unknown backend 'webgpu'");
    const probe = await probeBackends();
    expect(probe.find((p) => p.name === 'wasm')?.available).toBe(true);
    expect(probe.find((p) => p.name === 'tensorflow')?.available).toBe(false);
  });
});
