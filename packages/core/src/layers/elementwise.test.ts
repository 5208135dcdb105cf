import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { Rng } from '../rng.js';
import { AlphaDropout, GaussianDropout, GaussianNoise, Rescaling, Softmax, SpatialDropout } from './elementwise.js';

const built = <T extends { build(s: (number | null)[], r: Rng): unknown }>(l: T, shape: (number | null)[]): T => {
  l.build(shape, new Rng(0));
  return l;
};

const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;
const variance = (v: ArrayLike<number>) => {
  const m = mean(v);
  return mean(Array.from(v, (x) => (x - m) ** 2));
};

describe('softmax layer', () => {
  it.each([[-1], [1], [2], [[1, 2]], [[-1, 1]]] as (number | number[])[][])('axis %j equals tfjs-layers Softmax (values and gradients)', (axis) => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 3, 4], 0, 2, 'float32', 1);
      const dy = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 2);
      const ours = built(new Softmax({ axis }), [3, 4]);
      const ref = tfl.layers.softmax({ axis: axis as number });
      const f = (t: tf.Tensor) => ours.apply(t, { training: false });
      // tfjs-core's softmax only takes the last axis: tfjs-layers' Softmax fails on the others, so
      // the reference there is exp(x − logΣexp(x)) over the axes
      const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + 3 : a));
      const lastOnly = axes.length === 1 && axes[0] === 2;
      const fr = lastOnly ? (t: tf.Tensor) => ref.apply(t) as tf.Tensor : (t: tf.Tensor) => tf.div(tf.exp(t), tf.sum(tf.exp(t), axes, true));
      expect(relErr(f(x), fr(x))).toBeLessThanOrEqual(1e-6);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dy)))(x);
      const gr = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(fr(t), dy)))(x);
      expect(relErr(g, gr)).toBeLessThanOrEqual(1e-5);
    });
  });

  it('knows once built whether it is over the last axis alone', () => {
    expect(built(new Softmax({ axis: 1 }), [5]).isLastAxis).toBe(true);
    expect(built(new Softmax({ axis: [-1] }), [3, 5]).isLastAxis).toBe(true);
    expect(built(new Softmax({ axis: 1 }), [3, 5]).isLastAxis).toBe(false);
    expect(built(new Softmax({ axis: [1, 2] }), [3, 5]).isLastAxis).toBe(false);
  });

  it('rejects the batch axis and axes outside the input', () => {
    expect(() => new Softmax({ axis: 0 })).toThrow(/0 is the batch axis/);
    expect(() => built(new Softmax({ axis: 3 }), [4, 5])).toThrow(/outside the input/);
  });
});

describe('rescaling', () => {
  it('equals tfjs-layers Rescaling (scalar) and broadcasts per-channel lists; casts int inputs', () => {
    tf.tidy(() => {
      const x = tf.randomUniform([2, 3, 3], 0, 255, 'float32', 3);
      const ours = built(new Rescaling({ scale: 1 / 255, offset: -0.5 }), [3, 3]);
      const ref = tfl.layers.rescaling({ scale: 1 / 255, offset: -0.5 });
      expect(relErr(ours.apply(x, { training: false }), ref.apply(x) as tf.Tensor)).toBeLessThanOrEqual(1e-6);
      const perChannel = built(new Rescaling({ scale: [1, 2, 3], offset: [0, 1, 0] }), [3, 3]);
      const y = perChannel.apply(tf.tensor3d([[[1, 1, 1]]], [1, 1, 3], 'int32'), { training: false });
      expect(y.dtype).toBe('float32');
      expect(Array.from(y.dataSync())).toEqual([1, 3, 3]);
    });
    expect(() => new Rescaling({ scale: Number.NaN })).toThrow(/scale must be a finite number/);
  });
});

