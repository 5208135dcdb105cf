import * as tf from '@tensorflow/tfjs-core';
import { ArraySource, type Sequential, activation, batchNorm, conv2d, dense, disposeParams, flatten, multiHead, sequential } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { convNet, randomSource, randomizeState } from '../test/nets.js';
import { magnitude } from './magnitude.js';
import { sig } from './sig.js';

function setParam(model: Sequential, name: string, values: number[] | number[][]): void {
  const v = model.params[name] as tf.Variable;
  const t = tf.tensor(values as number[], v.shape);
  v.assign(t);
  t.dispose();
}

const flat = (t: tf.Tensor) => Array.from(t.dataSync());
const softmax = (z: number[]) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('sig', () => {
  it('dense: |W| · mean |input|, bias: mean |post-activation output|, softmax probabilities last (hand-computed)', async () => {
    const model = sequential([dense(2, { activation: 'relu' }), dense(2)], { inputShape: [3] });
    setParam(model, 'dense_0/kernel', [1, -2, 0.5, 0, -1, 3]);
    setParam(model, 'dense_0/bias', [0.1, -0.2]);
    setParam(model, 'dense_1/kernel', [2, -1, 1, 1]);
    setParam(model, 'dense_1/bias', [0, 0.5]);
    const source = new ArraySource({ x: new Float32Array([1, 2, -1, 0, -1, 3]), y: [0, 1], exampleShape: [3], numClasses: 2 });
    const s = await sig(model, source, { batchSize: 1 });
    // mean |x| = [0.5, 1.5, 2]; y0 = relu(xW + b) = [3.1, 0], [0, 8.8]; z1 = [6.2, -2.6], [8.8, 9.3]
    expect(relErr(s['dense_0/kernel'] as tf.Tensor, [0.5, 1, 0.75, 0, 2, 6])).toBeLessThan(1e-6);
    expect(relErr(s['dense_0/bias'] as tf.Tensor, [1.55, 4.4])).toBeLessThan(1e-6);
    expect(relErr(s['dense_1/kernel'] as tf.Tensor, [3.1, 1.55, 4.4, 4.4])).toBeLessThan(1e-6);
    const p1 = softmax([6.2, -2.6]);
    const p2 = softmax([8.8, 9.3]);
    expect(relErr(s['dense_1/bias'] as tf.Tensor, [((p1[0] as number) + (p2[0] as number)) / 2, ((p1[1] as number) + (p2[1] as number)) / 2])).toBeLessThan(1e-5);
    disposeParams(s);
    // a class mask changes only the last bias: probabilities over the kept classes
    const masked = await sig(model, source, { classes: [1] });
    expect(flat(masked['dense_1/bias'] as tf.Tensor)).toEqual([0, 1]);
    disposeParams(masked);
    model.dispose();
  });

  it.each([
    ['same', 2],
    ['valid', 1],
  ] as const)('conv2d (%s, stride %d): |W| · mean over samples and output positions of |input under each tap| (explicit loops)', async (padding, stride) => {
    const model = sequential([conv2d(3, 3, { stride, padding, activation: 'tanh' }), flatten(), dense(2)], { inputShape: [5, 5, 2], seed: 4 });
    randomizeState(model, 2);
    const source = randomSource(3, [5, 5, 2], 2, 8);
    const x = source.options.x as Float32Array;
    const W = flat(model.params['conv2d_0/kernel'] as tf.Tensor);
    const bias = flat(model.params['conv2d_0/bias'] as tf.Tensor);
    const [H, C, K, O, N] = [5, 2, 3, 3, 3];
    const out = padding === 'same' ? Math.ceil(H / stride) : Math.ceil((H - K + 1) / stride);
    const pad = padding === 'same' ? Math.floor(Math.max(0, (out - 1) * stride + K - H) / 2) : 0;
    const at = (n: number, r: number, q: number, c: number) => (r < 0 || q < 0 || r >= H || q >= H ? 0 : (x[((n * H + r) * H + q) * C + c] as number));
    const expectK = new Array(K * K * C * O).fill(0);
    const expectB = new Array(O).fill(0);
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < out; i++) {
        for (let j = 0; j < out; j++) {
          for (let o = 0; o < O; o++) {
            let z = bias[o] as number;
            for (let a = 0; a < K; a++)
              for (let b = 0; b < K; b++) for (let c = 0; c < C; c++) z += at(n, i * stride + a - pad, j * stride + b - pad, c) * (W[((a * K + b) * C + c) * O + o] as number);
            expectB[o] += Math.abs(Math.tanh(z)) / (N * out * out);
          }
          for (let a = 0; a < K; a++) {
            for (let b = 0; b < K; b++) {
              for (let c = 0; c < C; c++) {
                const v = Math.abs(at(n, i * stride + a - pad, j * stride + b - pad, c)) / (N * out * out);
                for (let o = 0; o < O; o++) expectK[((a * K + b) * C + c) * O + o] += v * Math.abs(W[((a * K + b) * C + c) * O + o] as number);
              }
            }
          }
        }
      }
    }
    const s = await sig(model, source, { batchSize: 2 });
    expect(relErr(s['conv2d_0/kernel'] as tf.Tensor, expectK)).toBeLessThan(1e-5);
    expect(relErr(s['conv2d_0/bias'] as tf.Tensor, expectB)).toBeLessThan(1e-5);
    disposeParams(s);
    model.dispose();
  });

  it('batchNorm: |γ| · mean |x̂|, β: mean |post-activation output| (hand-computed)', async () => {
    const model = sequential([dense(2, { useBias: false }), batchNorm({ epsilon: 1e-3 }), activation('relu'), dense(2)], { inputShape: [2] });
    setParam(model, 'dense_0/kernel', [1, 0, 0, 1]); // identity: the batchNorm sees x itself
    setParam(model, 'batch_norm_0/gamma', [2, -0.5]);
    setParam(model, 'batch_norm_0/beta', [0.5, 1]);
    for (const [name, v] of [
      ['batch_norm_0/moving_mean', [1, -1]],
      ['batch_norm_0/moving_variance', [4, 0.25]],
    ] as const) {
      const t = tf.tensor(v as unknown as number[]);
      (model.state[name] as tf.Variable).assign(t);
      t.dispose();
    }
    const xs = [
      [3, 0],
      [-1, -2],
    ];
    const source = new ArraySource({ x: new Float32Array(xs.flat()), y: [0, 1], exampleShape: [2], numClasses: 2 });
    const mean = [1, -1];
    const sd = [Math.sqrt(4.001), Math.sqrt(0.251)];
    const gamma = [2, -0.5];
    const beta = [0.5, 1];
    const xhat = xs.map((r) => r.map((v, c) => (v - (mean[c] as number)) / (sd[c] as number)));
    const eg = [0, 1].map((c) => Math.abs(gamma[c] as number) * ((Math.abs(xhat[0]?.[c] as number) + Math.abs(xhat[1]?.[c] as number)) / 2));
    const eb = [0, 1].map((c) => xhat.reduce((s, r) => s + Math.max(0, (gamma[c] as number) * (r[c] as number) + (beta[c] as number)), 0) / 2);
    const s = await sig(model, source);
    expect(relErr(s['batch_norm_0/gamma'] as tf.Tensor, eg)).toBeLessThan(1e-5);
    expect(relErr(s['batch_norm_0/beta'] as tf.Tensor, eb)).toBeLessThan(1e-5);
    disposeParams(s);
    model.dispose();
  });

  it('covers every parameter of a conv net with batchNorm and pooling, leak-free, shapes as the parameters', async () => {
    const model = convNet('valid-pool', 2);
    const source = randomSource(5, model.inputShape, 4);
    await expectNoLeak(async () => {
      const s = await sig(model, source, { batchSize: 2 });
      expect(Object.keys(s)).toEqual(Object.keys(model.params));
      for (const [name, t] of Object.entries(s)) {
        expect(t.shape, name).toEqual(model.params[name]?.shape);
        expect(
          flat(t).every((v) => v >= 0),
          name,
        ).toBe(true);
      }
      disposeParams(s);
    });
    await expect(sig(model, randomSource(0, model.inputShape, 4))).rejects.toThrow(/sig: the data source is empty/);
    model.dispose();
  });
});

