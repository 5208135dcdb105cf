import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { sgdUpdateInOne } from './sgd-wasm.js';
import { sumEach } from './sum-each.js';
import { onWasm } from './wasm.test-helpers.js';

const shapes = [[3, 3, 4, 8], [8], [1], [5, 7], []] as const;
const same = (a: tf.Tensor, b: tf.Tensor) => {
  const [x, y] = [a.dataSync(), b.dataSync()];
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
};

describe('per-variable work in one kernel call on wasm', () => {
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
