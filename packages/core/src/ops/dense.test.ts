import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { dense } from './dense.js';
import { simdKernelsStatus } from './depthwise-simd.js';
import { DENSE_ON_POINTWISE_MAX, type GradientMode, withGradientMode } from './gradients.js';
import { onWasm } from './wasm.test-helpers.js';

function grads(mode: GradientMode, x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D | undefined, dy: tf.Tensor2D) {
  return withGradientMode(mode, () => {
    const f = (xx: tf.Tensor, ww: tf.Tensor, bb?: tf.Tensor) => tf.sum(tf.mul(tf.relu(dense(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D | undefined)), dy));
    return b ? tf.grads((xx, ww, bb) => f(xx, ww, bb))([x, w, b]) : tf.grads((xx, ww) => f(xx, ww))([x, w]);
  });
}

const host = () =>
  tf.tidy(() => ({
    x: tf.randomNormal([32, 50], 0, 1, 'float32', 1).dataSync().slice(),
    w: tf.randomNormal([50, 20], 0, 0.3, 'float32', 2).dataSync().slice(),
    b: tf.randomNormal([20], 0, 0.1, 'float32', 3).dataSync().slice(),
    dy: tf.randomNormal([32, 20], 0, 1, 'float32', 4).dataSync().slice(),
  }));

function gradsFromHost(mode: GradientMode, h: ReturnType<typeof host>, withBias: boolean) {
  return tf.tidy(() => {
    const x = tf.tensor2d(h.x, [32, 50]);
    const w = tf.tensor2d(h.w, [50, 20]);
    const b = withBias ? tf.tensor1d(h.b) : undefined;
    return grads(mode, x, w, b, tf.tensor2d(h.dy, [32, 20])).map((g) => g.dataSync().slice());
  });
}

describe('dense (BatchMatMul) gradient with explicit transposes', () => {
  it.each([true, false])('matches tfjs stock gradients on cpu (bias=%s), rel err <= 1e-5', (withBias) => {
    const h = host();
    const custom = gradsFromHost('custom', h, withBias);
    const stock = gradsFromHost('stock', h, withBias);
    expect(custom.length).toBe(withBias ? 3 : 2);
    custom.forEach((g, i) => expect(relErr(g, stock[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
  });

  it('auto mode on wasm (explicit transposes) matches the cpu stock gradient', async () => {
    const h = host();
    const ref = gradsFromHost('stock', h, true);
    await tf.setBackend('wasm');
    try {
      gradsFromHost('auto', h, true).forEach((g, i) => expect(relErr(g, ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('gradients stay lazy: an input that is not differentiated costs nothing and leaks nothing', async () => {
    const x = tf.randomNormal([8, 5]) as tf.Tensor2D;
    const w = tf.variable(tf.randomNormal([5, 3]));
    await expectNoLeak(() =>
      withGradientMode('custom', () => {
        const { grads: g, value } = tf.variableGrads(() => tf.sum(dense(x, w as tf.Variable<tf.Rank.R2>)) as tf.Scalar, [w]);
        expect(Object.keys(g)).toEqual([w.name]);
        tf.dispose([value, ...Object.values(g)]);
      }),
    );
    tf.dispose([x, w]);
  });

  it("on wasm ('auto') a dense layer's ∂x and ∂W run on the SIMD 1×1 convolution kernels up to C·O of DENSE_ON_POINTWISE_MAX, and match cpu's stock gradients", async () => {
    // odd sizes exercise every edge tile; the last layer is past the bound and stays on the matMul
    const layers: [number, number, number][] = [
      [37, 70, 23],
      [100, 784, 300],
      [5, 3, 1],
      [6, 600, 500],
    ];
    expect(784 * 300).toBeLessThanOrEqual(DENSE_ON_POINTWISE_MAX);
    expect(600 * 500).toBeGreaterThan(DENSE_ON_POINTWISE_MAX);
    for (const [P, C, O] of layers) {
      const h = tf.tidy(() => ({
        x: tf.randomNormal([P, C], 0, 1, 'float32', P).dataSync().slice(),
        w: tf.randomNormal([C, O], 0, 0.3, 'float32', C).dataSync().slice(),
        dy: tf.randomNormal([P, O], 0, 1, 'float32', O).dataSync().slice(),
      }));
      const run = (mode: GradientMode) =>
        tf.tidy(() => grads(mode, tf.tensor2d(h.x, [P, C]), tf.tensor2d(h.w, [C, O]), undefined, tf.tensor2d(h.dy, [P, O])).map((g) => g.dataSync().slice()));
      const ref = run('stock');
      await onWasm(async () => {
        const calls = () => ({ ...simdKernelsStatus().calls });
        const before = calls();
        const mine = await expectNoLeak(() => run('auto'));
        const after = calls();
        const used = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
        const within = C * O <= DENSE_ON_POINTWISE_MAX;
        expect(used('pw_input_grad')).toBe(within ? 1 : 0);
        expect(used('pw_filter_grad')).toBe(within ? 1 : 0);
        mine.forEach((g, i) => expect(relErr(g, ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5));
      });
    }
  });
});
