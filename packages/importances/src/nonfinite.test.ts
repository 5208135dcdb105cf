// magnitude and SI on a model whose weights are NaN or infinite throw, naming the parameter, instead
// of returning a NaN map.
import * as tf from '@tensorflow/tfjs-core';
import { type Model, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { computeImportance } from './compute.js';
import { magnitude } from './magnitude.js';
import { siTracker } from './si.js';

function poison(model: Model, name: string, value: number): void {
  const v = model.params[name] as tf.Variable;
  tf.tidy(() => v.assign(tf.where(tf.equal(tf.reshape(tf.range(0, v.size), v.shape), 1), tf.fill(v.shape, value), v)));
}

describe('non-finite weights', () => {
  it('magnitude throws naming the parameter and the value, and leaks nothing', async () => {
    const model = mlp([8, 6, 3], { seed: 1 });
    poison(model, 'dense_1/kernel', Number.NaN);
    const before = tf.memory().numTensors;
    expect(() => magnitude(model)).toThrow("magnitude: parameter 'dense_1/kernel' of the model contains NaN: the weights diverged; no importance is defined");
    await expect(computeImportance('magnitude', model, undefined)).rejects.toThrow(/parameter 'dense_1\/kernel' of the model contains NaN/);
    expect(tf.memory().numTensors).toBe(before);
    poison(model, 'dense_0/bias', Number.POSITIVE_INFINITY);
    expect(() => magnitude(model)).toThrow(/magnitude: parameter 'dense_0\/bias' of the model contains Infinity/);
    model.dispose();
  });

  it('si throws naming the parameter when the weights went NaN after the path was tracked', async () => {
    const [task] = syntheticPermutedTasks({ numTasks: 1, features: 8, numClasses: 3, trainPerClass: 10, testPerClass: 5, seed: 2 });
    const model = mlp([8, 6, 3], { seed: 1 });
    const si = siTracker();
    const opt = tf.train.sgd(0.1);
    await trainContinual(model, [task as NonNullable<typeof task>], { optimizer: opt, iterations: 3, batchSize: 10, plugins: [si] });
    poison(model, 'dense_0/kernel', Number.NaN);
    const before = tf.memory().numTensors;
    expect(() => si.taskImportance()).toThrow("siTracker: parameter 'dense_0/kernel' of the model contains NaN: the weights diverged; no importance is defined");
    await expect(computeImportance('si', model, undefined, { tracker: si })).rejects.toThrow(/siTracker: parameter 'dense_0\/kernel'/);
    expect(tf.memory().numTensors).toBe(before);
    si.dispose();
    opt.dispose();
    model.dispose();
  });
});
