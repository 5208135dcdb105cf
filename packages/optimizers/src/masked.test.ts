import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Plugin, disposeParams, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../test/helpers.js';
import { batches, disposeBatches, maxAbsDiff, model, trajectory } from '../test/fixtures.js';
import { masked } from './masked.js';
import { withTransforms } from './transformed-optimizer.js';
import { attenuateSteps } from './attenuate.js';

/** Zeroes every other entry of dense_0/kernel and returns the mask (1 kept, 0 pruned). */
function prune(m: ReturnType<typeof model>): ParamMap {
  const k = m.params['dense_0/kernel'] as tf.Variable;
  const mask = tf.tidy(() => tf.reshape(tf.cast(tf.equal(tf.mod(tf.range(0, k.size, 1, 'int32'), 2), 0), 'float32'), k.shape));
  k.assign(tf.mul(k, mask));
  return { 'dense_0/kernel': mask };
}

function pruned(m: ReturnType<typeof model>, mask: ParamMap): { zeros: number; maxPruned: number; kept: Float32Array } {
  const k = (m.params['dense_0/kernel'] as tf.Variable).dataSync();
  const mk = (mask['dense_0/kernel'] as tf.Tensor).dataSync();
  let zeros = 0;
  let maxPruned = 0;
  const kept: number[] = [];
  for (let i = 0; i < k.length; i++) {
    if (mk[i] === 0) {
      if (k[i] === 0) zeros++; // +0 or −0
      maxPruned = Math.max(maxPruned, Math.abs(k[i] as number));
    } else kept.push(k[i] as number);
  }
  return { zeros, maxPruned, kept: Float32Array.from(kept) };
}

describe('masked', () => {
  for (const [name, make] of [
    ['sgd', () => tf.train.sgd(0.1)],
    ['momentum', () => tf.train.momentum(0.05, 0.9)],
    ['adam', () => tf.train.adam(0.01)],
  ] as const) {
    it(`${name}: pruned weights stay exactly zero through training, even with moments carried from before pruning (plugin and wrapper)`, async () => {
      const bs = batches(4);
      for (const face of ['plugin', 'wrapper'] as const) {
        const m = model();
        const base = make();
        trajectory(m, base, bs, 5); // the optimizer now carries moments / velocity for every weight
        const mask = prune(m);
        const keptBefore = pruned(m, mask).kept;
        const t = masked(mask);
        const before = tf.memory().numTensors;
        if (face === 'plugin') trajectory(m, base, bs, 20, [t]);
        else trajectory(m, withTransforms(base, [t], { params: m.params }), bs, 20);
        expect(tf.memory().numTensors, 'no leak').toBe(before);
        const after = pruned(m, mask);
        expect(after.maxPruned, `${name} ${face}: pruned entries`).toBe(0);
        expect(after.zeros).toBe(40);
        expect(maxAbsDiff(after.kept, keptBefore), 'kept entries train').toBeGreaterThan(1e-3);
        t.dispose();
        disposeParams(mask);
        base.dispose();
        m.dispose();
      }
      disposeBatches(bs);
    });
  }

  it('the gradient mask alone is not enough for Adam with moments from before pruning; the step mask is', () => {
    const bs = batches(4);
    const m = model();
    const base = tf.train.adam(0.01);
    trajectory(m, base, bs, 5);
    const mask = prune(m);
    const t = masked(mask);
    const gradientsOnly: Plugin = { name: 'mask-gradients-only', transformGradients: (g) => t.transformGradients(g) };
    trajectory(m, base, bs, 3, [gradientsOnly]);
    expect(pruned(m, mask).maxPruned).toBeGreaterThan(1e-4); // stale m/√v keeps moving pruned weights
    t.dispose();
    disposeParams(mask);
    base.dispose();
    m.dispose();
    disposeBatches(bs);
  });

  it('composes with WVA steps in trainContinual, leaks nothing over tasks, and takes bool masks', async () => {
    const tasks = syntheticPermutedTasks({ numTasks: 2, features: 10, numClasses: 4, trainPerClass: 10, testPerClass: 4, seed: 3 });
    const m = mlp([10, 8, 4], { seed: 1 });
    const k = m.params['dense_0/kernel'] as tf.Variable;
    const boolMask = tf.tidy(() => tf.greater(tf.abs(k), 0.3));
    k.assign(tf.mul(k, tf.cast(boolMask, 'float32')));
    const t = masked({ 'dense_0/kernel': boolMask });
    const a: ParamMap = { 'dense_1/kernel': tf.fill([8, 4], 0.5) };
    // a factory: trainContinual disposes each task's optimizer (and its moments)
    await expectNoLeak(() => trainContinual(m, tasks, { optimizer: () => tf.train.adam(0.01), iterations: 10, batchSize: 10, plugins: [t, attenuateSteps(a)] }));
    const kv = k.dataSync();
    const mv = boolMask.dataSync();
    let bad = 0;
    for (let i = 0; i < kv.length; i++) if (!mv[i] && kv[i] !== 0) bad++;
    expect(bad).toBe(0);
    t.dispose();
    boolMask.dispose();
    disposeParams(a);
    m.dispose();
  });

  it('validates values, shapes and names, naming the parameter', async () => {
    const m = mlp([10, 8, 4], { seed: 1 });
    expect(() => masked({ 'dense_0/kernel': tf.fill([10, 8], 0.5) })).toThrow(/mask of 'dense_0\/kernel' has values other than 0 and 1/);
    expect(() => masked({ 'dense_0/bias': tf.tensor1d([0, 1, Number.NaN, 1, 1, 1, 1, 1]) })).toThrow(/mask of 'dense_0\/bias' has values other than 0 and 1/);
    const tasks = syntheticPermutedTasks({ numTasks: 1, features: 10, numClasses: 4, trainPerClass: 5, testPerClass: 2 });
    const opt = tf.train.sgd(0.1);
    const wrong = masked({ 'dense_0/bias': tf.ones([7]) });
    await expect(trainContinual(m, tasks, { optimizer: opt, iterations: 1, plugins: [wrong] })).rejects.toThrow(/parameter 'dense_0\/bias' has shape \[7\] but \[8\] was expected/);
    const unknown = masked({ 'dense_5/kernel': tf.ones([2]) });
    await expect(trainContinual(m, tasks, { optimizer: opt, iterations: 1, plugins: [unknown] })).rejects.toThrow(
      /mask given for 'dense_5\/kernel', which is not a parameter of the model/,
    );
    // per step, in a wrapper, a wrong shape is named too
    const w = withTransforms(tf.train.sgd(0.1), [masked({ 'dense_0/kernel': tf.ones([8, 10]) })], { params: m.params });
    const bs = batches(1);
    expect(() => trajectory(m, w, bs, 1)).toThrow(/masked \(gradient\): parameter 'dense_0\/kernel' has shape \[10,8\] but \[8,10\] was expected/);
    disposeBatches(bs);
    w.dispose();
    opt.dispose();
    m.dispose();
  });
});
