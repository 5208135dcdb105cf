import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { convPadding } from './conv2d.js';
import { depthwiseConv2d, depthwiseFilterGrad, depthwiseFilterGradTaps, depthwiseInputGrad } from './depthwise.js';
import { dilateKernel } from './depthwise.test-helpers.js';
import { type GradientMode, withGradientMode } from './gradients.js';

type Case = { h: number; w: number; c: number; m: number; k: [number, number]; s: [number, number]; d?: [number, number]; padding: 'same' | 'valid' };
const cases: Case[] = [
  { h: 8, w: 8, c: 3, m: 1, k: [3, 3], s: [1, 1], padding: 'valid' },
  { h: 8, w: 7, c: 3, m: 2, k: [3, 3], s: [1, 1], padding: 'same' },
  { h: 9, w: 7, c: 2, m: 1, k: [3, 3], s: [2, 2], padding: 'same' },
  { h: 9, w: 8, c: 2, m: 3, k: [3, 2], s: [2, 2], padding: 'valid' },
  { h: 11, w: 10, c: 2, m: 2, k: [4, 3], s: [3, 2], padding: 'same' },
  { h: 10, w: 10, c: 1, m: 1, k: [5, 5], s: [2, 1], padding: 'valid' },
];
const dilated: Case[] = [
  { h: 9, w: 9, c: 2, m: 1, k: [3, 3], s: [1, 1], d: [2, 2], padding: 'same' },
  { h: 10, w: 9, c: 2, m: 2, k: [3, 2], s: [1, 1], d: [2, 3], padding: 'valid' },
  { h: 8, w: 8, c: 3, m: 1, k: [2, 2], s: [1, 1], d: [3, 1], padding: 'same' },
];

function inputs(c: Case, seed: number) {
  const x = tf.randomNormal([3, c.h, c.w, c.c], 0, 1, 'float32', seed) as tf.Tensor4D;
  const f = tf.randomNormal([...c.k, c.c, c.m], 0, 0.3, 'float32', seed + 1) as tf.Tensor4D;
  const b = tf.randomNormal([c.c * c.m], 0, 0.1, 'float32', seed + 2) as tf.Tensor1D;
  const p = convPadding(c.h, c.w, c.k[0], c.k[1], c.s, c.padding, c.d ?? 1);
  const dy = tf.randomNormal([3, p.outH, p.outW, c.c * c.m], 0, 1, 'float32', seed + 3);
  return { x, f, b, dy };
}

const geometry = (c: Case) => ({ stride: c.s, padding: c.padding, dilation: c.d ?? 1 });

function gradsOf(mode: GradientMode, x: tf.Tensor4D, f: tf.Tensor4D, b: tf.Tensor1D, dy: tf.Tensor, c: Case, reference = false) {
  const fwd = (xx: tf.Tensor4D, ff: tf.Tensor4D, bb: tf.Tensor1D) =>
    reference ? depthwiseConv2d(xx, dilateKernel(ff, c.d as [number, number]), bb, { stride: 1, padding: c.padding }) : depthwiseConv2d(xx, ff, bb, geometry(c));
  return withGradientMode(mode, () => tf.grads((xx, ff, bb) => tf.sum(tf.mul(fwd(xx as tf.Tensor4D, ff as tf.Tensor4D, bb as tf.Tensor1D), dy)))([x, f, b]));
}

