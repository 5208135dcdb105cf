import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import { maxPoolGrad } from '../ops/max-pool.js';
import { withGradientMode } from '../ops/gradients.js';
import { Rng } from '../rng.js';
import { compareLayer, tfjsLayer } from './compare.test-helpers.js';
import { GlobalPool, Pool1d } from './pooling.js';
import { Pool2d } from './simple.js';

type P = 'valid' | 'same';
const nonSquare = (k: number | [number, number], s?: number | [number, number]) => [k, s].some((v) => Array.isArray(v) && v[0] !== v[1]);

describe('Pool2d with non-square windows and strides', () => {
  const cases: { pool: number | [number, number]; stride?: number | [number, number]; padding: P; shape: number[]; relu?: boolean }[] = [
    { pool: [2, 3], padding: 'valid', shape: [6, 9, 2] },
    { pool: [3, 1], stride: [2, 1], padding: 'same', shape: [7, 5, 3] },
    { pool: [1, 3], stride: [1, 2], padding: 'same', shape: [4, 7, 2], relu: true },
    { pool: 3, stride: [2, 1], padding: 'valid', shape: [8, 6, 1] },
    { pool: [2, 2], stride: 2, padding: 'valid', shape: [6, 6, 2], relu: true },
  ];
  for (const kind of ['maxPool2d', 'avgPool2d'] as const) {
    it.each(cases)(`${kind} equals tfjs-layers: %o`, async (c) => {
      const make = kind === 'maxPool2d' ? tfl.layers.maxPooling2d : tfl.layers.averagePooling2d;
      const ref = make({ poolSize: c.pool, ...(c.stride !== undefined ? { strides: c.stride } : {}), padding: c.padding });
      await compareLayer({
        ours: new Pool2d(kind, { poolSize: c.pool, ...(c.stride !== undefined ? { stride: c.stride } : {}), padding: c.padding }),
        ref: tfjsLayer(ref),
        shapes: [c.shape],
        symbolic: [[[null, null, c.shape[2] as number]], [[c.shape[0] as number, null, null]]],
        ...(c.relu ? { relu: true } : {}),
        // non-square max pooling on wasm: see 'trains correctly on wasm' below
        wasm: kind === 'avgPool2d' || !nonSquare(c.pool, c.stride),
      });
    });
  }

  it('keeps square options and their config as they were', () => {
    const p = new Pool2d('maxPool2d', { poolSize: 3, stride: 2, padding: 'same' });
    expect(p.config()).toEqual({ kind: 'maxPool2d', poolSize: 3, stride: 2, padding: 'same' });
    expect(new Pool2d('avgPool2d').config()).toEqual({ kind: 'avgPool2d', poolSize: 2, stride: 2, padding: 'valid' });
    expect(new Pool2d('maxPool2d', { poolSize: [2, 3] }).config()).toEqual({ kind: 'maxPool2d', poolSize: [2, 3], stride: [2, 3], padding: 'valid' });
  });

  it('rejects bad sizes and windows that do not fit', () => {
    expect(() => new Pool2d('maxPool2d', { poolSize: [2, 0] })).toThrow(/poolSize must be a positive integer/);
    expect(() => new Pool2d('maxPool2d', { poolSize: [3, 3] }).build([2, 5, 1], new Rng(0))).toThrow(/does not fit input \[2, 5, 1\]/);
  });
});

describe("forgetless's max pool gradient for non-square windows", () => {
  const cases: { shape: [number, number, number, number]; k: [number, number]; s: [number, number]; padding: P; relu?: boolean }[] = [
    { shape: [2, 7, 9, 2], k: [2, 3], s: [2, 3], padding: 'valid' },
    { shape: [2, 7, 9, 2], k: [3, 2], s: [1, 2], padding: 'same' },
    { shape: [1, 9, 1, 3], k: [3, 1], s: [2, 1], padding: 'same' },
    { shape: [3, 6, 8, 2], k: [2, 4], s: [2, 2], padding: 'valid', relu: true },
  ];
  it.each(cases)('equals the stock cpu gradient, ties included: %o', async (c) => {
    await expectNoLeak(() =>
      tf.tidy(() => {
        const x0 = tf.randomNormal(c.shape, 0, 1, 'float32', 5);
        const x = (c.relu ? tf.relu(x0) : x0) as tf.Tensor4D;
        const y = tf.maxPool(x, c.k, c.s, c.padding);
        const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 6) as tf.Tensor4D;
        const stock = withGradientMode('stock', () => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, c.k, c.s, c.padding), dy)))(x));
        expect(relErr(maxPoolGrad(x, y, dy, c.k, c.s, c.padding), stock)).toBeLessThanOrEqual(1e-6);
      }),
    );
  });
});

