// The continual evidence: three permuted tasks of the embedded Fashion-MNIST subset (real images),
// an MLP, the same seed for every run. WVA (SIG importances, summed over tasks) against plain training.
// Runs on wasm (about 5 ms per step here against ~40 on tfjs's JavaScript cpu backend).
import * as tf from '@tensorflow/tfjs-core';
import { type ContinualResult, type Task, mlp, trainContinual, useBackend } from '@forgetless/core';
import { taskSequence } from '@forgetless/datasets';
import { loadEmbedded } from '@forgetless/datasets/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplyTo, wvaPlugin } from '../src/index.js';

let tasks: Task[];

beforeAll(async () => {
  await useBackend('wasm');
  tasks = taskSequence('permuted', { dataset: await loadEmbedded(), numTasks: 3, seed: 0, validation: 1000 });
});

afterAll(async () => {
  await useBackend('cpu');
});

/** One run: one optimizer for all tasks (moments carried over), as in papers 2 and 4. */
async function run(makeOptimizer: () => tf.Optimizer, wva?: { lambda: number; applyTo?: ApplyTo }): Promise<ContinualResult> {
  const model = mlp([784, 100, 10], { seed: 1, activation: { name: 'leakyRelu', alpha: 0.01 } });
  const plugin = wva ? wvaPlugin({ ...wva, importance: { method: 'sig', limit: 500 } }) : undefined;
  const before = tf.memory().numTensors;
  const optimizer = makeOptimizer();
  const r = await trainContinual(model, tasks, { optimizer, iterations: 200, batchSize: 100, seed: 2, evalLimit: 1000, plugins: plugin ? [plugin] : [] });
  optimizer.dispose();
  plugin?.dispose();
  expect(tf.memory().numTensors, 'tensors leaked over the run').toBe(before);
  model.dispose();
  return r;
}

const fmt = (r: ContinualResult) =>
  r.accuracy
    .map((row) =>
      row
        .filter((x) => !Number.isNaN(x))
        .map((x) => x.toFixed(3))
        .join(' '),
    )
    .join(' | ');

describe('WVA on 3 permuted Fashion-MNIST tasks (embedded subset, 784-100-10 leaky ReLU, 200 steps of 100 per task)', () => {
  it('SGD: WVA keeps markedly more of task 0 than plain training', async () => {
    const plain = await run(() => tf.train.sgd(0.2));
    const withWva = await run(() => tf.train.sgd(0.2), { lambda: 300 });
    const r = (x: ContinualResult, i: number, j: number) => x.accuracy[i]?.[j] as number;
    const forgetting = r(plain, 0, 0) - r(plain, 2, 0);
    const kept = r(withWva, 2, 0) - r(plain, 2, 0);
    console.log(
      `SGD lr 0.2, R[i][j]:\n  plain ${fmt(plain)}\n  WVA-SIG λ=300 (gradients) ${fmt(withWva)}\n  plain forgets ${forgetting.toFixed(3)} of task 0; WVA ends ${kept.toFixed(3)} above plain on it; average accuracy ${plain.averageAccuracy[2]?.toFixed(3)} → ${withWva.averageAccuracy[2]?.toFixed(3)}`,
    );
    expect(r(plain, 0, 0)).toBe(r(withWva, 0, 0)); // task 0 is trained identically (no factors yet)
    expect(forgetting).toBeGreaterThan(0.05); // there is forgetting to prevent
    expect(kept).toBeGreaterThan(forgetting / 2);
    expect(withWva.averageAccuracy[2] as number).toBeGreaterThan(plain.averageAccuracy[2] as number);
    expect(r(withWva, 2, 2)).toBeGreaterThan(r(plain, 2, 2) - forgetting / 2); // still learns the new task
  });

  it('Adam (paper 4): steps mode keeps more of task 0 than gradients mode and than plain Adam', async () => {
    const adam = () => tf.train.adam(1e-3);
    const plain = await run(adam);
    const grads = await run(adam, { lambda: 1000, applyTo: 'gradients' });
    const steps = await run(adam, { lambda: 1000 }); // the default for Adam
    const last = (x: ContinualResult) => x.accuracy[2]?.[0] as number;
    const forgetting = (plain.accuracy[0]?.[0] as number) - last(plain);
    console.log(
      `Adam lr 1e-3, λ=1000, R[i][j]:\n  plain ${fmt(plain)}\n  gradients ${fmt(grads)}\n  steps ${fmt(steps)}\n  task 0 at the end: plain ${last(plain).toFixed(3)}, gradients ${last(grads).toFixed(3)}, steps ${last(steps).toFixed(3)}`,
    );
    expect(last(steps)).toBeGreaterThan(last(grads));
    expect(last(steps) - last(plain)).toBeGreaterThan(forgetting / 3);
  });
});
