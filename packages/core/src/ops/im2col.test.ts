import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { conv2d, convPadding } from './conv2d.js';
import { type ConvFormulation, withConvFormulation } from './formulation.js';
import { type GradientMode, withGradientMode } from './gradients.js';
import { conv2dFilterGradIm2col, conv2dInputGradIm2col, conv2dInputGradTaps } from './im2col.js';

type Case = { n: number; h: number; w: number; c: number; o: number; k: [number, number]; s: [number, number]; d?: [number, number]; padding: 'same' | 'valid' };
const cases: Case[] = [
  { n: 3, h: 8, w: 8, c: 3, o: 4, k: [3, 3], s: [1, 1], padding: 'valid' },
  { n: 2, h: 9, w: 7, c: 9, o: 5, k: [3, 3], s: [1, 1], padding: 'same' },
  { n: 1, h: 9, w: 7, c: 10, o: 5, k: [3, 3], s: [2, 2], padding: 'same' },
  { n: 2, h: 9, w: 8, c: 8, o: 3, k: [3, 2], s: [2, 3], padding: 'valid' },
  { n: 2, h: 11, w: 10, c: 2, o: 3, k: [4, 3], s: [3, 2], padding: 'same' },
  { n: 3, h: 10, w: 10, c: 1, o: 6, k: [5, 5], s: [1, 1], padding: 'valid' },
  { n: 2, h: 7, w: 6, c: 12, o: 7, k: [1, 1], s: [1, 1], padding: 'same' },
  { n: 1, h: 7, w: 6, c: 12, o: 7, k: [1, 1], s: [2, 2], padding: 'valid' },
  { n: 2, h: 9, w: 9, c: 8, o: 4, k: [3, 3], s: [1, 1], d: [2, 2], padding: 'same' },
  { n: 1, h: 10, w: 9, c: 2, o: 3, k: [3, 2], s: [1, 1], d: [2, 3], padding: 'valid' },
];

function inputs(c: Case, seed: number) {
  const x = tf.randomNormal([c.n, c.h, c.w, c.c], 0, 1, 'float32', seed) as tf.Tensor4D;
  const f = tf.randomNormal([...c.k, c.c, c.o], 0, 0.3, 'float32', seed + 1) as tf.Tensor4D;
  const p = convPadding(c.h, c.w, c.k[0], c.k[1], c.s, c.padding, c.d ?? 1);
  const dy = tf.randomNormal([c.n, p.outH, p.outW, c.o], 0, 1, 'float32', seed + 3) as tf.Tensor4D;
  return { x, f, dy };
}

/** tfjs's own gradients on cpu; a dilated conv (no tfjs gradient) as a stride-1 conv with the zero-dilated kernel. */
function stockGrads(x: tf.Tensor4D, f: tf.Tensor4D, dy: tf.Tensor4D, c: Case): tf.Tensor[] {
  return withGradientMode('stock', () =>
    tf.grads((xx, ff) => {
      const kernel = c.d ? dilate(ff as tf.Tensor4D, c.d) : (ff as tf.Tensor4D);
      return tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, kernel, c.d ? 1 : c.s, c.padding), dy));
    })([x, f]),
  );
}

/** Wd[a·dh, b·dw] = W[a, b], zeros elsewhere: a pad and reshape per axis (stock gradients). */
function dilate(w: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
  const [kh, kw, c, o] = w.shape;
  const rows = tf.reshape(
    tf.slice(
      tf.reshape(
        tf.pad(tf.reshape(w, [kh, 1, kw * c * o]), [
          [0, 0],
          [0, dh - 1],
          [0, 0],
        ]),
        [kh * dh, kw * c * o],
      ),
      0,
      (kh - 1) * dh + 1,
    ),
    [(kh - 1) * dh + 1, kw, 1, c * o],
  );
  const cols = tf.pad(rows, [
    [0, 0],
    [0, 0],
    [0, dw - 1],
    [0, 0],
  ]);
  const eh = (kh - 1) * dh + 1;
  return tf.reshape(tf.slice(tf.reshape(cols, [eh, kw * dw, c, o]), [0, 0, 0, 0], [eh, (kw - 1) * dw + 1, c, o]), [eh, (kw - 1) * dw + 1, c, o]) as tf.Tensor4D;
}