describe('noise layers: identity at inference, seeded noise in training', () => {
  const x = () => tf.fill([400, 50], 2);

  it('gaussianNoise: x + N(0, σ²); same seed, same noise', async () => {
    const l = built(new GaussianNoise(0.5), [50]);
    await expectNoLeak(() =>
      tf.tidy(() => {
        expect(l.apply(x(), { training: false }).dataSync()).toEqual(x().dataSync());
        const a = l.apply(x(), { training: true, rng: new Rng(1) }).dataSync();
        const b = l.apply(x(), { training: true, rng: new Rng(1) }).dataSync();
        expect(Array.from(a)).toEqual(Array.from(b));
        expect(Math.abs(mean(a) - 2)).toBeLessThan(0.02);
        expect(Math.abs(Math.sqrt(variance(a)) - 0.5)).toBeLessThan(0.02);
      }),
    );
  });

  it('gaussianDropout: x · N(1, rate/(1 − rate))', () => {
    const l = built(new GaussianDropout(0.2), [50]);
    tf.tidy(() => {
      expect(l.apply(x(), { training: false }).dataSync()).toEqual(x().dataSync());
      const a = l.apply(x(), { training: true, rng: new Rng(2) }).dataSync();
      expect(Math.abs(mean(a) - 2)).toBeLessThan(0.03);
      expect(Math.abs(Math.sqrt(variance(a)) - 2 * Math.sqrt(0.2 / 0.8))).toBeLessThan(0.03);
    });
    expect(() => new GaussianDropout(1)).toThrow(/rate must be in \[0, 1\)/);
  });

  it('spatialDropout: whole channels dropped (1D and 2D), kept ones scaled by 1/(1 − rate); Keras noise shapes', () => {
    tf.tidy(() => {
      const d1 = built(new SpatialDropout({ rate: 0.5, rank: 2 }), [6, 40]);
      const y = d1.apply(tf.ones([8, 6, 40]), { training: true, rng: new Rng(3) });
      const v = (y.arraySync() as number[][][]).flatMap((ex) => ex[0]?.map((_, c) => ex.map((row) => row[c] as number)) ?? []);
      for (const column of v) expect(new Set(column).size).toBe(1); // a channel is 0 or 2 at every step
      const kept = mean(v.map((c) => (c[0] === 2 ? 1 : 0)));
      expect(kept).toBeGreaterThan(0.35);
      expect(kept).toBeLessThan(0.65);
      expect(
        d1
          .apply(tf.ones([8, 6, 40]), { training: false })
          .dataSync()
          .every((e) => e === 1),
      ).toBe(true);
      const d2 = built(new SpatialDropout({ rate: 0.3, rank: 3 }), [4, 4, 30]);
      const y2 = d2.apply(tf.ones([5, 4, 4, 30]), { training: true, rng: new Rng(4) });
      const perChannel = tf.sub(tf.max(y2, [1, 2]), tf.min(y2, [1, 2]));
      expect(tf.max(perChannel).dataSync()[0]).toBe(0);
      // Keras Dropout(noise_shape=[null, 1, 30]) on [batch, 4, 30]
      const shaped = built(new SpatialDropout({ rate: 0.5, noiseShape: [null, 1, 30] }), [4, 30]);
      const y3 = shaped.apply(tf.ones([3, 4, 30]), { training: true, rng: new Rng(5) });
      expect(tf.max(tf.sub(tf.max(y3, 1), tf.min(y3, 1))).dataSync()[0]).toBe(0);
    });
    expect(() => built(new SpatialDropout({ rate: 0.5, rank: 2 }), [4, 4, 3])).toThrow(/rank 2/);
    expect(() => built(new SpatialDropout({ rate: 0.5, noiseShape: [null, 2, 30] }), [4, 30])).toThrow(/does not broadcast/);
  });

  it('alphaDropout (Keras): keeps mean 0 and variance 1 of standard normal inputs; dropped values are a·α′ + b', () => {
    const l = built(new AlphaDropout({ rate: 0.2 }), [50]);
    tf.tidy(() => {
      const z = tf.randomNormal([400, 50], 0, 1, 'float32', 6);
      expect(l.apply(z, { training: false })).toBe(z);
      const a = l.apply(z, { training: true, rng: new Rng(7) }).dataSync();
      expect(Math.abs(mean(a))).toBeLessThan(0.02);
      expect(Math.abs(variance(a) - 1)).toBeLessThan(0.03);
      const alphaP = -1.6732632423543772 * 1.0507009873554805;
      const A = (0.8 * (1 + 0.2 * alphaP * alphaP)) ** -0.5;
      const dropped = A * alphaP + -A * alphaP * 0.2;
      const share = mean(Array.from(a, (v) => (Math.abs(v - dropped) < 1e-5 ? 1 : 0)));
      expect(Math.abs(share - 0.2)).toBeLessThan(0.02);
    });
  });
});
