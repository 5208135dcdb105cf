import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import './gradients.js';
import { activation, batchNorm, conv2d, dense, dropout, flatten, maxPool2d, avgPool2d } from './layers/index.js';
import type { LayerCapture } from './layers/layer.js';
import { softmaxCrossEntropy } from './loss.js';
import { Sequential, modelFromConfig } from './model.js';
import { type GradientMode, withGradientMode } from './ops/gradients.js';
import { mlp, modelFromSpec, paper2ConvNet } from './presets.js';
import { Rng } from './rng.js';

function smallConvNet(seed = 1) {
  return new Sequential(
    [
      conv2d(4, 3, { padding: 'same' }),
      batchNorm(),
      activation({ name: 'leakyRelu', alpha: 0.1 }),
      maxPool2d(),
      conv2d(3, 3, { stride: 2 }),
      activation('tanh'),
      avgPool2d({ poolSize: 1 }),
      flatten(),
      dense(5),
    ],
    { inputShape: [8, 8, 1], seed },
  );
}

function lossGrads(model: Sequential, x: tf.Tensor, y: tf.Tensor1D, training: boolean, mode: GradientMode = 'auto') {
  return withGradientMode(mode, () =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => softmaxCrossEntropy(model.apply(x, { training }), y), Object.values(model.params));
      return Object.values(model.params).map((v) => tf.keep(grads[v.name] as tf.Tensor));
    }),
  );
}

