import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { conv2d, convPadding } from './conv2d.js';
import { type GradientMode, withGradientMode } from './gradients.js';

type Case = { h: number; w: number; c: number; o: number; k: number; stride: number; padding: 'same' | 'valid' };
const cases: Case[] = [
  { h: 8, w: 8, c: 3, o: 4, k: 3, stride: 1, padding: 'valid' },
  { h: 8, w: 8, c: 3, o: 4, k: 3, stride: 1, padding: 'same' },
  { h: 9, w: 7, c: 2, o: 5, k: 3, stride: 2, padding: 'same' },
  { h: 9, w: 7, c: 2, o: 5, k: 3, stride: 2, padding: 'valid' },
  { h: 10, w: 10, c: 1, o: 3, k: 5, stride: 1, padding: 'valid' },
  { h: 11, w: 11, c: 2, o: 3, k: 4, stride: 3, padding: 'same' },
];

function gradsOf(mode: GradientMode, x: tf.Tensor4D, f: tf.Tensor4D, b: tf.Tensor1D, dy: tf.Tensor, c: Case) {
  return withGradientMode(mode, () => tf.grads((xx, ff, bb) => tf.sum(tf.mul(conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, bb as tf.Tensor1D, c), dy)))([x, f, b]));
}

function inputs(c: Case, seed: number) {
  const x = tf.randomNormal([3, c.h, c.w, c.c], 0, 1, 'float32', seed) as tf.Tensor4D;
  const f = tf.randomNormal([c.k, c.k, c.c, c.o], 0, 0.3, 'float32', seed + 1) as tf.Tensor4D;
  const b = tf.randomNormal([c.o], 0, 0.1, 'float32', seed + 2) as tf.Tensor1D;
  const p = convPadding(c.h, c.w, c.k, c.k, c.stride, c.padding);
  const dy = tf.randomNormal([3, p.outH, p.outW, c.o], 0, 1, 'float32', seed + 3);
  return { x, f, b, dy };
}

describe('conv2d gradient from forward convolutions', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(cases)('matches tfjs stock gradients on cpu: %o', (c) => {
    const { x, f, b, dy } = inputs(c, 10);
    const fast = gradsOf('custom', x, f, b, dy, c);
    const stock = gradsOf('stock', x, f, b, dy, c);
    fast.forEach((g, i) => {
      expect(g.shape).toEqual(stock[i]?.shape);
      expect(relErr(g, stock[i] as tf.Tensor)).toBeLessThanOrEqual(1e-5);
    });
    tf.dispose([x, f, b, dy, ...fast, ...stock]);
  });

  it('trains on wasm (where forgetless registers Conv2DBackpropFilter) and agrees with cpu stock gradients', async () => {
    const c = cases[2] as Case;
    const { x, f, b, dy } = inputs(c, 20);
    const ref = gradsOf('stock', x, f, b, dy, c).map((g) => g.dataSync().slice());
    const host = [x, f, b, dy].map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
    tf.dispose([x, f, b, dy]);
    await tf.setBackend('wasm');
    const [xw, fw, bw, dyw] = host.map((h) => tf.tensor(h.v, h.s));
    // tfjs's own gradient too: wasm lacks Conv2DBackpropFilter, forgetless registers one there
    const viaKernel = gradsOf('stock', xw as tf.Tensor4D, fw as tf.Tensor4D, bw as tf.Tensor1D, dyw as tf.Tensor, c);
    viaKernel.forEach((g, i) => expect(relErr(g.dataSync(), ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
    tf.dispose(viaKernel);
    const fast = gradsOf('auto', xw as tf.Tensor4D, fw as tf.Tensor4D, bw as tf.Tensor1D, dyw as tf.Tensor, c);
    fast.forEach((g, i) => expect(relErr(g.dataSync(), ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
    tf.dispose([xw, fw, bw, dyw, ...fast] as tf.Tensor[]);
    await tf.setBackend('cpu');
  });
});
