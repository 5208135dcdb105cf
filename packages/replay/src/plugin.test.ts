import * as tf from '@tensorflow/tfjs-core';
import { type Model, type ParamMap, type Task, type TrainContext, disposeParams, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { replay } from './plugin.js';

const base = syntheticPermutedTasks({ numTasks: 2, features: 16, trainPerClass: 10, testPerClass: 5, seed: 3 });

describe('replay plugin', () => {
  it('appends ratio × B stored examples with their own task masks, and leaks nothing', () => {
    const tasks: Task[] = base.map((t, i) => ({ ...t, classes: i === 0 ? [0, 1, 2, 3, 4] : [5, 6, 7, 8, 9] }));
    const model = mlp([16, 8, 10], { seed: 0 });
    const p = replay({ budget: 50, ratio: 0.5, seed: 1 });
    const ctx = (i: number) => ({ model, tasks, taskIndex: i, task: tasks[i] }) as unknown as TrainContext;
    const before = tf.memory().numTensors;
    const x = tf.ones([10, 16]);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2, 3, 4], 'int32');
    const first = p.transformBatch({ x, y }, ctx(0)); // empty memory: the batch, with its task's mask
    expect(first.x).toBe(x);
    expect(Array.from((first.logitMask as tf.Tensor).dataSync().slice(0, 10))).toEqual([0, 0, 0, 0, 0, -1e9, -1e9, -1e9, -1e9, -1e9]);
    (first.logitMask as tf.Tensor).dispose();
    const y2 = tf.tensor1d([5, 6, 7, 8, 9, 5, 6, 7, 8, 9], 'int32');
    const mixed = p.transformBatch({ x, y: y2 }, ctx(1));
    expect(mixed.x.shape).toEqual([15, 16]);
    const labels = Array.from(mixed.y.dataSync());
    const mask = (mixed.logitMask as tf.Tensor).arraySync() as number[][];
    for (let r = 10; r < 15; r++) {
      expect(labels[r]).toBeLessThan(5); // drawn from task 0 …
      expect(mask[r]?.slice(0, 5)).toEqual([0, 0, 0, 0, 0]); // … under task 0's mask
      expect(mask[r]?.[7]).toBe(-1e9);
    }
    expect(mask[0]?.[7]).toBe(0);
    tf.dispose([mixed.x, mixed.y, mixed.logitMask as tf.Tensor, x, y, y2]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('resumes exactly: weights and memory after task 2 equal an uninterrupted run', async () => {
    const run = async () => {
      const model = mlp([16, 12, 10], { seed: 5 });
      const opt = tf.train.sgd(0.1);
      const p = replay({ budget: 40, selection: 'class-balanced', seed: 7 });
      await trainContinual(model, base, { optimizer: opt, epochs: 1, batchSize: 10, seed: 2, plugins: [p] });
      const out = { weights: model.getWeights(), memory: p.memory.examples() };
      model.dispose();
      opt.dispose();
      return out;
    };
    // uninterrupted
    const whole = await run();
    // interrupted after task 1: state through JSON-able meta and copied tensors, a fresh model and plugin
    const model = mlp([16, 12, 10], { seed: 5 });
    const opt = tf.train.sgd(0.1);
    const p1 = replay({ budget: 40, selection: 'class-balanced', seed: 7 });
    const common = { optimizer: opt, epochs: 1, batchSize: 10, seed: 2 };
    let saved: { weights: ParamMap; tensors: ParamMap; meta: string; previous: { accuracy: number[][]; timings: [] } } | undefined;
    const controller = new AbortController();
    await trainContinual(model, base, {
      ...common,
      plugins: [p1],
      onTaskEnd: ({ taskIndex, result }) => {
        if (taskIndex !== 0) return;
        const s = p1.getState();
        saved = { weights: model.getWeights(), tensors: s.tensors, meta: JSON.stringify(s.meta), previous: { accuracy: result.accuracy.map((r) => [...r]), timings: [] } };
        controller.abort();
      },
      signal: controller.signal,
    });
    model.dispose();
    opt.dispose();
    const s = saved as NonNullable<typeof saved>;
    const m2: Model = mlp([16, 12, 10], { seed: 99 });
    m2.setWeights(s.weights);
    const p2 = replay({ budget: 40, selection: 'class-balanced', seed: 0 });
    p2.setState({ tensors: s.tensors, meta: JSON.parse(s.meta) });
    const opt2 = tf.train.sgd(0.1);
    await trainContinual(m2, base, { ...common, optimizer: opt2, plugins: [p2], startTask: 1, previous: s.previous });
    const resumed = m2.getWeights();
    for (const [n, w] of Object.entries(whole.weights)) expect(Array.from((resumed[n] as tf.Tensor).dataSync())).toEqual(Array.from(w.dataSync()));
    expect(Array.from(p2.memory.examples().x)).toEqual(Array.from(whole.memory.x));
    disposeParams(whole.weights);
    disposeParams(resumed);
    disposeParams(s.weights);
    disposeParams(s.tensors);
    m2.dispose();
    opt2.dispose();
  });

  it('herding fills the memory at each task end from the penultimate features', async () => {
    const model = mlp([16, 12, 10], { seed: 1 });
    const opt = tf.train.sgd(0.1);
    const p = replay({ budget: 20, selection: 'herding' });
    const before = tf.memory().numTensors;
    await trainContinual(model, base, { optimizer: opt, iterations: 2, batchSize: 10, plugins: [p] });
    expect(tf.memory().numTensors).toBe(before);
    expect(p.memory.size).toBe(20); // 10 classes × 2
    expect([...p.memory.counts().values()].every((k) => k === 2)).toBe(true);
    opt.dispose();
    model.dispose();
  });
});
