import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { setConvFormulation } from './formulation.js';
import { type GradientMode, withGradientMode } from './gradients.js';

type Case = { shape: [number, number, number, number]; k: number; s: number; padding: 'same' | 'valid'; relu?: boolean };
const cases: Case[] = [
  { shape: [2, 8, 8, 3], k: 2, s: 2, padding: 'valid' },
  { shape: [2, 7, 9, 2], k: 3, s: 2, padding: 'same' },
  { shape: [1, 6, 6, 2], k: 3, s: 1, padding: 'valid' },
  { shape: [2, 5, 5, 1], k: 2, s: 2, padding: 'same' },
  { shape: [3, 8, 8, 2], k: 2, s: 2, padding: 'valid', relu: true }, // many tied zeros
];

function grad(mode: GradientMode, xs: tf.TypedArray, c: Case, dys: tf.TypedArray) {
  return withGradientMode(mode, () =>
    tf.tidy(() => {
      const x = tf.tensor(xs, c.shape);
      const f = (t: tf.Tensor) => tf.maxPool((c.relu ? tf.relu(t) : t) as tf.Tensor4D, c.k, c.s, c.padding);
      const y = f(x);
      return tf
        .grad((t) => tf.sum(tf.mul(f(t), tf.tensor(dys, y.shape))))(x)
        .dataSync()
        .slice();
    }),
  );
}

describe('maxPool gradient from forward ops', () => {
  it("is needed: the wasm MaxPoolGrad kernel of tfjs 4.22 disagrees with cpu; forgetless's, registered in its place, agrees", async () => {
    const c = cases[0] as Case;
    const xs = tf.tidy(() => tf.randomNormal(c.shape, 0, 1, 'float32', 3).dataSync().slice());
    const dys = tf.tidy(() => tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 4).dataSync().slice());
    const stock = grad('stock', xs, c, dys);
    await tf.setBackend('wasm');
    try {
      setConvFormulation('forward-conv'); // forgetless 0.1's state: the wasm package's own kernel
      expect(relErr(grad('stock', xs, c, dys), stock)).toBeGreaterThan(0.01);
      setConvFormulation('im2col');
      expect(relErr(grad('stock', xs, c, dys), stock)).toBeLessThanOrEqual(1e-6);
    } finally {
      setConvFormulation('im2col');
      await tf.setBackend('cpu');
    }
  });

  it.each(cases)('equals the cpu stock gradient, ties included, on cpu and on wasm: %o', async (c) => {
    const xs = tf.tidy(() => tf.randomNormal(c.shape, 0, 1, 'float32', 3).dataSync().slice());
    const yShape = tf.tidy(() => tf.maxPool(tf.zeros(c.shape) as tf.Tensor4D, c.k, c.s, c.padding).shape);
    const dys = tf.tidy(() => tf.randomNormal(yShape, 0, 1, 'float32', 4).dataSync().slice());
    const stock = grad('stock', xs, c, dys);
    expect(relErr(grad('custom', xs, c, dys), stock)).toBeLessThanOrEqual(1e-6);
    await tf.setBackend('wasm');
    try {
      expect(relErr(grad('auto', xs, c, dys), stock)).toBeLessThanOrEqual(1e-6);
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
