import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { Rng } from '../rng.js';
import type { LayerCapture } from './layer.js';
import { PReLU } from './prelu.js';

/** Output and ∂Σ(y·dy) with respect to the input and every weight. */
function run(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, dy: tf.Tensor, vars: tf.Variable[]) {
  const y = f(x);
  const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dy)))(x);
  if (vars.length === 0) return { y, gx, gw: [] };
  const { grads, value } = tf.variableGrads(() => tf.sum(tf.mul(f(x), dy)) as tf.Scalar, vars);
  value.dispose();
  return { y, gx, gw: vars.map((v) => grads[v.name] as tf.Tensor) };
}

describe('prelu equals tfjs-layers PReLU', () => {
  it.each([
    ['no shared axes', undefined, [3, 4, 2]],
    ['shared axes [1, 2] (one α per channel)', [1, 2], [1, 1, 2]],
    ['shared axis 2 (in the middle: wasm Prelu could not broadcast it)', [2], [3, 1, 2]],
  ] as [string, number[] | undefined, number[]][])('%s: α shape, output and gradients on cpu and wasm', async (_, sharedAxes, alphaShape) => {
    const ours = new PReLU(sharedAxes ? { sharedAxes } : {});
    ours.build([3, 4, 2], new Rng(0));
    expect((ours.params.alpha as tf.Variable).shape).toEqual(alphaShape);
    const ref = tfl.layers.prelu(sharedAxes ? { sharedAxes } : {});
    ref.build([null, 3, 4, 2]);
    const alpha = tf.randomNormal(alphaShape, 0.2, 0.3, 'float32', 3);
    ref.setWeights([alpha]);
    (ours.params.alpha as tf.Variable).assign(alpha);
    const x = tf.randomNormal([5, 3, 4, 2], 0, 1, 'float32', 4);
    const dy = tf.randomNormal([5, 3, 4, 2], 0, 1, 'float32', 5);
    const refVar = (ref.trainableWeights[0] as unknown as { val: tf.Variable }).val;
    const b = run((t) => ref.apply(t) as tf.Tensor, x, dy, [refVar]);
    const a = run((t) => ours.apply(t, { training: false }), x, dy, [ours.params.alpha as tf.Variable]);
    expect(relErr(a.y, b.y)).toBeLessThanOrEqual(1e-6);
    expect(relErr(a.gx, b.gx)).toBeLessThanOrEqual(1e-6);
    expect(relErr(a.gw[0] as tf.Tensor, b.gw[0] as tf.Tensor)).toBeLessThanOrEqual(1e-5);
    const host = { x: x.dataSync().slice(), dy: dy.dataSync().slice(), alpha: alpha.dataSync().slice() };
    await tf.setBackend('wasm');
    try {
      await expectNoLeak(() =>
        tf.tidy(() => {
          const w = new PReLU(sharedAxes ? { sharedAxes } : {});
          w.build([3, 4, 2], new Rng(0));
          (w.params.alpha as tf.Variable).assign(tf.tensor(host.alpha, alphaShape));
          const c = run((t) => w.apply(t, { training: false }), tf.tensor(host.x, x.shape), tf.tensor(host.dy, dy.shape), [w.params.alpha as tf.Variable]);
          expect(relErr(c.y, b.y.dataSync())).toBeLessThanOrEqual(1e-6);
          expect(relErr(c.gw[0] as tf.Tensor, (b.gw[0] as tf.Tensor).dataSync())).toBeLessThanOrEqual(1e-5);
          (w.params.alpha as tf.Variable).dispose();
        }),
      );
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('tap on its output; unknown unshared dimension or out-of-range shared axis throws', () => {
    const p = new PReLU({ sharedAxes: [1] });
    p.name = 'p';
    expect(p.build([null, 3], new Rng(0))).toEqual([null, 3]);
    tf.tidy(() => {
      const capture: Record<string, LayerCapture> = {};
      const x = tf.tensor3d([[[-1, 2, -3]]]);
      const y = p.apply(x, { training: false, capture, taps: { p: tf.onesLike(x) } });
      expect(Array.from(y.dataSync())).toEqual([1, 3, 1]);
      expect(capture.p?.preActivation).toBe(y);
    });
    expect(() => new PReLU({ sharedAxes: [2] }).build([null, 3], new Rng(0))).toThrow(/unshared axis of known size/);
    expect(() => new PReLU({ sharedAxes: [3] }).build([2, 3], new Rng(0))).toThrow(/outside/);
    expect(() => new PReLU({ sharedAxes: [0] })).toThrow(/positive integers/);
    (p.params.alpha as tf.Variable).dispose();
  });
});
