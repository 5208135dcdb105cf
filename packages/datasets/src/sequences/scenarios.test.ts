import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { fixtureDataset } from '../test-fixtures.js';
import { cumulativeTasks } from './joint.js';
import { permutedTasks } from './permuted.js';
import { splitTasks } from './split.js';

function labels(source: { batches: (n: number) => Iterable<{ x: tf.Tensor; y: tf.Tensor1D; logitMask?: tf.Tensor2D }> }): { y: number[]; masks: number } {
  const y: number[] = [];
  let masks = 0;
  for (const b of source.batches(1000)) {
    y.push(...Array.from(b.y.dataSync()));
    if (b.logitMask) masks++;
    tf.dispose([b.x, b.y, ...(b.logitMask ? [b.logitMask] : [])]);
  }
  return { y, masks };
}

describe('scenarios', () => {
  const data = fixtureDataset();

  it('split: scenario names the mode (task: masks, domain: labels 0..1, class: no mask)', () => {
    expect(splitTasks(data, { scenario: 'task' })[1]?.classes).toEqual([2, 3]);
    const domain = splitTasks(data, { scenario: 'domain' });
    expect(domain[1]?.classes).toBeUndefined();
    expect(new Set(labels(domain[1]?.train as never).y)).toEqual(new Set([0, 1]));
    expect(splitTasks(data, { scenario: 'class', mode: 'task' })[1]?.classes).toBeUndefined();
  });

  it('permuted: domain keeps 10 labels; task and class shift task t to 10t..10t+9 (task also masks)', () => {
    const domain = permutedTasks(data, { numTasks: 3 });
    expect(domain[2]?.train.numClasses).toBe(10);
    const task = permutedTasks(data, { numTasks: 3, scenario: 'task' });
    expect(task[2]?.classes).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    expect(task[2]?.train.numClasses).toBe(30);
    const cls = permutedTasks(data, { numTasks: 3, scenario: 'class' });
    expect(cls[1]?.classes).toBeUndefined();
    const got = labels(cls[1]?.test as never).y;
    expect(Math.min(...got)).toBeGreaterThanOrEqual(10);
    expect(Math.max(...got)).toBeLessThan(20);
  });

  it('cumulativeTasks: task i trains on the examples of tasks 0..i, with per-example masks in the task scenario', () => {
    const tasks = splitTasks(data, { scenario: 'task' });
    const joint = cumulativeTasks(tasks);
    const sizes = tasks.map((t) => t.train.size);
    expect(joint[2]?.train.size).toBe((sizes[0] as number) + (sizes[1] as number) + (sizes[2] as number));
    const before = tf.memory().numTensors;
    const got = labels(joint[2]?.train as never);
    expect(tf.memory().numTensors).toBe(before);
    expect(new Set(got.y)).toEqual(new Set([0, 1, 2, 3, 4, 5]));
    expect(got.masks).toBeGreaterThan(0);
    expect(joint[2]?.test).toBe(tasks[2]?.test);
  });
});
