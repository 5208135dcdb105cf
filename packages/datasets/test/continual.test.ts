// The sequences feed core's trainContinual: a small MLP learns the embedded Fashion-MNIST tasks.
import { mlp, trainContinual } from '@forgetless/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../test/helpers.js';
import { loadEmbedded } from '../src/embedded-node.js';
import { taskSequence } from '../src/sequences/registry.js';

describe('task sequences in trainContinual', () => {
  it('learns permuted and task-incremental split Fashion-MNIST well above chance', async () => {
    const dataset = await loadEmbedded();
    await expectNoLeak(async () => {
      const permuted = taskSequence('permuted', { dataset, numTasks: 2, seed: 1 });
      const model = mlp([784, 16, 10], { seed: 0 });
      const optimizer = tf.train.sgd(0.1);
      const run = await trainContinual(model, permuted, { optimizer, iterations: 100, batchSize: 32, evalLimit: 500 });
      const R = run.accuracy;

      // 100 small SGD steps reach ~65% on a Fashion-MNIST task (chance: 10%)
      expect(R[0]![0]).toBeGreaterThan(0.5);
      expect(R[1]![1]).toBeGreaterThan(0.5);
      // training the second permutation overwrites the first: forgetting, the thing the library fights
      expect(R[1]![0]).toBeLessThan(R[0]![0]!);
      optimizer.dispose();
      model.dispose();

      const split = taskSequence('split', {
        dataset,
        groups: [
          [0, 1],
          [7, 9],
        ],
        mode: 'task',
      });
      const model2 = mlp([784, 16, 10], { seed: 0 });
      const optimizer2 = tf.train.sgd(0.1);
      const run2 = await trainContinual(model2, split, { optimizer: optimizer2, iterations: 30, batchSize: 32 });
      // two-way choices inside each task's label mask: T-shirt/trouser and sneaker/ankle boot are easy
      expect(run2.accuracy[1]![1]).toBeGreaterThan(0.85);
      expect(run2.accuracy[0]![0]).toBeGreaterThan(0.85);
      optimizer2.dispose();
      model2.dispose();
    });
  });
});
