import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Sequential, disposeParams, evaluate, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { sig } from '@forgetless/importances';
import { describe, expect, it } from 'vitest';
import { fineTune, pruneIteratively } from './fine-tune.js';
import { applyMasks, pruningMasks } from './masks.js';
import { pruningPlugin } from './plugin.js';
import { iterative, oneShot, polynomialDecay } from './schedule.js';

const [task] = syntheticPermutedTasks({ numTasks: 1, features: 16, numClasses: 4, trainPerClass: 60, testPerClass: 30, seed: 3 });
const TASK = task as NonNullable<typeof task>;
const lrelu = { name: 'leakyRelu' as const, alpha: 0.01 };

/** Positions where the masks are 0, and the zeros of the model there. */
function check(model: Sequential, masks: ParamMap): { pruned: number; zeroAtPruned: number; size: number } {
  let pruned = 0;
  let zeroAtPruned = 0;
  let size = 0;
  for (const [n, m] of Object.entries(masks)) {
    const mv = m.dataSync();
    const w = (model.params[n] as tf.Tensor).dataSync();
    size += mv.length;
    mv.forEach((v, i) => {
      if (v === 0) {
        pruned++;
        if (w[i] === 0) zeroAtPruned++;
      }
    });
  }
  return { pruned, zeroAtPruned, size };
}

describe('fine-tuning keeps pruned weights at exactly zero', () => {
  for (const [label, make] of [
    ['SGD', () => tf.train.sgd(0.2)],
    ['momentum', () => tf.train.momentum(0.1, 0.9)],
    ['Adam (moments from before pruning)', () => tf.train.adam(0.01)],
  ] as const) {
    it(label, async () => {
      const model = mlp([16, 24, 12, 4], { seed: 1, activation: lrelu });
      const optimizer = make();
      await trainContinual(model, [TASK], { optimizer, epochs: 2, batchSize: 20 });
      // counted once the optimizer holds its state (tfjs's momentum optimizer leaks a scalar on dispose)
      const tensorsBefore = tf.memory().numTensors;
      const imp = Object.fromEntries(Object.entries(model.params).map(([n, v]) => [n, tf.abs(v)]));
      const masks = await pruningMasks(imp, { sparsity: 0.7, biases: true });
      disposeParams(imp);
      applyMasks(model.params, masks);
      const snapshot = model.getWeights({ state: false });
      const N = Object.values(masks).reduce((n, m) => n + m.size, 0);
      // the same optimizer keeps training: its moments still push the pruned weights
      await fineTune(model, TASK, masks, { optimizer, epochs: 3, batchSize: 20 });
      const c = check(model, masks);
      expect(c.pruned).toBe(Math.round(0.7 * N));
      expect(c.zeroAtPruned).toBe(c.pruned);
      // the unpruned weights did train
      let moved = 0;
      for (const [n, m] of Object.entries(masks)) {
        const before = (snapshot[n] as tf.Tensor).dataSync();
        const after = (model.params[n] as tf.Tensor).dataSync();
        m.dataSync().forEach((v, i) => v === 1 && before[i] !== after[i] && moved++);
      }
      expect(moved).toBeGreaterThan(0.5 * (N - c.pruned));
      disposeParams(snapshot);
      disposeParams(masks);
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      optimizer.dispose();
      model.dispose();
    });
  }
});

describe('pruningPlugin', () => {
  it('follows a polynomial-decay schedule inside trainContinual, exact counts at every update', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const model = mlp([16, 24, 12, 4], { seed: 2, activation: lrelu });
    const schedule = polynomialDecay({ initialSparsity: 0.2, finalSparsity: 0.8, beginStep: 0, endStep: 40, power: 3, frequency: 10 });
    const plugin = pruningPlugin({ schedule, biases: false, exclude: ['dense_2'] });
    const optimizer = tf.train.adam(0.01);
    await trainContinual(model, [TASK], { optimizer, iterations: 60, batchSize: 20, plugins: [plugin] });
    const N = 16 * 24 + 24 * 12;
    expect(plugin.history.map((h) => h.step)).toEqual([0, 10, 20, 30, 40]);
    for (const h of plugin.history) {
      expect(h.sparsity).toBeCloseTo(schedule.at(h.step).sparsity, 12);
      expect(h.pruned).toBe(Math.round(h.sparsity * N));
      expect(h.size).toBe(N);
    }
    expect(Object.keys(plugin.masks)).toEqual(['dense_0/kernel', 'dense_1/kernel']);
    const c = check(model, plugin.masks);
    expect(c.pruned).toBe(Math.round(0.8 * N));
    expect(c.zeroAtPruned).toBe(c.pruned);
    plugin.dispose();
    optimizer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('computes an asynchronous importance (SIG) at a task start; refuses one inside a task', async () => {
    const model = mlp([16, 24, 12, 4], { seed: 4, activation: lrelu });
    const optimizer = tf.train.sgd(0.1);
    await trainContinual(model, [TASK], { optimizer, epochs: 1, batchSize: 20 });
    const plugin = pruningPlugin({
      schedule: oneShot(0.6, { step: 3 }),
      biases: true,
      importance: (m) => sig(m, TASK.validation as NonNullable<typeof TASK.validation>, { limit: 100 }),
    });
    await expect(trainContinual(model, [TASK], { optimizer, iterations: 10, batchSize: 20, plugins: [plugin] })).rejects.toThrow(
      /prunes at step 3, inside a task, where the importance must be synchronous/,
    );
    plugin.dispose();
    const startPlugin = pruningPlugin({ schedule: oneShot(0.6), biases: true, importance: (m) => sig(m, TASK.validation as NonNullable<typeof TASK.validation>, { limit: 100 }) });
    await trainContinual(model, [TASK], { optimizer, iterations: 10, batchSize: 20, plugins: [startPlugin] });
    const c = check(model, startPlugin.masks);
    expect(c.pruned).toBe(Math.round(0.6 * c.size));
    expect(c.zeroAtPruned).toBe(c.pruned);
    startPlugin.dispose();
    optimizer.dispose();
    model.dispose();
  });
});

describe('pruneIteratively', () => {
  it('prunes in rounds by SIG, fine-tuning between them; pruned weights stay pruned', async () => {
    const model = mlp([16, 24, 12, 4], { seed: 5, activation: lrelu });
    await trainContinual(model, [TASK], { optimizer: tf.train.adam(0.01), epochs: 3, batchSize: 20 });
    const base = (await evaluate(model, TASK.test)).accuracy;
    const { masks, rounds } = await pruneIteratively(model, {
      schedule: iterative([0.5, 0.8], { every: 24 }),
      importance: 'sig',
      calibration: TASK.train,
      importanceOptions: { limit: 200 },
      biases: true,
      tasks: TASK,
      fineTune: { optimizer: () => tf.train.adam(0.005), batchSize: 20 },
      evaluateOn: TASK,
    });
    expect(rounds.map((r) => r.sparsity)).toEqual([0.5, 0.8]);
    expect(rounds.map((r) => r.training.timings[0]?.steps)).toEqual([24, 24]);
    const c = check(model, masks);
    expect(c.pruned).toBe(Math.round(0.8 * c.size));
    expect(c.zeroAtPruned).toBe(c.pruned);
    expect(base).toBeGreaterThan(0.6);
    expect(rounds[1]?.fineTuned).toBeGreaterThan(0.5);
    disposeParams(masks);
    model.dispose();
  });
});
