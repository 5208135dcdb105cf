import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { conv2d, convPadding } from './conv2d.js';
import { type GradientMode, withGradientMode } from './gradients.js';

type Case = { h: number; w: number; c: number; o: number; k: [number, number]; s: [number, number]; d?: [number, number]; padding: 'same' | 'valid' };
const strided: Case[] = [
  { h: 9, w: 8, c: 2, o: 3, k: [3, 3], s: [2, 1], padding: 'same' },
  { h: 10, w: 11, c: 3, o: 2, k: [3, 2], s: [1, 3], padding: 'valid' },
  { h: 12, w: 9, c: 2, o: 4, k: [4, 3], s: [3, 2], padding: 'same' },
];
const dilated: Case[] = [
  { h: 9, w: 9, c: 2, o: 3, k: [3, 3], s: [1, 1], d: [2, 2], padding: 'same' },
  { h: 10, w: 9, c: 3, o: 2, k: [3, 2], s: [1, 1], d: [2, 3], padding: 'valid' },
  { h: 8, w: 8, c: 2, o: 2, k: [2, 2], s: [1, 1], d: [3, 1], padding: 'same' },
];

/** Wd[a·dh, b·dw] = W[a, b], zeros elsewhere, by selection matrices (stock matMul gradients). */
function dilateKernel(w: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
  const [kh, kw, c, m] = w.shape;
  const sel = (k: number, d: number) => tf.tidy(() => tf.transpose(tf.cast(tf.oneHot(tf.range(0, (k - 1) * d + 1, d, 'int32'), (k - 1) * d + 1), 'float32')));
  const [eh, ew] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const rows = tf.matMul(sel(kh, dh) as tf.Tensor2D, tf.reshape(w, [kh, kw * c * m]) as tf.Tensor2D);
  const t = tf.reshape(tf.transpose(tf.reshape(rows, [eh, kw, c * m]), [1, 0, 2]), [kw, eh * c * m]);
  const cols = tf.matMul(sel(kw, dw) as tf.Tensor2D, t as tf.Tensor2D);
  return tf.transpose(tf.reshape(cols, [ew, eh, c, m]), [1, 0, 2, 3]) as tf.Tensor4D;
}

function inputs(c: Case, seed: number) {
  const x = tf.randomNormal([3, c.h, c.w, c.c], 0, 1, 'float32', seed) as tf.Tensor4D;
  const f = tf.randomNormal([...c.k, c.c, c.o], 0, 0.3, 'float32', seed + 1) as tf.Tensor4D;
  const b = tf.randomNormal([c.o], 0, 0.1, 'float32', seed + 2) as tf.Tensor1D;
  const p = convPadding(c.h, c.w, c.k[0], c.k[1], c.s, c.padding, c.d ?? 1);
  const dy = tf.randomNormal([3, p.outH, p.outW, c.o], 0, 1, 'float32', seed + 3);
  return { x, f, b, dy };
}

function gradsOf(mode: GradientMode, t: ReturnType<typeof inputs>, c: Case, reference = false) {
  const fwd = (x: tf.Tensor4D, f: tf.Tensor4D, b: tf.Tensor1D) =>
    reference
      ? conv2d(x, dilateKernel(f, c.d as [number, number]), b, { stride: 1, padding: c.padding })
      : conv2d(x, f, b, { stride: c.s, padding: c.padding, dilation: c.d ?? 1 });
  return withGradientMode(mode, () => tf.grads((x, f, b) => tf.sum(tf.mul(fwd(x as tf.Tensor4D, f as tf.Tensor4D, b as tf.Tensor1D), t.dy)))([t.x, t.f, t.b]));
}

