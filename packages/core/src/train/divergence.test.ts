// Divergence and blow-ups are caught by the training loop at the step they happen, and labels the
// model cannot output are refused before any step.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../gradients.js';
import { ArraySource, type Task } from '../data.js';
import { mlp } from '../presets.js';
import { syntheticPermutedTasks } from '../synthetic.js';
import { type ProgressEvent, trainContinual } from './continual.js';
import { findNonFinite } from './health.js';
import type { Plugin } from './plugin.js';

const tasks = syntheticPermutedTasks({ numTasks: 2, features: 32, trainPerClass: 40, testPerClass: 20, seed: 1 });
const model = (seed = 1) => mlp([32, 32, 10], { seed });

describe('divergence', () => {
  it('lr 1e30: stops at the exact step, names the parameter, reports no accuracy, warns first, leaks nothing', async () => {
    const m = model();
    const opt = tf.train.sgd(1e30);
    const events: ProgressEvent[] = [];
    const log: string[] = [];
    const spy: Plugin = { name: 'spy', afterTask: () => void log.push('afterTask') };
    const before = tf.memory().numTensors;
    const r = await trainContinual(m, tasks, {
      optimizer: opt,
      iterations: 30,
      batchSize: 20,
      progressEvery: 1,
      plugins: [spy],
      evaluateOn: 'all',
      onProgress: (e) => events.push(e),
      onTaskEnd: () => void log.push('taskEnd'),
    });
    expect(tf.memory().numTensors).toBe(before);
    // step 1 moves the weights to ~5e29 (finite, warned); step 2's loss overflows to NaN and its update makes every weight NaN
    expect(r.diverged).toMatchObject({ taskIndex: 0, task: 'synthetic-0', step: 2, taskStep: 2, reason: 'loss', parameter: 'dense_0/kernel' });
    expect(r.diverged?.value).toBeNaN();
    expect(r.diverged?.message).toBe("diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN)");
    // no accuracy of the NaN model: no row, no timing, no importances, no checkpoint
    expect(r.accuracy).toEqual([]);
    expect(r.averageAccuracy).toEqual([]);
    expect(r.timings).toEqual([]);
    expect(log).toEqual([]);
    expect(r.cancelled).toBe(false);
    // the losses recorded stop before the NaN
    expect(r.losses.every((l) => Number.isFinite(l.loss))).toBe(true);
    const warning = events.find((e) => e.kind === 'warning');
    expect(warning?.warning).toMatchObject({ reason: 'parameter', taskStep: 1, parameter: 'dense_1/kernel' });
    expect(warning?.warning?.value).toBeGreaterThan(1e20);
    expect(r.warnings.length).toBeGreaterThan(0);
    const d = events.find((e) => e.kind === 'diverged');
    expect(d?.diverged).toEqual(r.diverged);
    expect(events.some((e) => e.kind === 'task')).toBe(false);
    opt.dispose();
    m.dispose();
  });

  it('the step is exact whatever the progress cadence, and no mid-task evaluation sees the NaN model', async () => {
    const m = model();
    const opt = tf.train.sgd(1e30);
    const r = await trainContinual(m, tasks, { optimizer: opt, iterations: 40, batchSize: 20, progressEvery: 25, evaluateEvery: 3 });
    expect(r.diverged).toMatchObject({ step: 2, reason: 'loss' });
    expect(r.curves).toEqual([]);
    opt.dispose();
    m.dispose();
  });

  it('a parameter made infinite by a step with a finite loss: reason parameter, that step, that parameter', async () => {
    const m = model();
    const opt = tf.train.sgd(0.1);
    // on task 2's third step, the step kept for dense_1/bias is infinite
    const p: Plugin = {
      name: 'poison',
      transformStep: (d, ctx) =>
        ctx.taskIndex === 1 && ctx.taskStep === 2 ? { ...d, 'dense_1/bias': tf.fill(d['dense_1/bias']?.shape as number[], Number.POSITIVE_INFINITY) } : d,
    };
    const before = tf.memory().numTensors;
    const r = await trainContinual(m, tasks, { optimizer: opt, iterations: 10, batchSize: 20, plugins: [p], progressEvery: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.diverged).toMatchObject({ taskIndex: 1, task: 'synthetic-1', step: 13, taskStep: 3, reason: 'parameter', parameter: 'dense_1/bias', value: Number.POSITIVE_INFINITY });
    expect(r.diverged?.message).toBe("diverged at task 2 step 3 (parameter 'dense_1/bias' = Infinity)");
    // task 1's row is kept (measured before the divergence), task 2's is absent
    expect(r.accuracy).toHaveLength(1);
    expect(r.accuracy[0]?.[0]).toBeGreaterThan(0.3);
    expect(r.timings).toHaveLength(1);
    opt.dispose();
    m.dispose();
  });

  it('a penalty of λ 1e30 (L2 to the start) diverges too', async () => {
    const m = model();
    const anchor = m.getWeights({ state: false });
    const l2: Plugin = {
      name: 'l2',
      lossTerm: () => tf.mul(1e30, tf.addN(Object.entries(m.params).map(([n, v]) => tf.sum(tf.square(tf.sub(v, tf.add(anchor[n] as tf.Tensor, 0.01))))))) as tf.Scalar,
    };
    const opt = tf.train.sgd(0.1);
    const r = await trainContinual(m, tasks, { optimizer: opt, iterations: 20, batchSize: 20, plugins: [l2] });
    expect(r.diverged?.taskIndex).toBe(0);
    expect(r.diverged?.step).toBeLessThanOrEqual(3);
    expect(r.accuracy).toEqual([]);
    tf.dispose(Object.values(anchor));
    opt.dispose();
    m.dispose();
  });

  it('finite blow-ups (lr 50) warn with the step and the parameter, once per task and kind', async () => {
    const m = model();
    const opt = tf.train.sgd(50);
    const warnings: ProgressEvent[] = [];
    const r = await trainContinual(m, tasks.slice(0, 1), {
      optimizer: opt,
      iterations: 8,
      batchSize: 20,
      progressEvery: 1,
      onProgress: (e) => e.kind === 'warning' && warnings.push(e),
    });
    expect(r.diverged).toBeUndefined();
    const byReason = Object.fromEntries(r.warnings.map((w) => [w.reason, w]));
    expect(r.warnings).toHaveLength(2);
    // the loss went from 4.49 to 1.42e9 at step 4 (2.06e6 at step 3 is < 1e6 × 4.49); |θ| passed 1e8 at step 6
    expect(byReason.loss).toMatchObject({ taskIndex: 0, taskStep: 4 });
    expect(byReason.loss?.message).toMatch(/^task 1 step 4: the loss reached 1\.42e\+9, 3\.1\de\+8× its value at the task's first step/);
    expect(byReason.parameter).toMatchObject({ taskIndex: 0, taskStep: 6, parameter: 'dense_0/kernel' });
    expect(byReason.parameter?.message).toMatch(/^task 1 step 6: parameter 'dense_0\/kernel' reached \|θ\| = 1\.2\de\+9/);
    expect(warnings.map((w) => w.warning)).toEqual(r.warnings);
    opt.dispose();
    m.dispose();
  });

  it('a healthy run reports neither', async () => {
    const m = model();
    const opt = tf.train.sgd(0.1);
    const r = await trainContinual(m, tasks, { optimizer: opt, iterations: 10, batchSize: 20 });
    expect(r.diverged).toBeUndefined();
    expect(r.warnings).toEqual([]);
    expect(r.accuracy).toHaveLength(2);
    opt.dispose();
    m.dispose();
  });

  it('findNonFinite names the first non-finite parameter and its value', () => {
    const map = { a: tf.tensor1d([1, 2]), b: tf.tensor1d([1, Number.NEGATIVE_INFINITY]), c: tf.tensor1d([Number.NaN]) };
    const before = tf.memory().numTensors;
    expect(findNonFinite(map)).toEqual({ name: 'b', value: Number.NEGATIVE_INFINITY });
    expect(findNonFinite({ a: map.a })).toBeUndefined();
    expect(findNonFinite({ c: map.c })?.value).toBeNaN();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(map));
  });
});

describe('labels the model cannot output', () => {
  it('ArraySource refuses a label ≥ numClasses (or negative), naming it', () => {
    const x = new Uint8Array(3 * 4);
    expect(() => new ArraySource({ x, y: [1, 200, 3], exampleShape: [4], numClasses: 10 })).toThrow('arraySource: label 200 of example 1 is outside 0..9 (numClasses 10)');
    expect(() => new ArraySource({ x, y: Int32Array.from([1, -1, 3]), exampleShape: [4], numClasses: 10 })).toThrow(/label -1 of example 1/);
    // a view only exposes its examples; a label map must cover every raw label it sees
    const ok = new ArraySource({ x, y: [1, 2, 3], exampleShape: [4], numClasses: 2, labelMap: [0, 0, 1, 1] });
    expect(ok.label(2)).toBe(1);
    expect(() => new ArraySource({ x, y: [1, 2, 7], exampleShape: [4], numClasses: 2, labelMap: [0, 0, 1, 1] })).toThrow(/label 7 of example 2 has no entry in labelMap/);
  });

  it('trainContinual refuses tasks with more classes than the model outputs, before any step', async () => {
    const m = model();
    const opt = tf.train.sgd(0.1);
    const wide = (n: number): Task => {
      const x = new Float32Array(4 * 32);
      const src = new ArraySource({ x, y: [0, 1, n - 1, 2], exampleShape: [32], numClasses: n });
      return { name: 'wide', train: src, test: src };
    };
    const steps: string[] = [];
    const spy: Plugin = { name: 'spy', beforeStep: () => void steps.push('step') };
    await expect(trainContinual(m, [tasks[0] as Task, wide(201)], { optimizer: opt, plugins: [spy] })).rejects.toThrow(
      "trainContinual: task 'wide' has labels up to 200 (numClasses 201), but the model outputs 10 classes (labels 0..9)",
    );
    await expect(trainContinual(m, [wide(20)], { optimizer: opt })).rejects.toThrow(/labels up to 19 \(numClasses 20\), but the model outputs 10 classes/);
    const masked: Task = { ...(tasks[0] as Task), classes: [3, 12] };
    await expect(trainContinual(m, [masked], { optimizer: opt })).rejects.toThrow(/task 'synthetic-0' masks class 12, but the model outputs 10 classes/);
    expect(steps).toEqual([]);
    opt.dispose();
    m.dispose();
  });
});
