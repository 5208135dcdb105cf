import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Sequential, type Task, cloneParams, disposeParams, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { importanceTracker } from '@forgetless/importances';
import { describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { bitwiseEqual, flat } from '../test/fixtures.js';
import { wvaPlugin } from './plugin.js';
import { wva } from './wva.js';

const tasks = syntheticPermutedTasks({ numTasks: 3, features: 10, numClasses: 4, trainPerClass: 15, testPerClass: 5, seed: 2 });
const net = (seed = 4) => mlp([10, 8, 4], { seed, activation: { name: 'leakyRelu', alpha: 0.01 } });
const RUN = { iterations: 12, batchSize: 10, seed: 1 } as const;

describe('wvaPlugin', () => {
  it('computes I at each task end (sum over tasks), sets a = 1/(1 + λI) once per task, installs the mode of the optimizer, no transform before the first task ends', async () => {
    const m = net();
    const p = wvaPlugin({ lambda: 4, importance: { method: 'fisher', limit: 20 } });
    const seen: { task: number; grads: boolean; steps: boolean; mode: string | undefined }[] = [];
    const sums: ParamMap[] = [];
    p.tracker.onUpdate((u) => void sums.push(cloneParams(u.last)));
    const optimizers = [tf.train.adam(0.01), tf.train.sgd(0.1), tf.train.momentum(0.05, 0.9)];
    const check = async (taskIndex: number) => {
      seen.push({ task: taskIndex, grads: typeof p.transformGradients === 'function', steps: typeof p.transformStep === 'function', mode: p.applyTo });
      const I = p.tracker.importances as ParamMap;
      // I is the sum of the per-task importances so far; a is recomputed from it by hand
      for (const n of Object.keys(m.params)) {
        const sum = tf.tidy(() => tf.addN(sums.map((s) => s[n] as tf.Tensor)));
        expect(relErr(I[n] as tf.Tensor, sum), n).toBeLessThanOrEqual(1e-6);
        const hand = Array.from((I[n] as tf.Tensor).dataSync(), (x) => 1 / (1 + 4 * x));
        expect(relErr(p.factors[n] as tf.Tensor, hand), n).toBeLessThanOrEqual(1e-6);
        sum.dispose();
      }
    };
    await trainContinual(m, tasks, {
      ...RUN,
      optimizer: (i) => optimizers[i] as tf.Optimizer,
      plugins: [
        p,
        {
          name: 'probe',
          beforeTask: (ctx) =>
            void seen.push({ task: ctx.taskIndex, grads: typeof p.transformGradients === 'function', steps: typeof p.transformStep === 'function', mode: p.applyTo }),
        },
      ],
      onTaskEnd: ({ taskIndex }) => check(taskIndex),
    });
    // task 0 (Adam): nothing installed yet; task 1 (SGD): gradients mode; task 2 (momentum): steps mode
    expect(seen.filter((_, i) => i % 2 === 0)).toEqual([
      { task: 0, grads: false, steps: false, mode: 'steps' },
      { task: 1, grads: true, steps: false, mode: 'gradients' },
      { task: 2, grads: false, steps: true, mode: 'steps' },
    ]);
    expect(p.tracker.taskCount).toBe(3);
    for (const s of sums) disposeParams(s);
    p.dispose();
    m.dispose();
  });

  for (const [name, make] of [
    ['adam (steps)', () => tf.train.adam(0.01)],
    ['sgd (gradients)', () => tf.train.sgd(0.1)],
  ] as const) {
    it(`${name}: the plugin and the wva wrapper fed the same tracker give the same trajectory`, async () => {
      const ma = net();
      const pa = wvaPlugin({ lambda: 3, importance: { method: 'sig', limit: 20 } });
      const optA = make();
      await trainContinual(ma, tasks, { ...RUN, optimizer: optA, plugins: [pa] });

      const mb = net();
      const tracker = importanceTracker({ method: 'sig', limit: 20 });
      const optB = wva(make(), { lambda: 3, params: mb.params });
      await trainContinual(mb, tasks, { ...RUN, optimizer: optB, plugins: [tracker], onTaskEnd: () => optB.setImportances(tracker.importances) });
      const d = relErr(flat(ma), flat(mb));
      expect(d).toBeLessThanOrEqual(1e-6);
      // and WVA did something: plain training ends elsewhere
      const mc = net();
      const optC = make();
      await trainContinual(mc, tasks, { ...RUN, optimizer: optC });
      expect(relErr(flat(mc), flat(ma))).toBeGreaterThan(1e-3);
      pa.dispose();
      tracker.dispose();
      for (const o of [optA, optB, optC]) o.dispose();
      for (const x of [ma, mb, mc]) x.dispose();
    });
  }

  it('resumes from getState/setState exactly (SGD), and holds one factor per parameter on top of the tracker', async () => {
    const ma = net();
    const pa = wvaPlugin({ lambda: 2, attenuation: 'exponential', importance: { method: 'fisher', limit: 20 } });
    const opt = tf.train.sgd(0.1);
    let checkpoint: { state: { tensors: ParamMap; meta: Record<string, unknown> }; weights: ParamMap; accuracy: number[][] } | undefined;
    await trainContinual(ma, tasks, {
      ...RUN,
      optimizer: opt,
      plugins: [pa],
      onTaskEnd: ({ taskIndex, result }) => {
        if (taskIndex !== 0) return;
        const st = pa.getState();
        checkpoint = {
          state: { tensors: cloneParams(st.tensors), meta: JSON.parse(JSON.stringify(st.meta)) },
          weights: cloneParams(ma.params),
          accuracy: result.accuracy.map((r) => [...r]),
        };
      },
    });
    const cp = checkpoint as NonNullable<typeof checkpoint>;
    expect(cp.state.meta).toMatchObject({ lambda: 2, attenuation: 'exponential', applyTo: 'auto', importance: { method: 'fisher', taskCount: 1 } });

    const mb = net();
    for (const [n, v] of Object.entries(cp.weights)) (mb.params[n] as tf.Variable).assign(v);
    const pb = wvaPlugin({ lambda: 2, attenuation: 'exponential', importance: { method: 'fisher', limit: 20 } });
    const bytes0 = tf.memory().numBytes;
    pb.setState(cp.state);
    const entries = Object.values(mb.params).reduce((s, v) => s + v.size, 0);
    // tracker: I and the last task's I; plugin: a
    expect(tf.memory().numBytes - bytes0).toBe(3 * 4 * entries);
    expect(Object.keys(pb.factors)).toEqual(Object.keys(mb.params));
    const opt2 = tf.train.sgd(0.1);
    await trainContinual(mb, tasks, { ...RUN, optimizer: opt2, plugins: [pb], startTask: 1, previous: { accuracy: cp.accuracy, timings: [] } });
    expect(bitwiseEqual(flat(mb), flat(ma))).toBe(true);
    expect(() => wvaPlugin({ lambda: 3, attenuation: 'exponential', importance: { method: 'fisher' } }).setState(cp.state)).toThrow(/state is for lambda 2, this plugin's is 3/);
    expect(() => wvaPlugin({ lambda: 2, importance: { method: 'fisher' } }).setState(cp.state)).toThrow(/state is for attenuation 'exponential', this plugin's is 'hyperbolic'/);
    disposeParams(cp.state.tensors);
    disposeParams(cp.weights);
    for (const x of [pa, pb]) x.dispose();
    for (const o of [opt, opt2]) o.dispose();
    for (const x of [ma, mb]) x.dispose();
  });

  it('leaks nothing over a run, drives a given tracker without disposing it, and validates its options', async () => {
    const m = net();
    const tracker = importanceTracker({ method: 'magnitude' });
    const before = tf.memory().numTensors;
    const p = wvaPlugin({ lambda: 1, applyTo: 'steps', importance: tracker });
    await trainContinual(m, tasks, { ...RUN, optimizer: () => tf.train.adam(0.01), plugins: [p] });
    expect(tracker.taskCount).toBe(3);
    p.dispose();
    expect(tracker.importances).toBeDefined(); // not the plugin's to dispose
    tracker.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => wvaPlugin({ lambda: -2, importance: { method: 'sig' } })).toThrow(/wvaPlugin: lambda must be a finite number ≥ 0, got -2/);
    expect(() => wvaPlugin({ lambda: 1, attenuation: 'step' as never, importance: { method: 'sig' } })).toThrow(/unknown attenuation 'step'/);
    expect(() => wvaPlugin({ lambda: 1, applyTo: 'both' as never, importance: { method: 'sig' } })).toThrow(/unknown applyTo 'both'/);
    expect(() => wvaPlugin({ lambda: 1 } as never)).toThrow(/importance is required/);
    expect(() => wvaPlugin({ lambda: 1, importance: { method: 'fishy' as never } })).toThrow(/fishy/);
    m.dispose();
  });

  it('with SI importances asks the loop for Δθ and tracks it', async () => {
    const m: Sequential = net();
    const p = wvaPlugin({ lambda: 1, importance: { method: 'si' } });
    expect(p.needsDelta).toBe(true);
    await trainContinual(m, tasks.slice(0, 2) as Task[], { ...RUN, optimizer: () => tf.train.sgd(0.1), plugins: [p] });
    expect(p.tracker.taskCount).toBe(2);
    expect(Object.keys(p.factors).length).toBeGreaterThan(0);
    p.dispose();
    m.dispose();
  });
});
