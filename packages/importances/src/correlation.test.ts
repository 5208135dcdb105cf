import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { correlate, correlationTable, pearson, ranks, spearman } from './correlation.js';

describe('pearson and spearman', () => {
  it('pearson against hand-computed values', () => {
    // x = [1,2,3,4], y = [2,4,5,9]: dx = [−1.5,−.5,.5,1.5], dy = [−3,−1,0,4]; Σdxdy = 11, Σdx² = 5, Σdy² = 26 → 11/√130
    expect(pearson([1, 2, 3, 4], [2, 4, 5, 9])).toBeCloseTo(11 / Math.sqrt(130), 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson([1, 2, 3], [5, 5, 5])).toBeNaN();
  });

  it('ranks give ties their mean rank; spearman against hand-computed values with ties', () => {
    expect(Array.from(ranks([10, 20, 20, 5, 20]))).toEqual([2, 4, 4, 1, 4]);
    // x ranks [1, 2.5, 2.5, 4], y = [1, 3, 2, 4] ranks [1, 3, 2, 4]:
    // dx = [−1.5, 0, 0, 1.5], dy = [−1.5, 0.5, −0.5, 1.5]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5 → 4.5/√22.5
    expect(spearman([0.1, 0.5, 0.5, 0.9], [1, 3, 2, 4])).toBeCloseTo(4.5 / Math.sqrt(22.5), 12);
    // monotone but non-linear: spearman 1, pearson below 1
    const x = [1, 2, 3, 4, 5];
    const y = x.map((v) => v ** 4);
    expect(spearman(x, y)).toBeCloseTo(1, 12);
    expect(pearson(x, y)).toBeLessThan(0.95);
  });
});

describe('correlate and correlationTable', () => {
  const maps = () => {
    const a: ParamMap = {
      'dense_0/kernel': tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      'dense_0/bias': tf.tensor1d([1, 0]),
      'dense_1/kernel': tf.tensor2d([[1], [2]]),
      'dense_1/bias': tf.tensor1d([5]),
    };
    const b: ParamMap = {
      'dense_0/kernel': tf.tensor2d([
        [2, 4],
        [6, 9],
      ]),
      'dense_0/bias': tf.tensor1d([0, 1]),
      'dense_1/kernel': tf.tensor2d([[2], [1]]),
      'dense_1/bias': tf.tensor1d([1]),
    };
    return { a, b };
  };

  it('correlates per layer, with kernel, bias or both', async () => {
    const { a, b } = maps();
    const kernel = await correlate(a, b, { scope: 'kernel' });
    expect(kernel.map((r) => r.layer)).toEqual(['dense_0', 'dense_1']);
    expect(kernel[0]?.r).toBeCloseTo(pearson([1, 2, 3, 4], [2, 4, 6, 9]), 12);
    expect(kernel[1]?.r).toBeCloseTo(-1, 12);
    const bias = await correlate(a, b, { scope: 'bias' });
    expect(bias[0]?.r).toBeCloseTo(-1, 12);
    expect(bias[1]?.r).toBeNaN(); // one value: undefined
    const all = await correlate(a, b, { scope: 'both', method: 'spearman' });
    expect(all[0]?.n).toBe(6);
    expect(all[0]?.r).toBeCloseTo(spearman([1, 2, 3, 4, 1, 0], [2, 4, 6, 9, 0, 1]), 12);
    disposeParams(a);
    disposeParams(b);
  });

  it('tables every pair plus FIS vs MAS²', async () => {
    const { a, b } = maps();
    const c: ParamMap = {
      'dense_0/kernel': tf.tensor2d([
        [1, 1],
        [2, 3],
      ]),
      'dense_0/bias': tf.tensor1d([1, 2]),
      'dense_1/kernel': tf.tensor2d([[3], [1]]),
      'dense_1/bias': tf.tensor1d([2]),
    };
    // FIS = MAS² exactly on the kernels: r = 1 for FIS vs MAS², below 1 for FIS vs MAS
    const fis: ParamMap = {
      'dense_0/kernel': tf.tensor2d([
        [1, 4],
        [9, 16],
      ]),
      'dense_0/bias': tf.tensor1d([1, 0]),
      'dense_1/kernel': tf.tensor2d([[1], [4]]),
      'dense_1/bias': tf.tensor1d([5]),
    };
    const table = await correlationTable({ FIS: fis, MAS: a, SI: b, SIG: c }, { scope: 'kernel' });
    expect(table.layers).toEqual(['dense_0', 'dense_1']);
    expect(table.rows.map((r) => r.pair)).toEqual(['FIS vs MAS', 'FIS vs SI', 'FIS vs SIG', 'MAS vs SI', 'MAS vs SIG', 'SI vs SIG', 'FIS vs MAS²']);
    expect(table.rows[6]?.r.dense_0).toBeCloseTo(1, 12);
    expect(table.rows[0]?.r.dense_0).toBeLessThan(0.99);
    expect(table.rows[3]?.r.dense_0).toBeCloseTo(pearson([1, 2, 3, 4], [2, 4, 6, 9]), 12);
    const none = await correlationTable({ A: a, B: b }, { squaredPair: false });
    expect(none.rows.map((r) => r.pair)).toEqual(['A vs B']);
    [a, b, c, fis].forEach(disposeParams);
  });

  it('rejects mismatched maps and bad options, naming them', async () => {
    const { a, b } = maps();
    const short = { 'dense_0/kernel': a['dense_0/kernel'] as tf.Tensor };
    await expect(correlate(a, short)).rejects.toThrow(/'dense_0\/bias' is missing from the second map/);
    await expect(correlate(a, b, { method: 'kendall' as never })).rejects.toThrow(/method must be 'pearson' or 'spearman'/);
    await expect(correlate(a, b, { scope: 'weights' as never })).rejects.toThrow(/scope must be/);
    await expect(correlationTable({ A: a })).rejects.toThrow(/at least two maps/);
    disposeParams(a);
    disposeParams(b);
  });
});
