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

  it('runs wasm without SIMD in a fresh process when asked (flags set after the package registers them)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `import * as tf from '@tensorflow/tfjs-core'; const c = await import(${JSON.stringify(dist)}); console.log(await c.useBackend('wasm', { simd: false }), tf.env().getBool('WASM_HAS_SIMD_SUPPORT'));`],
      { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) },
    );
    expect(out.trim().split('\n').at(-1)).toBe('wasm false');
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
