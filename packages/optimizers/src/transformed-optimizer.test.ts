import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams, simdKernelsStatus, useBackend, whenSimdKernelsReady } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { batches, bitwiseEqual, disposeBatches, flat, model, trajectory } from '../test/fixtures.js';
import { attenuateSteps } from './attenuate.js';
import type { Transform } from './transform.js';
import { withTransforms, wrappedOptimizer } from './transformed-optimizer.js';

describe('withTransforms', () => {
  it('with no transforms is the optimizer itself, bit for bit', () => {
    const bs = batches();
    const [m0, m1] = [model(), model()];
    const [o0, o1] = [tf.train.adam(0.01), withTransforms(tf.train.adam(0.01), [], { params: m1.params })];
    const a = trajectory(m0, o0, bs, 6);
    const b = trajectory(m1, o1, bs, 6);
    a.forEach((x, i) => expect(bitwiseEqual(x, b[i] as Float32Array)).toBe(true));
    expect(wrappedOptimizer(o1)).toBe(o1.base);
    expect(wrappedOptimizer(o0)).toBeUndefined();
    o0.dispose();
    o1.dispose();
    m0.dispose();
    m1.dispose();
    disposeBatches(bs);
  });

  it('a step transform applied to the whole map (not elementwise) gives the same result as one parameter at a time, and as the loop', () => {
    const bs = batches();
    const ms = [model(), model(), model()];
    const a: ParamMap = { 'dense_0/kernel': tf.fill([10, 8], 0.3), 'dense_1/bias': tf.tensor1d([0, 0.5, 1, 2]) };
    const elementwise = attenuateSteps(a);
    const whole: Transform = { name: 'whole-map', transformStep: (d) => (elementwise.transformStep as NonNullable<Transform['transformStep']>)(d) };
    const opts = [
      withTransforms(tf.train.adam(0.01), [elementwise], { params: ms[0]?.params }),
      withTransforms(tf.train.adam(0.01), [whole], { params: ms[1]?.params }),
      tf.train.adam(0.01),
    ];
    const r0 = trajectory(ms[0] as never, opts[0] as tf.Optimizer, bs, 8);
    const r1 = trajectory(ms[1] as never, opts[1] as tf.Optimizer, bs, 8);
    const r2 = trajectory(ms[2] as never, opts[2] as tf.Optimizer, bs, 8, [elementwise]);
    for (let s = 0; s < 8; s++) {
      expect(bitwiseEqual(r0[s] as Float32Array, r1[s] as Float32Array)).toBe(true);
      expect(bitwiseEqual(r0[s] as Float32Array, r2[s] as Float32Array)).toBe(true);
    }
    for (const o of opts) o.dispose();
    for (const m of ms) m.dispose();
    disposeParams(a);
    disposeBatches(bs);
  });

  it('keeps the gradient order (with null gradients in place), passes variables outside params through, names unknown variables', () => {
    const u = tf.variable(tf.tensor1d([1, -1]));
    const v = tf.variable(tf.tensor1d([2, 3]));
    const w = tf.variable(tf.tensor1d([4]));
    const u2 = tf.variable(tf.clone(u));
    const v2 = tf.variable(tf.clone(v));
    const w2 = tf.variable(tf.clone(w));
    const a = { u: tf.tensor1d([0.5, 0.5]) };
    const plain = tf.train.adam(0.1);
    const wrapped = withTransforms(tf.train.adam(0.1), [attenuateSteps(a)], { params: { u: u2, v: v2 } }); // w2 outside params
    const g = (x: tf.Variable) => tf.mul(x, 2);
    for (let s = 0; s < 3; s++) {
      tf.tidy(() => {
        plain.applyGradients({ [u.name]: g(u), [w.name]: null, [v.name]: g(v) } as unknown as Record<string, tf.Variable>);
        wrapped.applyGradients({ [u2.name]: g(u2), [w2.name]: null as unknown as tf.Tensor, [v2.name]: g(v2) });
      });
    }
    // v and w are not attenuated: identical to the plain optimizer (same moment slots); u moved half as far per step
    expect(bitwiseEqual(v2.dataSync() as Float32Array, v.dataSync() as Float32Array)).toBe(true);
    expect(bitwiseEqual(w2.dataSync() as Float32Array, w.dataSync() as Float32Array)).toBe(true);
    expect(Array.from(u2.dataSync())).not.toEqual(Array.from(u.dataSync()));
    const byName = withTransforms(tf.train.sgd(0.1), [attenuateSteps({})]);
    expect(() => byName.applyGradients({ 'no-such-variable': tf.ones([1]) } as unknown as tf.NamedTensorMap)).toThrow(
      /gradient given for 'no-such-variable', which is not a registered tf.Variable/,
    );
    tf.dispose([u, v, w, u2, v2, w2, a.u]);
    plain.dispose();
    wrapped.dispose();
    byName.dispose();
  });

  it('rejects what is not an optimizer or not a variable', () => {
    expect(() => withTransforms({} as tf.Optimizer, [])).toThrow(/must be a tf.Optimizer/);
    const m = model();
    expect(flat(m).length).toBe(10 * 8 + 8 + 8 * 4 + 4);
    m.dispose();
  });

  it('on wasm, the wrapped tfjs SGD or Adam steps in one SIMD call, bit for bit what its own applyGradients leaves', async () => {
    await useBackend('wasm');
    await whenSimdKernelsReady();
    try {
      const makers = {
        sgd: [() => new tf.SGDOptimizer(0.1), () => new (class extends tf.SGDOptimizer {})(0.1), 'sgd_update'],
        adam: [() => new tf.AdamOptimizer(0.01, 0.9, 0.999, 1e-7), () => new (class extends tf.AdamOptimizer {})(0.01, 0.9, 0.999, 1e-7), 'adam_update'],
      } as const;
      for (const [fast, own, kernel] of Object.values(makers)) {
        const bs = batches();
        const [m0, m1] = [model(), model()];
        const a: ParamMap = { 'dense_0/kernel': tf.fill([10, 8], 0.3), 'dense_1/bias': tf.tensor1d([0, 0.5, 1, 2]) };
        // a step transform (θ kept before the step) and none: both of applyGradients' paths
        for (const transforms of [[attenuateSteps(a)], []] as Transform[][]) {
          const tensors = tf.memory().numTensors;
          const o0 = withTransforms(fast(), transforms, { params: m0.params });
          const o1 = withTransforms(own(), transforms, { params: m1.params });
          const calls = () => simdKernelsStatus().calls[kernel] ?? 0;
          const c0 = calls();
          const x = trajectory(m0, o0, bs, 5);
          const c1 = calls();
          const y = trajectory(m1, o1, bs, 5);
          // one call per parameter and step (Adam's first step is tfjs's own: it creates the moments)
          expect(c1 - c0).toBe((kernel === 'adam_update' ? 4 : 5) * Object.keys(m0.params).length);
          expect(calls()).toBe(c1); // the subclass is declined: tfjs's applyGradients
          x.forEach((v, i) => expect(bitwiseEqual(v, y[i] as Float32Array)).toBe(true));
          o0.dispose();
          o1.dispose();
          // the steps and the optimizers (their moments, β powers and the transforms' factors) leave nothing behind
          expect(tf.memory().numTensors).toBe(tensors);
        }
        disposeParams(a);
        m0.dispose();
        m1.dispose();
        disposeBatches(bs);
      }
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
