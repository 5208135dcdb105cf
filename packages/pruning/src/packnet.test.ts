import * as tf from '@tensorflow/tfjs-core';
import { type Task, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { packNet } from './packnet.js';

// three tasks of 10 classes, task-incremental: each task's own pair of classes
const base = syntheticPermutedTasks({ numTasks: 3, features: 16, trainPerClass: 12, testPerClass: 6, seed: 6 });
const tasks: Task[] = base.map((t, i) => ({ ...t, classes: [2 * i, 2 * i + 1, 2 * i + 6].filter((c) => c < 10) }));

describe('packNet', () => {
  it("keeps earlier tasks' weights bitwise unchanged under Adam, splits ownership, and evaluates task j on its own weights", async () => {
    const model = mlp([16, 24, 10], { seed: 3 });
    const before = tf.memory().numTensors;
    const opt = tf.train.adam(0.01);
    const p = packNet({ prune: 0.5, fineTuneSteps: 3, batchSize: 10 });
    let afterFirst: Record<string, Float32Array> | undefined;
    let owners0: Record<string, Float32Array> | undefined;
    const r = await trainContinual(model, tasks, {
      optimizer: opt,
      epochs: 2,
      batchSize: 10,
      plugins: [p],
      onTaskEnd: ({ taskIndex }) => {
        if (taskIndex !== 0) return;
        afterFirst = Object.fromEntries(Object.entries(model.params).map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
        owners0 = Object.fromEntries(Object.entries(p.owners).map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
      },
    });
    const first = afterFirst as Record<string, Float32Array>;
    const own0 = owners0 as Record<string, Float32Array>;
    for (const [n, v] of Object.entries(model.params)) {
      const now = v.dataSync();
      const o = own0[n];
      for (let i = 0; i < now.length; i++) {
        // task 0's kernel weights and every bias: bitwise the values after task 0
        if (!o || o[i] === 1) expect(Object.is(now[i], first[n]?.[i])).toBe(true);
      }
    }
    // ownership: task 0 kept half of everything, task 1 half of the rest, task 2 half of that
    const o = Array.from((p.owners['dense_0/kernel'] as tf.Tensor).dataSync());
    const count = (k: number) => o.filter((v) => v === k).length;
    expect(count(1)).toBe(o.length / 2);
    expect(count(2)).toBe(o.length / 4);
    expect(count(3)).toBe(o.length / 8);
    // task 0 is evaluated on exactly the network it ended with: no forgetting at all
    expect(r.accuracy[1]?.[0]).toBe(r.accuracy[0]?.[0]);
    expect(r.accuracy[2]?.[0]).toBe(r.accuracy[0]?.[0]);
    expect(r.accuracy[2]?.[1]).toBe(r.accuracy[1]?.[1]);
    p.dispose();
    opt.dispose(); // Adam's moments
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('state round trip', async () => {
    const model = mlp([16, 8, 10], { seed: 1 });
    const opt = tf.train.sgd(0.1);
    const p = packNet();
    await trainContinual(model, tasks.slice(0, 1), { optimizer: opt, iterations: 2, batchSize: 10, plugins: [p] });
    const q = packNet();
    q.setState(p.getState());
    expect(Array.from((q.owners['dense_1/kernel'] as tf.Tensor).dataSync())).toEqual(Array.from((p.owners['dense_1/kernel'] as tf.Tensor).dataSync()));
    p.dispose();
    q.dispose();
    opt.dispose();
    model.dispose();
  });
});