describe('Sequential', () => {
  it('names parameters by layer kind and index, with shapes and seeded initialisation', () => {
    const m = mlp([784, 300, 150, 10], { seed: 3, init: 'paper' });
    expect(Object.keys(m.params)).toEqual(['dense_0/kernel', 'dense_0/bias', 'dense_1/kernel', 'dense_1/bias', 'dense_2/kernel', 'dense_2/bias']);
    expect(m.countParams()).toBe(784 * 300 + 300 + 300 * 150 + 150 + 150 * 10 + 10);
    const std = tf.tidy(() => Math.sqrt(tf.moments(m.params['dense_0/kernel'] as tf.Tensor).variance.dataSync()[0] as number));
    expect(std).toBeCloseTo(2 / Math.sqrt(784), 3); // paper init: stddev 2/sqrt(fan_in)
    const again = mlp([784, 300, 150, 10], { seed: 3, init: 'paper' });
    expect(relErr(again.params['dense_1/kernel'] as tf.Tensor, m.params['dense_1/kernel'] as tf.Tensor)).toBe(0);
    const c = paper2ConvNet();
    expect(Object.keys(c.params)).toContain('batch_norm_2/gamma');
    expect(c.shapes.conv2d_2?.output).toEqual([8, 8, 256]);
    expect(Object.keys(c.state)).toEqual([
      'batch_norm_0/moving_mean',
      'batch_norm_0/moving_variance',
      'batch_norm_1/moving_mean',
      'batch_norm_1/moving_variance',
      'batch_norm_2/moving_mean',
      'batch_norm_2/moving_variance',
    ]);
    [m, again, c].forEach((x) => x.dispose());
  });

  it('fast gradients of a whole conv net (conv, batchNorm train mode, pools) equal tfjs stock ones on cpu', () => {
    const fast = smallConvNet();
    const stock = smallConvNet();
    const x = tf.randomNormal([6, 8, 8, 1], 0, 1, 'float32', 5);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 0], 'int32');
    const gf = lossGrads(fast, x, y, true, 'custom');
    const gs = lossGrads(stock, x, y, true, 'stock');
    const names = Object.keys(fast.params);
    gf.forEach((g, i) => {
      // conv2d_0's bias feeds a batch norm: its gradient is zero but for rounding (the custom mode's
      // batch norm has its gradient in closed form), so it is compared at its kernel's scale
      if (names[i] === 'conv2d_0/bias') {
        const scale = tf.tidy(() => tf.max(tf.abs(gs[i - 1] as tf.Tensor)).dataSync()[0] as number);
        expect(tf.tidy(() => tf.max(tf.abs(tf.sub(g, gs[i] as tf.Tensor))).dataSync()[0] as number) / scale).toBeLessThanOrEqual(1e-5);
      } else expect(relErr(g, gs[i] as tf.Tensor), names[i]).toBeLessThanOrEqual(1e-5);
    });
    tf.dispose([...gf, ...gs, x, y]);
    fast.dispose();
    stock.dispose();
  });

  it('trains a conv net with batchNorm and pooling on wasm, agreeing with cpu', async () => {
    const x = tf.randomNormal([4, 8, 8, 1], 0, 1, 'float32', 9);
    const xs = x.dataSync().slice();
    x.dispose();
    const ref = (() => {
      const m = smallConvNet(2);
      const xx = tf.tensor(xs, [4, 8, 8, 1]);
      const y = tf.tensor1d([1, 2, 3, 4], 'int32');
      const g = lossGrads(m, xx, y, true, 'stock').map((t) => t.dataSync().slice());
      m.dispose();
      tf.dispose([xx, y]);
      return g;
    })();
    await tf.setBackend('wasm');
    try {
      const m = smallConvNet(2);
      const xx = tf.tensor(xs, [4, 8, 8, 1]);
      const y = tf.tensor1d([1, 2, 3, 4], 'int32');
      const g = lossGrads(m, xx, y, true);
      // conv2d_0/bias feeds a training-mode batchNorm, so its true gradient is 0 and only rounding
      // remains: compare each gradient relative to the largest gradient entry of the whole model.
      const flat = (arrs: ArrayLike<number>[]) => Float32Array.from(arrs.flatMap((a) => Array.from(a)));
      expect(relErr(flat(g.map((t) => t.dataSync())), flat(ref))).toBeLessThan(1e-5);
      tf.dispose([...g, xx, y]);
      m.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('batchNorm: batch statistics and moving averages in training, moving statistics in inference', () => {
    const m = new Sequential([batchNorm({ momentum: 0.5 })], { inputShape: [2] });
    const x = tf.tensor2d([
      [1, 10],
      [3, 14],
      [5, 12],
    ]);
    tf.tidy(() => {
      const y = m.apply(x, { training: true });
      const { mean, variance } = tf.moments(y, 0);
      expect(relErr(mean, tf.zeros([2]))).toBeLessThan(1e-5);
      expect(Array.from(variance.dataSync()).every((v) => Math.abs(v - 1) < 1e-4)).toBe(true);
    });
    // mean (3, 12), biased variance (8/3, 8/3): moving = 0.5·init + 0.5·batch
    expect(Array.from(m.state['batch_norm_0/moving_mean']?.dataSync() ?? [])).toEqual([1.5, 6]);
    expect(relErr(m.state['batch_norm_0/moving_variance'] as tf.Tensor, tf.tensor([0.5 + 4 / 3, 0.5 + 4 / 3]))).toBeLessThan(1e-6);
    const yi = m.apply(tf.tensor2d([[1.5, 6]]));
    expect(relErr(yi, tf.tensor2d([[0, 0]]))).toBeLessThan(1e-6);
    tf.dispose([x, yi]);
    m.dispose();
  });

  it('captures inputs, pre-activations and outputs; zero taps give per-example δ', async () => {
    const m = mlp([5, 4, 3], { activation: 'tanh', seed: 4 });
    const x = tf.randomNormal([3, 5], 0, 1, 'float32', 1);
    const y = tf.tensor1d([0, 2, 1], 'int32');
    await expectNoLeak(() =>
      tf.tidy(() => {
        const cap: Record<string, LayerCapture> = {};
        const logits = m.apply(x, { capture: cap });
        const c0 = cap.dense_0 as LayerCapture;
        expect(c0.input).toBe(x);
        expect(relErr(c0.output, tf.tanh(c0.preActivation))).toBe(0);
        expect(relErr((cap.dense_1 as LayerCapture).output, tf.softmax(logits))).toBe(0);
        // δ for example n from the taps equals ∂loss_n/∂z computed on that example alone.
        const taps = { dense_0: tf.zeros([3, 4]), dense_1: tf.zeros([3, 3]) };
        const perEx = (xx: tf.Tensor, yy: tf.Tensor1D, t: Record<string, tf.Tensor>) => tf.mul(softmaxCrossEntropy(m.apply(xx, { taps: t }), yy), yy.shape[0]) as tf.Scalar;
        const [d0] = tf.grads((a: tf.Tensor, b: tf.Tensor) => perEx(x, y, { dense_0: a, dense_1: b }))([taps.dense_0, taps.dense_1]);
        for (let n = 0; n < 3; n++) {
          const xn = tf.slice(x, [n, 0], [1, 5]);
          const yn = tf.slice(y, [n], [1]);
          const [g] = tf.grads((a: tf.Tensor, b: tf.Tensor) => perEx(xn, yn, { dense_0: a, dense_1: b }))([tf.zeros([1, 4]), tf.zeros([1, 3])]);
          expect(relErr(tf.slice(d0 as tf.Tensor, [n, 0], [1, 4]), g as tf.Tensor)).toBeLessThan(1e-6);
        }
      }),
    );
    tf.dispose([x, y]);
    m.dispose();
  });

  it('dropout is seeded and only active in training', () => {
    const m = new Sequential([dropout(0.5)], { inputShape: [100] });
    const x = tf.ones([2, 100]);
    const a = m.apply(x, { training: true, rng: new Rng(1) });
    const b = m.apply(x, { training: true, rng: new Rng(1) });
    const c = m.apply(x);
    expect(relErr(a, b)).toBe(0);
    const zeros = Array.from(a.dataSync()).filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(60);
    expect(zeros).toBeLessThan(140);
    expect(relErr(c, x)).toBe(0);
    tf.dispose([x, a, b]);
  });

  it('get/set weights, config round-trip and clear errors', () => {
    const m = smallConvNet(7);
    const w = m.getWeights();
    const m2 = modelFromConfig(m.config());
    m2.setWeights(w);
    const x = tf.randomNormal([2, 64]);
    expect(relErr(m2.apply(x), m.apply(x))).toBe(0);
    expect(() => m2.setWeights({ ...w, 'dense_9/kernel': tf.zeros([1]) })).toThrow("setWeights: 'dense_9/kernel' is not a parameter of this model");
    const bad = { ...w, 'conv2d_0/kernel': tf.zeros([3, 3, 1, 5]) };
    expect(() => m2.setWeights(bad)).toThrow("setWeights: parameter 'conv2d_0/kernel' has shape [3,3,1,5] but [3,3,1,4] was expected");
    expect(() => m.apply(tf.zeros([2, 10]))).toThrow('model input: expected [batch, 8,8,1] but got [2,10]');
    expect(() => modelFromSpec('784-x-10')).toThrow(/model spec '784-x-10'/);
    expect(() => modelFromSpec('784-10:swish')).toThrow(/unknown option 'swish'/);
    expect(() => dense(0)).toThrow(/units must be a positive integer, got 0/);
    const spec = modelFromSpec('784-300-150-10:leakyrelu');
    expect(spec.layers[0]?.activation).toEqual({ name: 'leakyRelu', alpha: 0.01 });
    spec.dispose();
    m.dispose();
    m2.dispose();
    expect(() => m.apply(x)).toThrow(/disposed/);
  });
});