describe('depthwise conv2d gradients from forward ops', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(cases)('match tfjs stock gradients on cpu: %o', async (c) => {
    const { x, f, b, dy } = inputs(c, 10);
    await expectNoLeak(() => {
      const ours = gradsOf('custom', x, f, b, dy, c);
      const stock = gradsOf('stock', x, f, b, dy, c);
      ours.forEach((g, i) => {
        expect(g.shape).toEqual(stock[i]?.shape);
        expect(relErr(g, stock[i] as tf.Tensor)).toBeLessThanOrEqual(1e-5);
      });
      tf.dispose([...ours, ...stock]);
    });
    tf.dispose([x, f, b, dy]);
  });

  it.each(dilated)('with dilation, match stock gradients through the zero-dilated kernel: %o', async (c) => {
    const { x, f, b, dy } = inputs(c, 30);
    await expectNoLeak(() => {
      const y = tf.tidy(() => depthwiseConv2d(x, f, b, geometry(c)));
      const yRef = tf.tidy(() => depthwiseConv2d(x, dilateKernel(f, c.d as [number, number]), b, { stride: 1, padding: c.padding }));
      expect(relErr(y, yRef)).toBeLessThanOrEqual(1e-5);
      const ours = gradsOf('auto', x, f, b, dy, c);
      const ref = gradsOf('stock', x, f, b, dy, c, true);
      ours.forEach((g, i) => expect(relErr(g, ref[i] as tf.Tensor)).toBeLessThanOrEqual(1e-5));
      tf.dispose([y, yRef, ...ours, ...ref]);
    });
    tf.dispose([x, f, b, dy]);
  });

  it.each([...cases, ...dilated])('the tap-by-tap filter gradient matches stock gradients on cpu within 1e-5: %o', async (c) => {
    const { x, f, b, dy } = inputs(c, 50);
    const ref = gradsOf('stock', x, f, b, dy, c, c.d !== undefined)[1] as tf.Tensor;
    await expectNoLeak(() => {
      const g = depthwiseFilterGradTaps(x, dy as tf.Tensor4D, f.shape, c.s, c.padding, c.d ?? 1);
      expect(g.shape).toEqual(f.shape);
      expect(relErr(g, ref)).toBeLessThanOrEqual(1e-5);
      g.dispose();
    });
    tf.dispose([x, f, b, dy, ref]);
  });

  it('the ops alone match the backprop kernels and leak nothing', async () => {
    const c = cases[4] as Case;
    const { x, f, b, dy } = inputs(c, 40);
    await expectNoLeak(() => {
      const gf = depthwiseFilterGrad(x, dy as tf.Tensor4D, f.shape, c.s, c.padding);
      const gx = depthwiseInputGrad(dy as tf.Tensor4D, f, x.shape, c.s, c.padding);
      const [rx, rf] = withGradientMode('stock', () =>
        tf.grads((xx, ff) => tf.sum(tf.mul(tf.depthwiseConv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, c.s, c.padding), dy)))([x, f]),
      ) as [tf.Tensor4D, tf.Tensor4D];
      expect(relErr(gf, rf)).toBeLessThanOrEqual(1e-5);
      expect(relErr(gx, rx)).toBeLessThanOrEqual(1e-5);
      tf.dispose([gf, gx, rf, rx]);
    });
    tf.dispose([x, f, b, dy]);
  });

  it('trains on wasm (no depthwise backprop kernels there) and agrees with cpu stock gradients', async () => {
    for (const c of [cases[3], cases[2], dilated[1], dilated[0]] as Case[]) {
      const { x, f, b, dy } = inputs(c, 20);
      const ref = gradsOf('stock', x, f, b, dy, c, c.d !== undefined).map((g) => g.dataSync().slice());
      const host = [x, f, b, dy].map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
      tf.dispose([x, f, b, dy]);
      await tf.setBackend('wasm');
      try {
        const [xw, fw, bw, dyw] = host.map((h) => tf.tensor(h.v, h.s)) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.Tensor];
        await expectNoLeak(() => {
          if (!c.d) {
            // tfjs's own gradient too: wasm lacks the depthwise backprop kernels, forgetless registers them there
            const viaKernels = gradsOf('stock', xw, fw, bw, dyw, c);
            viaKernels.forEach((g, i) => expect(relErr(g.dataSync(), ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
            tf.dispose(viaKernels);
          }
          const ours = gradsOf('auto', xw, fw, bw, dyw, c);
          ours.forEach((g, i) => expect(relErr(g.dataSync(), ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
          tf.dispose(ours);
        });
        tf.dispose([xw, fw, bw, dyw]);
      } finally {
        await tf.setBackend('cpu');
      }
    }
  });
});
