import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { type BackendName, backendImportError, probeBackends, useBackend } from './backend.js';

/** Runs an ES module script in a fresh Node process (wasm not yet initialised there); returns its last line. */
async function fresh(script: string): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const c = await import(${JSON.stringify(dist)});\n${script}`], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.trim().split('\n').at(-1) ?? '';
}

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

  it("on wasm, puts forgetless's gradients back where tfjs's own were registered again (tfjs-layers imported after @forgetless/core)", async () => {
    await import('./gradients.js');
    const { ownGradientKernels } = await import('./ops/own-gradients.js');
    const ours = tf.getGradient('ClipByValue');
    expect(ownGradientKernels()).toContain('ClipByValue');
    // what tfjs-core's register_all_gradients does when a later import runs it
    tf.registerGradient({ ...(ours as tf.GradConfig), gradFunc: () => ({}) });
    expect(tf.getGradient('ClipByValue')).not.toBe(ours);
    expect(await useBackend('wasm')).toBe('wasm');
    expect(tf.getGradient('ClipByValue')).toBe(ours);
    await useBackend('cpu');
  });

  it('runs wasm without SIMD in a fresh process when asked (flags set after the package registers them)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import * as tf from '@tensorflow/tfjs-core'; const c = await import(${JSON.stringify(dist)}); console.log(await c.useBackend('wasm', { simd: false }), tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), c.depthwiseSimdAvailable());`,
      ],
      { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) },
    );
    expect(out.trim().split('\n').at(-1)).toBe('wasm false false'); // forgetless's SIMD depthwise kernels stand down too
  });

  it('runs the threaded wasm build in Node on the threads asked for, computes right and lets the process exit', async () => {
    const line = await fresh(
      "import * as tf from '@tensorflow/tfjs-core'; const w = await import('@tensorflow/tfjs-backend-wasm'); " +
        "const b = await c.useBackend('wasm', { threads: 2 }); " +
        'const a = tf.randomNormal([64, 48], 0, 1, "float32", 1), m = tf.randomNormal([48, 40], 0, 1, "float32", 2); ' +
        'const y = tf.matMul(a, m).dataSync(); const ref = a.arraySync(), r = m.arraySync(); let e = 0; ' +
        'for (let i = 0; i < 64; i++) for (let j = 0; j < 40; j++) { let s = 0; for (let k = 0; k < 48; k++) s += ref[i][k] * r[k][j]; e = Math.max(e, Math.abs(s - y[i * 40 + j])); } ' +
        'console.log(b, w.getThreadsCount(), e < 1e-4);',
    );
    expect(line).toBe('wasm 2 true');
    await expect(fresh("await c.useBackend('wasm', { threads: 2, simd: false });")).rejects.toThrow(/needs SIMD/);
    // forgetless's SIMD depthwise kernels bind to the threaded build's shared memory, and agree with the composed formulation
    const dw = await fresh(
      "import * as tf from '@tensorflow/tfjs-core'; await c.useBackend('wasm', { threads: 2 }); " +
        'const x = tf.randomNormal([2, 9, 9, 6], 0, 1, "float32", 3), f = tf.randomNormal([3, 3, 6, 2], 0, 1, "float32", 4); ' +
        'const run = () => tf.grads((a, b) => tf.sum(tf.square(tf.depthwiseConv2d(a, b, 2, "same"))))([x, f]).map((t) => t.dataSync()); ' +
        'const on = c.depthwiseSimdAvailable(), shared = tf.backend().wasm.HEAPU8.buffer instanceof SharedArrayBuffer; ' +
        'const simd = run(); c.setConvFormulation("composed"); const composed = run(); let e = 0; ' +
        'for (let i = 0; i < 2; i++) for (let j = 0; j < simd[i].length; j++) e = Math.max(e, Math.abs(simd[i][j] - composed[i][j]) / (1 + Math.abs(composed[i][j]))); ' +
        'console.log(on, shared, e < 1e-5);',
    );
    expect(dw).toBe('true true true');
  });

  it('explains how to install tfjs-node when it is missing, and why that may fail', async () => {
    await expect(useBackend('tensorflow')).rejects.toThrow(/npm install @tensorflow\/tfjs-node@\^4\.22\.0.*downloads the libtensorflow binary/);
    await expect(useBackend('tensorflow-gpu')).rejects.toThrow(/@tensorflow\/tfjs-node-gpu.*CUDA/);
    await expect(useBackend('nonesuch' as BackendName)).rejects.toThrow("unknown backend 'nonesuch'");
    const probe = await probeBackends();
    expect(probe.find((p) => p.name === 'wasm')?.available).toBe(true);
    expect(probe.find((p) => p.name === 'tensorflow')?.available).toBe(false);
  });

  it('knows webgl and webgpu: in Node it says why they cannot run, without importing them', async () => {
    await expect(useBackend('webgl')).rejects.toThrow("backend 'webgl' cannot run here: WebGL needs a browser");
    await expect(useBackend('webgpu')).rejects.toThrow("backend 'webgpu' cannot run here: WebGPU needs a browser");
    expect(tf.findBackendFactory('webgl')).toBeNull();
    const probe = await probeBackends();
    expect(probe.find((p) => p.name === 'webgl')).toEqual({ name: 'webgl', available: false, reason: expect.stringMatching(/WebGL needs a browser/) });
    expect(probe.find((p) => p.name === 'webgpu')?.available).toBe(false);
  });

  it('uses a backend the application registered, without importing anything by name', async () => {
    tf.registerBackend('app-cpu', () => new MathBackendCPU(), 0);
    try {
      expect(await useBackend('app-cpu' as BackendName)).toBe('app-cpu');
    } finally {
      await tf.setBackend('cpu');
      tf.removeBackend('app-cpu');
    }
  });

  it('tells a bundled app to import the backend package itself, not to install it', () => {
    const inBrowser = backendImportError('wasm', new TypeError("Failed to resolve module specifier '@tensorflow/tfjs-backend-wasm'"), false).message;
    expect(inBrowser).toContain("import '@tensorflow/tfjs-backend-wasm';");
    expect(inBrowser).toContain("before calling useBackend('wasm')");
    const inNode = backendImportError('wasm', Object.assign(new Error("Cannot find package '@tensorflow/tfjs-backend-wasm'"), { code: 'ERR_MODULE_NOT_FOUND' }), true).message;
    expect(inNode).toMatch(/needs the package @tensorflow\/tfjs-backend-wasm, which is not installed: install it with `npm install @tensorflow\/tfjs-backend-wasm@\^4\.22\.0`/);
  });

  it('sets wasm asset paths (wasmPaths) before the backend first initialises, through the module when given', async () => {
    const { createRequire } = await import('node:module');
    const { dirname } = await import('node:path');
    const wasmDir = `${dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`;
    // a folder that has the binaries works; one that has not makes the backend fail to initialise
    expect(await fresh(`console.log(await c.useBackend('wasm', { wasmPaths: ${JSON.stringify(wasmDir)} }));`)).toBe('wasm');
    expect(
      await fresh(
        `console.log(await c.useBackend('wasm', { wasmPaths: '/nonexistent/' }).then(() => 'ok', (e) => e.message.includes('failed to initialise') ? 'failed' : e.message));`,
      ),
    ).toBe('failed');
    // a module given by the application (as in a bundle) is the one whose setWasmPaths is called
    expect(
      await fresh(
        `import * as tf from '@tensorflow/tfjs-core'; await import('@tensorflow/tfjs-backend-wasm'); const seen = [];
         const wasm = await import('@tensorflow/tfjs-backend-wasm');
         await c.useBackend('wasm', { wasmPaths: ${JSON.stringify(wasmDir)}, module: { setWasmPaths: (p) => { seen.push(p); wasm.setWasmPaths(p); } } });
         console.log(JSON.stringify(seen), tf.getBackend());`,
      ),
    ).toBe(`${JSON.stringify([wasmDir])} wasm`);
  });
});
