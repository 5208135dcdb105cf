import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, Rng, disposeParams } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { allOf, convNet, denseBnNet, mlpNet, randomSource, values } from '../test/nets.js';
import { type FisherVariant, fisherDiagonal, sampleLabels } from './fisher.js';

async function both(model: Parameters<typeof fisherDiagonal>[0], source: Parameters<typeof fisherDiagonal>[1], variant: FisherVariant, extra: object = {}) {
  const fast = await fisherDiagonal(model, source, { variant, batchSize: 4, seed: 3, ...extra });
  const loop = await fisherDiagonal(model, source, { variant, batchSize: 4, seed: 3, path: 'loop', ...extra });
  return { fast, loop };
}

function expectClose(a: ParamMap, b: ParamMap, tol = 1e-5): void {
  expect(Object.keys(a)).toEqual(Object.keys(b));
  for (const name of Object.keys(a)) expect(relErr(a[name] as tf.Tensor, b[name] as tf.Tensor), name).toBeLessThanOrEqual(tol);
}

/** Logits and probabilities of the whole source, as arrays. */
function outputs(model: ReturnType<typeof mlpNet>, source: ReturnType<typeof randomSource>) {
  const { x, y } = allOf(source);
  const z = model.apply(x);
  const p = tf.softmax(z);
  const out = { z: z.arraySync() as number[][], p: p.arraySync() as number[][], y: Array.from(y.dataSync()) };
  tf.dispose([x, y, z, p]);
  return out;
}