describe('magnitude', () => {
  it('is |θ| for every parameter', () => {
    const model = convNet('strided-same', 1);
    const m = magnitude(model);
    for (const [name, v] of Object.entries(model.params)) expect(flat(m[name] as tf.Tensor)).toEqual(flat(v).map(Math.abs));
    disposeParams(m);
    model.dispose();
  });
});

describe('sig on a multi-head model', () => {
  it("gives each head's bias its own head's mean probabilities", async () => {
    const base = sequential([dense(4, { activation: 'relu' }), dense(6)], { inputShape: [3], seed: 2 });
    const model = multiHead(base);
    base.dispose();
    model.ensureHead(0, [0, 1]);
    model.ensureHead(1, [2, 3, 4]);
    const source = randomSource(7, [3], 6, 3);
    const imp = await sig(model, source, { classes: [0, 1] });
    const [batch] = [...source.batches(7)];
    if (!batch) throw new Error('no batch');
    const expected = tf.tidy(() => {
      const h = tf.relu(tf.add(tf.matMul(batch.x as tf.Tensor2D, model.params['dense_0/kernel'] as tf.Tensor2D), model.params['dense_0/bias'] as tf.Tensor));
      const head = (k: number) => tf.softmax(tf.add(tf.matMul(h, model.params[`dense_1_task${k}/kernel`] as tf.Tensor2D), model.params[`dense_1_task${k}/bias`] as tf.Tensor));
      return [flat(tf.mean(head(0), 0)), flat(tf.mean(head(1), 0))];
    });
    expect(expected[1]).toHaveLength(3);
    expect(relErr(flat(imp['dense_1_task0/bias'] as tf.Tensor), expected[0] as number[])).toBeLessThan(1e-5);
    expect(relErr(flat(imp['dense_1_task1/bias'] as tf.Tensor), expected[1] as number[])).toBeLessThan(1e-5);
    tf.dispose([batch.x, batch.y]);
    disposeParams(imp);
    model.dispose();
  });
});
