// Structural pruning with training: iterative rounds with fine-tuning, and shrinking after each task.
import * as tf from '@tensorflow/tfjs-core';
import { mlp, syntheticPermutedTasks } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { pruneStructureIteratively, trainShrinking } from './training.js';

const tasks = syntheticPermutedTasks({ numTasks: 2, features: 16, numClasses: 4, trainPerClass: 30, testPerClass: 20, seed: 1 });
const train = { optimizer: () => tf.train.sgd(0.05), iterations: 20, batchSize: 20 };

describe('structural pruning with training', () => {
  it('iterative: each round reaches its cumulative target and fine-tunes the smaller model', async () => {
    const before = tf.memory().numTensors;
    const model = mlp([16, 24, 12, 4], { seed: 1 });
    const { model: small, rounds } = await pruneStructureIteratively(model, {
      importance: 'magnitude',
      rounds: [{ params: 0.3 }, { params: 0.5 }],
      tasks: tasks[0] as (typeof tasks)[number],
      fineTune: train,
      evaluateOn: tasks[0] as (typeof tasks)[number],
    });
    const full = 16 * 24 + 24 + 24 * 12 + 12 + 12 * 4 + 4;
    expect(rounds.map((r) => r.counts.params <= full * (1 - [0.3, 0.5][rounds.indexOf(r)]!))).toEqual([true, true]);
    expect(small.countParams()).toBe(rounds[1]?.counts.params);
    expect(rounds[1]?.accuracy).toBeGreaterThan(0.5);
    small.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('continual: shrinks after each task by the consolidated importance', async () => {
    const before = tf.memory().numTensors;
    const model = mlp([16, 24, 12, 4], { seed: 2 });
    const { model: small, tasks: figures } = await trainShrinking(model, tasks, { importance: 'mas', targets: [{ channels: 0.25 }, { channels: 0.5 }], train });
    expect(figures.map((f) => f.counts.channels)).toEqual([27, 18]);
    expect(figures[1]?.accuracy.length).toBe(2);
    small.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
