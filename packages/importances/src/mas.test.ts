import * as tf from '@tensorflow/tfjs-core';
import { dense, disposeParams, sequential } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { allOf, convNet, denseBnNet, mlpNet, randomSource } from '../test/nets.js';
import { mas } from './mas.js';

describe('mas', () => {
  it.each(['softmax', 'logits'] as const)('output %s: fast path equals the per-example loop (MLP, dense+batchNorm, conv), rel err <= 1e-5', async (output) => {
    for (const model of [mlpNet('sigmoid', 1), denseBnNet(2), convNet('valid-pool', 3)]) {
      const source = randomSource(7, model.inputShape, model.numClasses, 6);
      const fast = await mas(model, source, { output, batchSize: 3 });
      const loop = await mas(model, source, { output, batchSize: 3, path: 'loop' });
      for (const name of Object.keys(model.params)) expect(relErr(fast[name] as tf.Tensor, loop[name] as tf.Tensor), name).toBeLessThanOrEqual(1e-5);
      disposeParams(fast);
      disposeParams(loop);
      model.dispose();
    }
  });

  it('matches the closed forms on the last bias: softmax mean |2 p_j (p_j − Σp²)|, logits mean |2 z_j|', async () => {
    const model = mlpNet('tanh', 5);
    const source = randomSource(9, [5], 4, 2);
    const { x, y } = allOf(source);
    const z = model.apply(x).arraySync() as number[][];
    tf.dispose([x, y]);
    const soft = new Float64Array(4);
    const raw = new Float64Array(4);
    for (const row of z) {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      const p = e.map((v) => v / s);
      const q = p.reduce((a, b) => a + b * b, 0);
      p.forEach((pj, j) => {
        soft[j] = (soft[j] as number) + Math.abs(2 * pj * (pj - q)) / z.length;
        raw[j] = (raw[j] as number) + Math.abs(2 * (row[j] as number)) / z.length;
      });
    }
    const a = await mas(model, source);
    const b = await mas(model, source, { output: 'logits' });
    expect(relErr(a['dense_2/bias'] as tf.Tensor, Array.from(soft))).toBeLessThan(1e-5);
    expect(relErr(b['dense_2/bias'] as tf.Tensor, Array.from(raw))).toBeLessThan(1e-5);
    disposeParams(a);
    disposeParams(b);
    model.dispose();
  });

  it('is MAS of the logits when the model itself ends in a softmax', async () => {
    const lin = sequential([dense(4, { activation: 'tanh' }), dense(3)], { inputShape: [5], seed: 3 });
    const soft = sequential([dense(4, { activation: 'tanh' }), dense(3, { activation: 'softmax' })], { inputShape: [5], seed: 3 });
    const source = randomSource(6, [5], 3, 1);
    for (const output of ['softmax', 'logits'] as const) {
      const a = await mas(lin, source, { output });
      const b = await mas(soft, source, { output });
      for (const name of Object.keys(a)) expect(relErr(b[name] as tf.Tensor, a[name] as tf.Tensor), name).toBeLessThan(1e-6);
      disposeParams(a);
      disposeParams(b);
    }
    lin.dispose();
    soft.dispose();
  });

  it('logits with a class mask only counts those outputs', async () => {
    const model = mlpNet('relu', 2);
    const source = randomSource(6, [5], 4, 1);
    const m = await mas(model, source, { output: 'logits', classes: [1, 3] });
    const b = (m['dense_2/bias'] as tf.Tensor).arraySync() as number[];
    expect(b[0]).toBe(0);
    expect(b[2]).toBe(0);
    expect(b[1]).toBeGreaterThan(0);
    disposeParams(m);
    model.dispose();
  });

  it('leaves no tensors behind and rejects bad input', async () => {
    const model = convNet('strided-same', 1);
    const source = randomSource(5, model.inputShape, 4);
    for (const output of ['softmax', 'logits'] as const) {
      await expectNoLeak(async () => disposeParams(await mas(model, source, { output, batchSize: 2 })));
    }
    await expect(mas(model, source, { output: 'probs' as never })).rejects.toThrow(/output must be 'softmax' or 'logits', got 'probs'/);
    await expect(mas(model, randomSource(2, [5], 4))).rejects.toThrow(/mas: the source has examples of shape \[5\]/);
    model.dispose();
  });
});
