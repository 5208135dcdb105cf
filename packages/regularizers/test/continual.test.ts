// Evidence on real data: three permuted Fashion-MNIST tasks (the embedded 10k/2k subset), paper 2's
// protocol in miniature (leaky-ReLU MLP, Adam 1e-3, batch 100): EWC and stabilised EWC keep much more
// of the first task than plain training, by a margin measured against plain training's own forgetting.
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { type ContinualResult, type Plugin, type Task, mlp, trainContinual } from '@forgetless/core';
import { taskSequence } from '@forgetless/datasets';
import { loadEmbedded } from '@forgetless/datasets/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ewc } from '../src/ewc.js';
import { stabilizedEwc } from '../src/stabilized.js';

let tasks: Task[];
beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  tasks = taskSequence('permuted', { dataset: await loadEmbedded(), numTasks: 3, seed: 0, validation: 500 });
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

async function runWith(plugins: Plugin[]): Promise<ContinualResult> {
  const model = mlp([784, 64, 10], { seed: 1, activation: { name: 'leakyRelu', alpha: 0.01 } });
  const before = tf.memory().numTensors;
  const optimizer = tf.train.adam(1e-3);
  const r = await trainContinual(model, tasks, { optimizer, iterations: 200, batchSize: 100, seed: 2, learningRate: 1e-3, evalLimit: 1000, plugins });
  for (const p of plugins) p.dispose?.();
  optimizer.dispose();
  expect(tf.memory().numTensors, 'the run and its disposed plugins leave nothing').toBe(before);
  model.dispose();
  return r;
}

describe('continual learning on permuted Fashion-MNIST', () => {
  it('EWC (λ 41) and stabilised EWC (λ 85) keep markedly more of task 0 than plain training', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const plain = await runWith([]);
    const closing = { method: 'fisher', limit: 500 } as const;
    const withEwc = await runWith([ewc({ lambda: 41, importance: closing })]);
    const withStable = await runWith([stabilizedEwc({ lambda: 85, importance: closing })]);
    const first = (r: ContinualResult) => r.accuracy[2]?.[0] as number;
    const forgetting = (plain.accuracy[0]?.[0] as number) - first(plain);
    if (process.env.FORGETLESS_VERBOSE) {
      for (const [name, r] of [
        ['plain', plain],
        ['ewc', withEwc],
        ['stabilised', withStable],
      ] as const) {
        process.stderr.write(`${name}: R = ${JSON.stringify(r.accuracy.map((row) => row.map((v) => +v.toFixed(3))))}, average ${r.averageAccuracy.at(-1)?.toFixed(3)}\n`);
      }
    }
    // plain training forgets (else the comparison says nothing) ...
    expect(forgetting).toBeGreaterThan(0.05);
    // ... and consolidation keeps more than half of what it forgets
    expect(first(withEwc) - first(plain)).toBeGreaterThan(0.5 * forgetting);
    expect(first(withStable) - first(plain)).toBeGreaterThan(0.5 * forgetting);
    // the same holds for the mean over the three tasks after the last one
    expect(withEwc.averageAccuracy[2] as number).toBeGreaterThan(plain.averageAccuracy[2] as number);
    expect(withStable.averageAccuracy[2] as number).toBeGreaterThan(plain.averageAccuracy[2] as number);
    // and the new tasks are still learned (within the forgetting plain training shows)
    for (const r of [withEwc, withStable]) expect(r.accuracy[2]?.[2] as number).toBeGreaterThan((plain.accuracy[2]?.[2] as number) - forgetting);
  });
});
