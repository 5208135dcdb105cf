import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { dense } from './dense.js';

function grads(mode: 'fast' | 'stock', x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D | undefined, dy: tf.Tensor2D) {
  const f = (xx: tf.Tensor, ww: tf.Tensor, bb?: tf.Tensor) =>
    tf.sum(tf.mul(tf.relu(dense(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D | undefined, mode)), dy));
  return b ? tf.grads((xx, ww, bb) => f(xx, ww, bb))([x, w, b]) : tf.grads((xx, ww) => f(xx, ww))([x, w]);
}

describe('dense custom gradient', () => {
  it.each([true, false])('matches tfjs stock gradients on cpu (bias=%s), rel err <= 1e-5', (withBias) => {
    const x = tf.randomNormal([32, 50], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.randomNormal([50, 20], 0, 0.3, 'float32', 2) as tf.Tensor2D;
    const b = withBias ? (tf.randomNormal([20], 0, 0.1, 'float32', 3) as tf.Tensor1D) : undefined;
    const dy = tf.randomNormal([32, 20], 0, 1, 'float32', 4) as tf.Tensor2D;
    const fast = grads('fast', x, w, b, dy);
    const stock = grads('stock', x, w, b, dy);
    expect(fast.length).toBe(withBias ? 3 : 2);
    fast.forEach((g, i) => {
      expect(g.shape).toEqual(stock[i]?.shape);
      expect(relErr(g, stock[i] as tf.Tensor)).toBeLessThanOrEqual(1e-5);
    });
    expect(relErr(dense(x, w, b, 'fast'), dense(x, w, b, 'stock'))).toBe(0);
    tf.dispose([x, w, dy, ...fast, ...stock]);
    b?.dispose();
  });

  it('matches the cpu stock gradient on wasm too (explicit-transpose path)', async () => {
    const xs = tf.tidy(() => tf.randomNormal([16, 30], 0, 1, 'float32', 5).dataSync().slice());
    const ws = tf.tidy(() => tf.randomNormal([30, 7], 0, 0.3, 'float32', 6).dataSync().slice());
    const dys = tf.tidy(() => tf.randomNormal([16, 7], 0, 1, 'float32', 7).dataSync().slice());
    const run = () =>
      tf.tidy(() => {
        const [x, w, dy] = [tf.tensor2d(xs, [16, 30]), tf.tensor2d(ws, [30, 7]), tf.tensor2d(dys, [16, 7])];
        return grads(tf.getBackend() === 'cpu' ? 'stock' : 'fast', x, w, undefined, dy).map((g) => g.dataSync().slice());
      });
    const ref = run();
    await tf.setBackend('wasm');
    try {
      run().forEach((g, i) => expect(relErr(g, ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('leaves no tensors behind', async () => {
    const x = tf.randomNormal([8, 5]) as tf.Tensor2D;
    const w = tf.variable(tf.randomNormal([5, 3]));
    await expectNoLeak(() => {
      const { grads: g, value } = tf.variableGrads(() => tf.sum(dense(x, w as tf.Variable<tf.Rank.R2>, undefined)) as tf.Scalar, [w]);
      tf.dispose([value, ...Object.values(g)]);
    });
    tf.dispose([x, w]);
  });
});
