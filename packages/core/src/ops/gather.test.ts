import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { type GradientMode, withGradientMode } from './gradients.js';

interface Case {
  xShape: number[];
  ids: number[];
  idsShape: number[];
  axis: number;
  batchDims?: number;
}

/** ∂Σ(gather(x, ids)·dy)/∂x under a gradient mode, from seeded host values. */
function grad(mode: GradientMode, c: Case): Float32Array {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.xShape, 0, 1, 'float32', 1);
    const ids = tf.tensor(c.ids, c.idsShape, 'int32');
    const yShape = tf.gather(x, ids, c.axis, c.batchDims ?? 0).shape;
    const dy = tf.randomNormal(yShape, 0, 1, 'float32', 2);
    const x2 = tf.tensor(x.dataSync(), x.shape);
    const dy2 = tf.tensor(dy.dataSync(), dy.shape);
    // tfjs's own batchDims-1 gradient calls the unregistered chained x.split: the reference gathers per batch entry
    const f =
      mode === 'stock' && c.batchDims === 1
        ? (t: tf.Tensor) => tf.stack(tf.unstack(t).map((ti, i) => tf.gather(ti, tf.unstack(ids)[i] as tf.Tensor, c.axis - 1)))
        : (t: tf.Tensor) => tf.gather(t, ids, c.axis, c.batchDims ?? 0);
    return withGradientMode(mode, () => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dy2)))(x2))
      .dataSync()
      .slice() as Float32Array;
  });
}

const CASES: [string, Case][] = [
  ['axis 0, repeated ids (an embedding lookup [batch, steps])', { xShape: [7, 5], ids: [1, 3, 1, 1, 6, 0, 3, 3, 2, 1, 1, 5], idsShape: [3, 4], axis: 0 }],
  ['axis 0, rank-3 table, 1-D ids', { xShape: [4, 3, 2], ids: [2, 2, 0, 3, 2], idsShape: [5], axis: 0 }],
  ['axis 1, repeated ids', { xShape: [3, 6, 4], ids: [5, 0, 5, 5, 2, 0], idsShape: [2, 3], axis: 1 }],
  ['axis -1', { xShape: [2, 3, 5], ids: [4, 4, 1, 0], idsShape: [4], axis: -1 }],
  ['batchDims 1', { xShape: [3, 5, 2], ids: [0, 4, 4, 1, 1, 1, 2, 3, 0], idsShape: [3, 3], axis: 1, batchDims: 1 }],
];

describe('GatherV2 gradient without UnsortedSegmentSum', () => {
  it.each(CASES)('matches tfjs stock gradients on cpu: %s', (_, c) => {
    expect(relErr(grad('custom', c), grad('stock', c))).toBeLessThanOrEqual(1e-6);
  });

  it('auto mode on wasm (no UnsortedSegmentSum kernel) matches the cpu stock gradient; the stock one fails there', async () => {
    const refs = CASES.map(([, c]) => grad('stock', c));
    await tf.setBackend('wasm');
    try {
      expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeUndefined();
      CASES.forEach(([name, c], i) => expect(relErr(grad('auto', c), refs[i] as Float32Array), name).toBeLessThanOrEqual(1e-6));
      expect(() => grad('stock', (CASES[0] as [string, Case])[1])).toThrow(/Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'/);
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('is lazy and leak-free: differentiating only the table leaves nothing behind', async () => {
    const table = tf.variable(tf.randomNormal([6, 3]));
    const ids = tf.tensor2d(
      [
        [1, 1],
        [5, 0],
      ],
      [2, 2],
      'int32',
    );
    await expectNoLeak(() =>
      withGradientMode('custom', () => {
        const { grads, value } = tf.variableGrads(() => tf.sum(tf.gather(table, ids)) as tf.Scalar, [table]);
        expect(Array.from((grads[table.name] as tf.Tensor).dataSync())).toEqual([1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
        tf.dispose([value, ...Object.values(grads)]);
      }),
    );
    tf.dispose([table, ids]);
  });
});