describe('conv2d gradients: unequal strides, dilation, conv2dTranspose', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(strided)('unequal strides match tfjs stock gradients on cpu: %o', async (c) => {
    const t = inputs(c, 10);
    await expectNoLeak(() => {
      const ours = gradsOf('custom', t, c);
      const stock = gradsOf('stock', t, c);
      ours.forEach((g, i) => expect(relErr(g, stock[i] as tf.Tensor)).toBeLessThanOrEqual(1e-5));
      tf.dispose([...ours, ...stock]);
    });
    tf.dispose(Object.values(t));
  });

  it.each(dilated)('dilation (no tfjs gradient) matches stock gradients through the zero-dilated kernel: %o', async (c) => {
    const t = inputs(c, 30);
    await expectNoLeak(() => {
      const y = tf.tidy(() => conv2d(t.x, t.f, t.b, { stride: 1, padding: c.padding, dilation: c.d }));
      const yRef = tf.tidy(() => conv2d(t.x, dilateKernel(t.f, c.d as [number, number]), t.b, { stride: 1, padding: c.padding }));
      expect(relErr(y, yRef)).toBeLessThanOrEqual(1e-5);
      const ref = gradsOf('stock', t, c, true);
      for (const mode of ['auto', 'custom', 'stock'] as const) {
        const ours = gradsOf(mode, t, c);
        ours.forEach((g, i) => expect(relErr(g, ref[i] as tf.Tensor)).toBeLessThanOrEqual(1e-5));
        tf.dispose(ours);
      }
      tf.dispose([y, yRef, ...ref]);
    });
    tf.dispose(Object.values(t));
  });

  const transposed = [
    { s: 2, padding: 'same', k: 3, h: 5 },
    { s: 2, padding: 'valid', k: 3, h: 4 },
    { s: 3, padding: 'valid', k: 2, h: 4 },
    { s: 1, padding: 'same', k: 3, h: 6 },
  ] as const;
  const transposedGrads = (mode: GradientMode, x: tf.Tensor4D, f: tf.Tensor4D, dy: tf.Tensor, outShape: [number, number, number, number], c: (typeof transposed)[number]) =>
    withGradientMode(mode, () => tf.grads((xx, ff) => tf.sum(tf.mul(tf.conv2dTranspose(xx as tf.Tensor4D, ff as tf.Tensor4D, outShape, c.s, c.padding), dy)))([x, f]));

  it.each(transposed)("conv2dTranspose's filter gradient matches stock on cpu, and runs on wasm: %o", async (c) => {
    const hOut = c.padding === 'same' ? c.h * c.s : c.h * c.s + Math.max(c.k - c.s, 0);
    const outShape: [number, number, number, number] = [2, hOut, hOut, 3];
    const x = tf.randomNormal([2, c.h, c.h, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
    const f = tf.randomNormal([c.k, c.k, 3, 4], 0, 0.3, 'float32', 2) as tf.Tensor4D;
    const dy = tf.randomNormal(outShape, 0, 1, 'float32', 3);
    const stock = transposedGrads('stock', x, f, dy, outShape, c);
    await expectNoLeak(() => {
      const ours = transposedGrads('custom', x, f, dy, outShape, c);
      ours.forEach((g, i) => expect(relErr(g, stock[i] as tf.Tensor)).toBeLessThanOrEqual(1e-5));
      tf.dispose(ours);
    });
    const ref = stock.map((g) => g.dataSync().slice());
    const host = [x, f, dy].map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
    tf.dispose([x, f, dy, ...stock]);
    await tf.setBackend('wasm');
    try {
      const [xw, fw, dyw] = host.map((h) => tf.tensor(h.v, h.s)) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor];
      await expectNoLeak(() => {
        // tfjs's own gradient too: wasm lacks Conv2DBackpropFilter, forgetless registers one there
        const viaKernel = transposedGrads('stock', xw, fw, dyw, outShape, c);
        viaKernel.forEach((g, i) => expect(relErr(g.dataSync(), ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
        tf.dispose(viaKernel);
        const ours = transposedGrads('auto', xw, fw, dyw, outShape, c);
        ours.forEach((g, i) => expect(relErr(g.dataSync(), ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
        tf.dispose(ours);
      });
      tf.dispose([xw, fw, dyw]);
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('dilated and unequal-stride convolutions train on wasm and agree with cpu', async () => {
    for (const c of [strided[2], dilated[1]] as Case[]) {
      const t = inputs(c, 50);
      const ref = gradsOf('stock', t, c, c.d !== undefined).map((g) => g.dataSync().slice());
      const host = Object.values(t).map((v) => ({ v: v.dataSync().slice(), s: v.shape }));
      tf.dispose(Object.values(t));
      await tf.setBackend('wasm');
      try {
        const [x, f, b, dy] = host.map((h) => tf.tensor(h.v, h.s)) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.Tensor];
        await expectNoLeak(() => {
          const ours = gradsOf('auto', { x, f, b, dy }, c);
          ours.forEach((g, i) => expect(relErr(g.dataSync(), ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
          tf.dispose(ours);
        });
        tf.dispose([x, f, b, dy]);
      } finally {
        await tf.setBackend('cpu');
      }
    }
  });
});