describe('Pool1d', () => {
  const cases: { pool: number; stride?: number; padding: P; steps: number; relu?: boolean }[] = [
    { pool: 2, padding: 'valid', steps: 8 },
    { pool: 3, stride: 2, padding: 'same', steps: 9 },
    { pool: 3, stride: 1, padding: 'valid', steps: 7, relu: true },
    { pool: 4, stride: 3, padding: 'same', steps: 10 },
  ];
  for (const kind of ['maxPool1d', 'avgPool1d'] as const) {
    it.each(cases)(`${kind} equals tfjs-layers: %o`, async (c) => {
      const make = kind === 'maxPool1d' ? tfl.layers.maxPooling1d : tfl.layers.averagePooling1d;
      await compareLayer({
        ours: new Pool1d(kind, { poolSize: c.pool, ...(c.stride !== undefined ? { stride: c.stride } : {}), padding: c.padding }),
        ref: tfjsLayer(make({ poolSize: c.pool, ...(c.stride !== undefined ? { strides: c.stride } : {}), padding: c.padding })),
        shapes: [[c.steps, 3]],
        symbolic: [[[null, 3]], [[c.steps, null]]],
        ...(c.relu ? { relu: true } : {}),
        wasm: kind === 'avgPool1d' || (c.pool === 1 && (c.stride ?? 1) === 1),
      });
    });
  }

  it('rejects inputs of the wrong rank and windows that do not fit', () => {
    expect(() => new Pool1d('maxPool1d').build([4, 4, 2], new Rng(0))).toThrow(/expects \[steps, channels\] input, got \[4, 4, 2\]/);
    expect(() => new Pool1d('avgPool1d', { poolSize: 5 }).build([3, 2], new Rng(0))).toThrow(/does not fit/);
  });
});

describe('GlobalPool', () => {
  const refs = {
    globalMaxPool: { 1: tfl.layers.globalMaxPooling1d, 2: tfl.layers.globalMaxPooling2d },
    globalAvgPool: { 1: tfl.layers.globalAveragePooling1d, 2: tfl.layers.globalAveragePooling2d },
  } as const;
  for (const kind of ['globalMaxPool', 'globalAvgPool'] as const) {
    it(`${kind} 1-D equals tfjs-layers`, async () => {
      await compareLayer({ ours: new GlobalPool(kind), ref: tfjsLayer(refs[kind][1]({})), shapes: [[7, 3]], symbolic: [[[null, 3]], [[7, null]]] });
    });
    it(`${kind} 2-D equals tfjs-layers`, async () => {
      const ours = new GlobalPool(kind, { spatialRank: 2 });
      await compareLayer({ ours, ref: tfjsLayer(refs[kind][2]({})), shapes: [[5, 6, 4]], symbolic: [[[null, null, 4]]], relu: true });
    });
    it(`${kind} keepdims keeps the pooled axes as 1`, async () => {
      const ours = new GlobalPool(kind, { keepdims: true });
      const reduce = kind === 'globalMaxPool' ? tf.max : tf.mean;
      const ref = { run: (xs: tf.Tensor[]) => reduce(xs[0] as tf.Tensor, [1, 2], true), shape: () => [1, 1, 4] };
      await compareLayer({ ours, ref, shapes: [[5, 6, 4]], symbolic: [[[null, null, 4]]] });
    });
  }

  it('checks the spatial rank when given', () => {
    expect(() => new GlobalPool('globalAvgPool', { spatialRank: 2 }).build([5, 4], new Rng(0))).toThrow(/expects input of rank 3.*got \[5, 4\]/);
  });
});

describe('non-square max pooling on wasm', () => {
  // tfjs-backend-wasm 4.22's MaxPoolGrad is wrong; ops/gradients.ts must route non-square MaxPool
  // (1-D pooling is [k, 1]) to maxPoolGrad as it does square ones.
  it('trains correctly on wasm: the registered MaxPool gradient equals cpu stock for [k, 1] and [kh, kw] windows', async () => {
    await compareLayer({
      ours: new Pool1d('maxPool1d', { poolSize: 3, stride: 2, padding: 'same' }),
      ref: tfjsLayer(tfl.layers.maxPooling1d({ poolSize: 3, strides: 2, padding: 'same' })),
      shapes: [[9, 3]],
    });
    await compareLayer({
      ours: new Pool2d('maxPool2d', { poolSize: [3, 1], stride: [2, 1], padding: 'same' }),
      ref: tfjsLayer(tfl.layers.maxPooling2d({ poolSize: [3, 1], strides: [2, 1], padding: 'same' })),
      shapes: [[7, 5, 3]],
    });
  });
});