describe('fisherDiagonal', () => {
  it.each(['empirical', 'true', 'exact'] as const)(
    '%s: fast path equals the per-example loop on an MLP, a dense+batchNorm net and a conv net (rel err <= 1e-5)',
    async (variant) => {
      for (const model of [mlpNet('leakyRelu', 1), denseBnNet(3), convNet('strided-same', 2)]) {
        const source = randomSource(10, model.inputShape, model.numClasses, 5); // batches 4, 4, 2
        const { fast, loop } = await both(model, source, variant);
        expectClose(fast, loop);
        disposeParams(fast);
        disposeParams(loop);
        model.dispose();
      }
    },
  );

  it('matches the closed forms on the last bias: empirical mean (onehot − p)², exact mean p(1 − p), batched (mean (onehot − p))²', async () => {
    const model = mlpNet('tanh', 4);
    const source = randomSource(12, [5], 4, 9);
    const { p, y } = outputs(model, source);
    const k = 4;
    const emp = new Array(k).fill(0);
    const exact = new Array(k).fill(0);
    const batched = new Array(k).fill(0);
    p.forEach((row, n) => {
      for (let j = 0; j < k; j++) {
        const r = (j === y[n] ? 1 : 0) - (row[j] as number);
        emp[j] += (r * r) / p.length;
        exact[j] += ((row[j] as number) * (1 - (row[j] as number))) / p.length;
        batched[j] += r / p.length;
      }
    });
    const e = await fisherDiagonal(model, source, { variant: 'empirical' });
    const x = await fisherDiagonal(model, source, { variant: 'exact' });
    const b = await fisherDiagonal(model, source, { variant: 'batched', batchSize: 12 });
    expect(relErr(e['dense_2/bias'] as tf.Tensor, emp)).toBeLessThan(1e-5);
    expect(relErr(x['dense_2/bias'] as tf.Tensor, exact)).toBeLessThan(1e-5);
    expect(
      relErr(
        b['dense_2/bias'] as tf.Tensor,
        batched.map((v) => v * v),
      ),
    ).toBeLessThan(1e-5);
    [e, x, b].forEach(disposeParams);
    model.dispose();
  });

  it('batched with batch size 1 is the empirical Fisher; with larger batches it is a different (smaller) quantity', async () => {
    const model = mlpNet('relu', 2);
    const source = randomSource(8, [5], 4, 1);
    const e = await fisherDiagonal(model, source, { variant: 'empirical' });
    const b1 = await fisherDiagonal(model, source, { variant: 'batched', batchSize: 1 });
    const b8 = await fisherDiagonal(model, source, { variant: 'batched', batchSize: 8 });
    expectClose(b1, e);
    const sum = (m: ParamMap) => Object.values(m).reduce((s, t) => s + (tf.sum(t).dataSync()[0] as number), 0);
    expect(sum(b8)).toBeLessThan(0.8 * sum(e));
    [e, b1, b8].forEach(disposeParams);
    model.dispose();
  });

  it('true: seeded sampling is repeatable, and over many samples approaches the exact Fisher', async () => {
    const model = mlpNet('tanh', 7);
    const source = randomSource(3000, [5], 4, 2);
    const t1 = values(await fisherDiagonal(model, source, { variant: 'true', seed: 11, limit: 20 }));
    const t1b = values(await fisherDiagonal(model, source, { variant: 'true', seed: 11, limit: 20 }));
    const t2 = values(await fisherDiagonal(model, source, { variant: 'true', seed: 12, limit: 20 }));
    expect(t1b).toEqual(t1);
    expect(t2).not.toEqual(t1);
    const big = await fisherDiagonal(model, source, { variant: 'true', seed: 1, batchSize: 500 });
    const exact = await fisherDiagonal(model, source, { variant: 'exact', batchSize: 500 });
    for (const name of Object.keys(exact)) expect(relErr(big[name] as tf.Tensor, exact[name] as tf.Tensor), name).toBeLessThan(0.1);
    disposeParams(big);
    disposeParams(exact);
    model.dispose();
  });

  it('sampleLabels draws from each row', () => {
    const p = new Float32Array([0, 1, 0, 0.5, 0, 0.5]);
    const counts = new Float64Array(3);
    const rng = new Rng(0);
    for (let i = 0; i < 2000; i++) {
      const y = sampleLabels(p, 3, rng);
      expect(y[0]).toBe(1);
      const c = y[1] as number;
      counts[c] = (counts[c] as number) + 1;
    }
    expect(counts[1]).toBe(0);
    expect(Math.abs((counts[0] as number) / 2000 - 0.5)).toBeLessThan(0.05);
  });

  it('a class mask zeroes the importances of the masked classes’ output weights', async () => {
    const model = mlpNet('relu', 3);
    const source = randomSource(9, [5], 2, 4); // labels in {0, 1}
    for (const variant of ['empirical', 'true', 'exact', 'batched'] as const) {
      const f = await fisherDiagonal(model, source, { variant, classes: [0, 1] });
      const w = (f['dense_2/kernel'] as tf.Tensor).arraySync() as number[][];
      for (const row of w) {
        expect(row[2]).toBe(0);
        expect(row[3]).toBe(0);
      }
      expect(w.some((row) => (row[0] as number) > 0)).toBe(true);
      disposeParams(f);
    }
    model.dispose();
  });

  it('limit uses the first examples only; memory is per batch', async () => {
    const model = mlpNet('relu', 3);
    const source = randomSource(30, [5], 4, 4);
    const first = source.subset(Array.from({ length: 7 }, (_, i) => i));
    const a = await fisherDiagonal(model, source, { limit: 7, batchSize: 3 });
    const b = await fisherDiagonal(model, first, { batchSize: 7 });
    expectClose(a, b);
    disposeParams(a);
    disposeParams(b);
    model.dispose();
  });

  it('holds the same memory at every batch whatever the number of batches (bounded)', async () => {
    const model = convNet('strided-same', 2);
    const inner = randomSource(40, model.inputShape, 4, 4);
    const seen: { tensors: number; bytes: number }[] = [];
    const source = {
      size: inner.size,
      exampleShape: inner.exampleShape,
      numClasses: inner.numClasses,
      *batches(batchSize: number, options?: { limit?: number }) {
        for (const b of inner.batches(batchSize, options)) {
          const m = tf.memory();
          seen.push({ tensors: m.numTensors, bytes: m.numBytes });
          yield b;
        }
      },
    };
    for (const run of [() => fisherDiagonal(model, source, { batchSize: 4 }), () => fisherDiagonal(model, source, { batchSize: 4, variant: 'exact' })]) {
      seen.length = 0;
      disposeParams(await run());
      expect(seen).toHaveLength(10);
      // from the second batch on, one running sum is held: nothing grows with the number of batches
      for (const s of seen.slice(2)) expect(s).toEqual(seen[1]);
    }
    model.dispose();
  });

  it('leaves no tensors behind, for every variant and path', async () => {
    const model = convNet('valid-pool', 1);
    const source = randomSource(5, model.inputShape, 4, 4);
    for (const variant of ['empirical', 'true', 'exact', 'batched'] as const) {
      for (const path of ['fast', 'loop'] as const) {
        await expectNoLeak(async () => disposeParams(await fisherDiagonal(model, source, { variant, path, batchSize: 2 })));
      }
    }
    model.dispose();
  });

  it('rejects bad input with errors naming the culprit', async () => {
    const model = mlpNet('relu');
    const source = randomSource(4, [5], 4);
    await expect(fisherDiagonal(model, source, { variant: 'diag' as never })).rejects.toThrow(/unknown variant 'diag'/);
    await expect(fisherDiagonal(model, source, { path: 'slow' as never })).rejects.toThrow(/path must be 'fast' or 'loop'/);
    await expect(fisherDiagonal(model, randomSource(0, [5], 4))).rejects.toThrow(/data source is empty/);
    await expect(fisherDiagonal(model, randomSource(3, [6], 4))).rejects.toThrow(/shape \[6\] but the model takes \[5\]/);
    await expect(fisherDiagonal(model, randomSource(3, [5], 12))).rejects.toThrow(/12 classes but the model outputs 4/);
    await expect(fisherDiagonal(model, source, { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer/);
    await expect(fisherDiagonal(model, source, { limit: 1.5 })).rejects.toThrow(/limit must be a positive integer/);
    await expect(fisherDiagonal(model, source, { classes: [7] })).rejects.toThrow(/class 7 is out of range/);
    model.dispose();
  });

  it('rejects NaN importances, naming the parameter', async () => {
    const model = mlpNet('relu');
    const k = model.params['dense_1/kernel'] as tf.Variable;
    const nan = tf.fill(k.shape, Number.NaN);
    k.assign(nan);
    nan.dispose();
    await expectNoLeak(() => expect(fisherDiagonal(model, randomSource(4, [5], 4))).rejects.toThrow(/fisherDiagonal: parameter '.*' contains NaN/));
    model.dispose();
  });
});
