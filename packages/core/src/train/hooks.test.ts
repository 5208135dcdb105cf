import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../gradients.js';
import type { Batch } from '../data.js';
import { softmaxCrossEntropy } from '../loss.js';
import { mlp } from '../presets.js';
import { syntheticPermutedTasks } from '../synthetic.js';
import { trainContinual } from './continual.js';
import type { Plugin } from './plugin.js';

const tasks = syntheticPermutedTasks({ numTasks: 2, features: 16, trainPerClass: 10, testPerClass: 5, seed: 2 });

describe('transformBatch, lossTerm(step) and the evaluation hooks', () => {
  it('trains on the transformed batch, hands lossTerm the batch and logits, frees every batch and leaks nothing', async () => {
    const m = mlp([16, 8, 10], { seed: 1 });
    const opt = tf.train.sgd(0.1);
    const seen: number[] = [];
    const evaluated: string[] = [];
    let lossChecked = false;
    const doubler: Plugin = {
      name: 'double',
      transformBatch: (b: Batch) => ({ x: tf.concat([b.x, b.x]), y: tf.concat([b.y, b.y]) as tf.Tensor1D }),
    };
    const watcher: Plugin = {
      name: 'watch',
      transformBatch: (b) => {
        seen.push(b.x.shape[0] as number);
        return b;
      },
      lossTerm: (_ctx, step) => {
        expect(step.batch.x.shape[0]).toBe(step.logits.shape[0]);
        if (!lossChecked) {
          // the logits are the model's on the batch trained on
          const again = m.logits(step.batch.x);
          expect(Array.from(again.dataSync())).toEqual(Array.from(step.logits.dataSync()));
          lossChecked = true;
        }
        return undefined;
      },
      beforeEvaluate: (j) => void evaluated.push(`before ${j}`),
      afterEvaluate: (j) => void evaluated.push(`after ${j}`),
    };
    const before = tf.memory().numTensors;
    await trainContinual(m, tasks, { optimizer: opt, iterations: 2, batchSize: 10, plugins: [doubler, watcher] });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen).toEqual([20, 20, 20, 20]);
    expect(lossChecked).toBe(true);
    expect(evaluated).toEqual(['before 0', 'after 0', 'before 0', 'after 0', 'before 1', 'after 1']);
    opt.dispose();
    m.dispose();
  });

  it('a batch logitMask replaces the task mask in the loss', () => {
    const logits = tf.tensor2d([
      [1, 2, 3],
      [0.5, -1, 2],
    ]);
    const y = tf.tensor1d([0, 2], 'int32');
    const mask = tf.tensor2d([
      [0, 0, -1e9],
      [-1e9, 0, 0],
    ]);
    const got = softmaxCrossEntropy(tf.add(logits, mask), y).dataSync()[0] as number;
    const row0 = -(1 - Math.log(Math.exp(1) + Math.exp(2)));
    const row1 = -(2 - Math.log(Math.exp(-1) + Math.exp(2)));
    expect(got).toBeCloseTo((row0 + row1) / 2, 5);
    tf.dispose([logits, y, mask]);
  });
});