function layerGrads(mode: GradientMode, formulation: ConvFormulation, x: tf.Tensor4D, f: tf.Tensor4D, dy: tf.Tensor4D, c: Case): tf.Tensor[] {
  return withConvFormulation(formulation, () =>
    withGradientMode(mode, () =>
      tf.grads((xx, ff) => tf.sum(tf.mul(conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, undefined, { stride: c.s, padding: c.padding, dilation: c.d ?? 1 }), dy)))([x, f]),
    ),
  );
}

describe('conv2d gradients as matrix products over patches (im2col)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(cases)('the ops match tfjs stock gradients on cpu within 1e-5: %o', async (c) => {
    const { x, f, dy } = inputs(c, 11);
    const [rx, rf] = stockGrads(x, f, dy, c) as [tf.Tensor, tf.Tensor];
    await expectNoLeak(() => {
      const gf = conv2dFilterGradIm2col(x, dy, f.shape, c.s, c.padding, c.d ?? 1);
      const gx = conv2dInputGradIm2col(dy, f, x.shape, c.s, c.padding, c.d ?? 1);
      const gt = conv2dInputGradTaps(dy, f, x.shape, c.s, c.padding, c.d ?? 1);
      expect(gf.shape).toEqual(f.shape);
      expect(gx.shape).toEqual(x.shape);
      expect(gt.shape).toEqual(x.shape);
      expect(relErr(gf, rf)).toBeLessThanOrEqual(1e-5);
      expect(relErr(gx, rx)).toBeLessThanOrEqual(1e-5);
      expect(relErr(gt, rx), 'taps').toBeLessThanOrEqual(1e-5);
      tf.dispose([gf, gx, gt]);
    });
    tf.dispose([x, f, dy, rx, rf]);
  });

  it.each(cases)('the registered gradients match stock under every formulation: %o', async (c) => {
    const { x, f, dy } = inputs(c, 21);
    const ref = stockGrads(x, f, dy, c);
    for (const formulation of ['auto', 'im2col', 'forward-conv'] as const) {
      await expectNoLeak(() => {
        const ours = layerGrads('custom', formulation, x, f, dy, c);
        ours.forEach((g, i) => expect(relErr(g, ref[i] as tf.Tensor), `${formulation} ${i ? 'filter' : 'x'}`).toBeLessThanOrEqual(1e-5));
        tf.dispose(ours);
      });
    }
    tf.dispose([x, f, dy, ...ref]);
  });

  it('train on wasm under every formulation, agreeing with cpu stock gradients', async () => {
    const picked = [cases[1], cases[2], cases[6], cases[8]] as Case[];
    const hosts = picked.map((c, i) => {
      const { x, f, dy } = inputs(c, 31 + i);
      const ref = stockGrads(x, f, dy, c).map((g) => g.dataSync().slice());
      const host = [x, f, dy].map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
      tf.dispose([x, f, dy]);
      return { c, ref, host };
    });
    await tf.setBackend('wasm');
    try {
      for (const { c, ref, host } of hosts) {
        const [x, f, dy] = host.map((h) => tf.tensor(h.v, h.s)) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        for (const formulation of ['auto', 'im2col', 'forward-conv'] as const) {
          await expectNoLeak(() => {
            const ours = layerGrads('auto', formulation, x, f, dy, c);
            ours.forEach((g, i) => expect(relErr(g.dataSync(), ref[i] as Float32Array), `${formulation} ${JSON.stringify(c)}`).toBeLessThanOrEqual(1e-5));
            tf.dispose(ours);
          });
        }
        tf.dispose([x, f, dy]);
      }
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
