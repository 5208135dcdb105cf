import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../../test/helpers.js';
import { setConvFormulation } from './formulation.js';
import { ensureWasmKernels } from './wasm-kernels.js';
import { strideScatter, strideView } from './windows.js';

const views: Array<[number, number, number, number]> = [
  [0, 0, 1, 1],
  [1, 2, 1, 1],
  [0, 0, 2, 2],
  [1, 0, 2, 3],
  [2, 1, 3, 2],
];

describe('strided windows from rank-4 slices', () => {
  afterAll(async () => {
    setConvFormulation('auto');
    await tf.setBackend('cpu');
  });

  it.each(views)('strideView(top %i, left %i, strides %i×%i) equals tf.stridedSlice, and strideScatter puts it back', async (top, left, sh, sw) => {
    const x = tf.randomNormal([2, 9, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const outH = Math.floor((9 - 1 - top) / sh) + 1;
    const outW = Math.floor((8 - 1 - left) / sw) + 1;
    await expectNoLeak(() => {
      const ref = tf.stridedSlice(x, [0, top, left, 0], [2, top + (outH - 1) * sh + 1, left + (outW - 1) * sw + 1, 3], [1, sh, sw, 1]);
      const v = strideView(x, top, left, sh, sw, outH, outW);
      expect(v.shape).toEqual(ref.shape);
      expect(Array.from(v.dataSync())).toEqual(Array.from(ref.dataSync()));
      // scatter: the view's values at their places, zeros elsewhere
      const back = strideScatter(v, top, left, sh, sw, 9, 8);
      const mask = tf.tidy(() => strideScatter(tf.onesLike(v), top, left, sh, sw, 9, 8));
      const masked = tf.mul(x, mask);
      expect(Array.from(back.dataSync(), (a) => a + 0)).toEqual(Array.from(masked.dataSync(), (a) => a + 0));
      tf.dispose([ref, v, back, mask, masked]);
    });
    x.dispose();
  });

  it("forgetless's wasm Slice kernel agrees with the stock one at every rank and dtype", async () => {
    await tf.setBackend('wasm');
    ensureWasmKernels();
    const shapes = [[7], [5, 6], [3, 4, 5], [2, 3, 4, 5], [2, 3, 2, 4, 3], [2, 2, 3, 2, 2, 3]];
    const results: number[][][] = [];
    for (const formulation of ['im2col', 'forward-conv'] as const) {
      setConvFormulation(formulation); // 'forward-conv' puts the stock kernel back
      const out: number[][] = [];
      for (const shape of shapes) {
        const n = shape.reduce((a, b) => a * b, 1);
        for (const dtype of ['float32', 'int32', 'bool'] as const) {
          const x = tf.tensor(
            Array.from({ length: n }, (_, i) => (dtype === 'bool' ? Number(i % 3 === 0) : i * 1.5)),
            shape,
            dtype,
          );
          const begin = shape.map((s, i) => (i % 2 ? 0 : Math.min(1, s - 1)));
          const size = shape.map((s, i) => (i === shape.length - 1 ? -1 : Math.max(1, s - begin[i]! - (i % 2))));
          await expectNoLeak(() => {
            const s = tf.slice(x, begin, size);
            out.push(Array.from(s.dataSync() as Iterable<number>));
            s.dispose();
          });
          x.dispose();
        }
      }
      results.push(out);
    }
    setConvFormulation('auto');
    expect(results[0]).toEqual(results[1]);
  });
});
