import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { adamUpdateInOne } from './adam-wasm.js';
import { simdKernelsStatus } from './depthwise-simd.js';
import { setConvFormulation } from './formulation.js';
import { sgdUpdateInOne } from './sgd-wasm.js';
import { sumEach } from './sum-each.js';
import { onWasm } from './wasm.test-helpers.js';

const shapes = [[3, 3, 4, 8], [8], [1], [5, 7], []] as const;
const same = (a: tf.Tensor, b: tf.Tensor) => {
  const [x, y] = [a.dataSync(), b.dataSync()];
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
};

describe('per-variable work in one kernel call on wasm', () => {
  it("sgdUpdateInOne gives tfjs's SGD step bit for bit on the SIMD update and on wasm's own kernels ('composed')", async () => {
    await onWasm(() => {
      for (const formulation of ['auto', 'composed'] as const) {
        setConvFormulation(formulation);
        try {
          const init = shapes.map((s, i) => tf.randomNormal([...s], 0, 1, 'float32', 40 + i));
          const grads = shapes.map((s, i) => tf.randomNormal([...s], 0, 3, 'float32', 50 + i));
          const mine = init.map((t) => tf.variable(t.clone()));
          const theirs = init.map((t) => tf.variable(t.clone()));
          const [a, b] = [tf.train.sgd(0.0123), tf.train.sgd(0.0123)];
          const calls = simdKernelsStatus().calls.sgd_update ?? 0;
          for (let k = 0; k < 2; k++) {
            expect(sgdUpdateInOne(a, mine, grads)).toBe(true);
            b.applyGradients(Object.fromEntries(theirs.map((v, i) => [v.name, grads[i] as tf.Tensor])));
          }
          // the SIMD update served 'auto' (one call per non-empty variable and step), not 'composed'
          expect((simdKernelsStatus().calls.sgd_update ?? 0) - calls).toBe(formulation === 'auto' ? 2 * shapes.length : 0);
          mine.forEach((v, i) => expect(same(v, theirs[i] as tf.Variable)).toBe(true));
          tf.dispose([...init, ...grads, ...mine, ...theirs]);
          a.dispose();
          b.dispose();
        } finally {
          setConvFormulation('auto');
        }
      }
    });
  });

  it("adamUpdateInOne gives tfjs's Adam steps bit for bit (θ, both moments, β powers, iterations), leaves no tensor, and declines what it cannot match", async () => {
    await onWasm(() => {
      const init = shapes.map((s, i) => tf.randomNormal([...s], 0, 1, 'float32', 60 + i));
      const mine = init.map((t) => tf.variable(t.clone()));
      const theirs = init.map((t) => tf.variable(t.clone()));
      const a = tf.train.adam(0.0037, 0.85, 0.995, 1e-6);
      const b = tf.train.adam(0.0037, 0.85, 0.995, 1e-6);
      const named = (vars: tf.Variable[], gs: tf.Tensor[]): { name: string; tensor: tf.Tensor }[] => vars.map((v, i) => ({ name: v.name, tensor: gs[i] as tf.Tensor }));
      const calls = simdKernelsStatus().calls.adam_update ?? 0;
      const before = tf.memory().numTensors;
      for (let k = 0; k < 5; k++) {
        // gradients of several scales (tiny second moments make ε and the divisions matter), one with zeros
        const grads = shapes.map((s, i) => tf.tidy(() => tf.mul(tf.randomNormal([...s], 0, 1, 'float32', 100 * k + i), 10 ** (i - 3))));
        if (k === 0) {
          // no moments yet: tfjs's own first step creates them
          expect(adamUpdateInOne(a, mine, grads)).toBe(false);
          a.applyGradients(named(mine, grads));
        } else {
          expect(adamUpdateInOne(a, mine, grads)).toBe(true);
        }
        b.applyGradients(named(theirs, grads));
        tf.dispose(grads);
      }
      // what both optimizers' first (tfjs's own) steps created: two moments per variable each, nothing else
      expect(tf.memory().numTensors).toBe(before + 2 * 2 * shapes.length);
      expect((simdKernelsStatus().calls.adam_update ?? 0) - calls).toBe(4 * shapes.length);
      mine.forEach((v, i) => expect(same(v, theirs[i] as tf.Variable)).toBe(true));
      const internals = (o: tf.Optimizer) =>
        o as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable; accumulatedFirstMoment: { variable: tf.Variable }[]; accumulatedSecondMoment: { variable: tf.Variable }[] };
      expect(same(internals(a).accBeta1, internals(b).accBeta1)).toBe(true);
      expect(same(internals(a).accBeta2, internals(b).accBeta2)).toBe(true);
      internals(a).accumulatedFirstMoment.forEach((m, i) => expect(same(m.variable, internals(b).accumulatedFirstMoment[i]?.variable as tf.Variable)).toBe(true));
      internals(a).accumulatedSecondMoment.forEach((m, i) => expect(same(m.variable, internals(b).accumulatedSecondMoment[i]?.variable as tf.Variable)).toBe(true));
      expect(a.iterations).toBe(b.iterations);
      // declined: a subclass, applyGradients replaced, the variables in another order than the moments, 'composed'
      const grads = shapes.map((s) => tf.ones([...s]));
      class Sub extends tf.AdamOptimizer {}
      const spied = tf.train.adam(0.1);
      spied.applyGradients = () => {};
      for (const o of [tf.train.sgd(0.1), new Sub(0.1, 0.9, 0.999), spied]) expect(adamUpdateInOne(o, mine, grads)).toBe(false);
      expect(adamUpdateInOne(a, [...mine].reverse(), [...grads].reverse())).toBe(false);
      setConvFormulation('composed');
      try {
        expect(adamUpdateInOne(a, mine, grads)).toBe(false);
      } finally {
        setConvFormulation('auto');
      }
      mine.forEach((v, i) => expect(same(v, theirs[i] as tf.Variable)).toBe(true));
      tf.dispose([...init, ...grads, ...mine, ...theirs]);
      for (const o of [a, b, spied]) o.dispose();
    });
  });

  it("sgdUpdateInOne gives tfjs's SGD step bit for bit (values, iterations), leaves no tensor, and declines what is not plain SGD", async () => {
    await onWasm(() => {
      const init = shapes.map((s, i) => tf.randomNormal([...s], 0, 1, 'float32', 10 + i));
      const grads = shapes.map((s, i) => tf.randomNormal([...s], 0, 1, 'float32', 20 + i));
      const mine = init.map((t) => tf.variable(t.clone()));
      const theirs = init.map((t) => tf.variable(t.clone()));
      const a = tf.train.sgd(0.037);
      const b = tf.train.sgd(0.037);
      const before = tf.memory().numTensors;
      for (let k = 0; k < 3; k++) {
        expect(sgdUpdateInOne(a, mine, grads)).toBe(true);
        const named: tf.NamedTensorMap = {};
        theirs.forEach((v, i) => {
          named[v.name] = grads[i] as tf.Tensor;
        });
        b.applyGradients(named);
      }
      expect(tf.memory().numTensors).toBe(before);
      mine.forEach((v, i) => expect(same(v, theirs[i] as tf.Variable)).toBe(true));
      expect(a.iterations).toBe(b.iterations);
      // not plain SGD (another optimizer, a subclass, applyGradients replaced on the instance), or a gradient of another shape
      class Sub extends tf.SGDOptimizer {}
      const spied = tf.train.sgd(0.1);
      spied.applyGradients = () => {};
      for (const o of [tf.train.adam(0.1), new Sub(0.1), spied]) expect(sgdUpdateInOne(o, mine, grads)).toBe(false);
      const original = tf.SGDOptimizer.prototype.applyGradients;
      tf.SGDOptimizer.prototype.applyGradients = function (this: tf.SGDOptimizer, g) {
        original.call(this, g);
      };
      try {
        expect(sgdUpdateInOne(a, mine, grads)).toBe(false);
      } finally {
        tf.SGDOptimizer.prototype.applyGradients = original;
      }
      expect(sgdUpdateInOne(a, mine.slice(0, 1), grads.slice(1, 2))).toBe(false);
      mine.forEach((v, i) => expect(same(v, theirs[i] as tf.Variable)).toBe(true));
      tf.dispose([...init, ...grads, ...mine, ...theirs]);
      for (const o of [a, b, spied]) o.dispose();
    });
  });

  it('sumEach gives tf.stack of tf.sum bit for bit, NaN and ±Infinity included, and leaves only its output', async () => {
    await onWasm(() => {
      const ts = shapes.map((s, i) => tf.randomNormal([...s], 0, 100, 'float32', 30 + i));
      const bad = [tf.tensor1d([1, Number.NaN, 2]), tf.tensor1d([3.4e38, 3.4e38]), tf.tensor1d([-Infinity, 1])];
      const all = [...ts, ...bad];
      const before = tf.memory().numTensors;
      const got = sumEach(all);
      expect(tf.memory().numTensors).toBe(before + 1);
      const want = tf.tidy(() => tf.stack(all.map((t) => tf.sum(t))));
      expect(got.shape).toEqual([all.length]);
      expect(same(got, want)).toBe(true);
      expect(Array.from(got.dataSync().slice(-3))).toEqual([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      tf.dispose([got, want, ...all]);
    });
  });
});
