// The fast paths on the wasm backend (its depthwise convolution, strided slices and matmuls).
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { DepthwiseConv2d, SeparableConv2d, dense, disposeParams, flatten, sequential, setConvFormulation } from '@forgetless/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { convNet, mlpNet, randomSource } from '../test/nets.js';
import { fisherDiagonal } from './fisher.js';
import { mas } from './mas.js';
import { sig } from './sig.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('per-example fast paths on wasm', () => {
  const cases = (['strided-same', 'valid-pool'] as const).flatMap((kind) => (['auto', 'im2col', 'forward-conv'] as const).map((f) => [kind, f] as const));
  it.each(cases)('conv net (%s, %s formulation): Fisher and MAS equal the per-example loop (rel err <= 1e-5)', async (kind, formulation) => {
    expect(tf.getBackend()).toBe('wasm');
    const model = convNet(kind, 3);
    const source = randomSource(6, model.inputShape, 4, 2);
    for (const run of [(path: 'fast' | 'loop') => fisherDiagonal(model, source, { path, batchSize: 4 }), (path: 'fast' | 'loop') => mas(model, source, { path, batchSize: 4 })]) {
      setConvFormulation(formulation); // an async run: set, not withConvFormulation (it would restore at the first await)
      const fast = await run('fast').finally(() => setConvFormulation('auto'));
      const loop = await run('loop');
      for (const k of Object.keys(model.params)) expect(relErr(fast[k] as tf.Tensor, loop[k] as tf.Tensor), k).toBeLessThanOrEqual(1e-5);
      disposeParams(fast);
      disposeParams(loop);
    }
    model.dispose();
  });

  it.each(['auto', 'composed'] as const)(
    'depthwise and separable net (%s formulation: SIMD per-example sums, or tap by tap): Fisher and MAS equal the per-example loop',
    async (formulation) => {
      const model = sequential(
        [
          new DepthwiseConv2d({ kernelSize: 3, stride: 2, padding: 'same', activation: 'tanh' }),
          new DepthwiseConv2d({ kernelSize: [3, 2], dilation: [2, 1], padding: 'valid' }),
          new SeparableConv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh' }),
          flatten(),
          dense(3),
        ],
        { inputShape: [11, 9, 3], seed: 4 },
      );
      const source = randomSource(6, model.inputShape, 3, 2);
      for (const run of [(path: 'fast' | 'loop') => fisherDiagonal(model, source, { path, batchSize: 4 }), (path: 'fast' | 'loop') => mas(model, source, { path, batchSize: 4 })]) {
        setConvFormulation(formulation);
        const fast = await run('fast').finally(() => setConvFormulation('auto'));
        const loop = await run('loop');
        for (const k of Object.keys(model.params)) expect(relErr(fast[k] as tf.Tensor, loop[k] as tf.Tensor), k).toBeLessThanOrEqual(1e-5);
        disposeParams(fast);
        disposeParams(loop);
      }
      model.dispose();
    },
  );

  it('MLP Fisher and SIG agree with the cpu backend', async () => {
    const source = randomSource(8, [5], 4, 2);
    const onWasm = async () => {
      const model = mlpNet('leakyRelu', 2);
      const out = [await fisherDiagonal(model, source, { variant: 'exact' }), await sig(model, source)];
      const data = out.map((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.dataSync().slice()])));
      out.forEach(disposeParams);
      model.dispose();
      return data;
    };
    const wasm = await onWasm();
    await tf.setBackend('cpu');
    const cpu = await onWasm();
    await tf.setBackend('wasm');
    wasm.forEach((m, i) => {
      for (const k of Object.keys(m)) expect(relErr(m[k] as Float32Array, cpu[i]?.[k] as Float32Array), k).toBeLessThanOrEqual(1e-5);
    });
  });
});
