import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { backwardTransfer, forwardTransfer } from '../metrics.js';
import type { ParamMap } from '../params.js';
import { disposeParams } from '../params.js';
import { mlp } from '../presets.js';
import { syntheticPermutedTasks } from '../synthetic.js';
import { trainContinual } from './continual.js';
import type { Plugin } from './plugin.js';

const tasks = syntheticPermutedTasks({ numTasks: 3, features: 32, trainPerClass: 40, testPerClass: 20, seed: 1 });
const model = (seed = 1) => mlp([32, 32, 10], { seed });

describe('trainContinual', () => {
  it('learns each task, forgets earlier ones, fills R and leaks nothing', async () => {
    const m = model();
    const opt = tf.train.sgd(0.1);
    const before = tf.memory().numTensors;
    const events: string[] = [];
    const r = await trainContinual(m, tasks, { optimizer: opt, epochs: 3, batchSize: 20, seed: 3, evaluateOn: 'all', onProgress: (e) => events.push(e.kind) });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.accuracy).toHaveLength(3);
    for (let i = 0; i < 3; i++) expect(r.accuracy[i]?.[i]).toBeGreaterThan(0.8);
    expect(r.baseline).toHaveLength(3);
    // Plain SGD forgets: the first task's accuracy drops once later tasks are learned.
    expect((r.accuracy[2]?.[0] as number) < (r.accuracy[0]?.[0] as number) - 0.05).toBe(true);
    expect(backwardTransfer(r.accuracy)).toBeLessThan(0);
    expect(Number.isFinite(forwardTransfer(r.accuracy, r.baseline as number[]))).toBe(true);
    expect(r.averageAccuracy[0]).toBeCloseTo(r.accuracy[0]?.[0] as number, 12);
    expect(r.timings.map((t) => t.steps)).toEqual([60, 60, 60]);
    expect(events.filter((k) => k === 'task')).toHaveLength(3);
    expect(r.losses.length).toBeGreaterThan(3);
    opt.dispose();
    m.dispose();
  });

  it('calls plugin hooks in the documented order', async () => {
    const log: string[] = [];
    const note = <T>(hook: string, value: T): T => {
      log.push(hook);
      return value;
    };
    const p: Plugin = {
      name: 'log',
      beforeTask: () => void log.push('beforeTask'),
      beforeStep: () => void log.push('beforeStep'),
      lossTerm: () => note('lossTerm', undefined),
      penalty: () => note('penalty', undefined),
      transformGradients: (g) => note('transformGradients', g),
      transformStep: (d) => note('transformStep', d),
      afterStep: (info) => void log.push(`afterStep:${info.delta ? 'delta' : 'none'}`),
      afterTask: () => void log.push('afterTask'),
    };
    const m = model();
    const opt = tf.train.sgd(0.1);
    await trainContinual(m, tasks.slice(0, 1), { optimizer: opt, iterations: 1, batchSize: 10, plugins: [p] });
    expect(log).toEqual(['beforeTask', 'beforeStep', 'lossTerm', 'penalty', 'transformGradients', 'transformStep', 'afterStep:delta', 'afterTask']);
    opt.dispose();
    m.dispose();
  });

  it('an analytic penalty gives the same trajectory as autodiff through the same loss term', async () => {
    const c = 0.7;
    const run = async (analytic: boolean) => {
      const m = model(5);
      const anchor: ParamMap = m.getWeights({ state: false });
      tf.tidy(() => Object.values(m.params).forEach((v, i) => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', i + 1)))));
      const p: Plugin = analytic
        ? {
            name: 'analytic',
            penalty: () => {
              const grads: ParamMap = {};
              let value: tf.Scalar = tf.scalar(0);
              for (const [n, v] of Object.entries(m.params)) {
                const d = tf.sub(v, anchor[n] as tf.Tensor);
                grads[n] = tf.mul(2 * c, d);
                value = tf.add(value, tf.mul(c, tf.sum(tf.square(d))));
              }
              return { value, grads };
            },
          }
        : {
            name: 'autodiff',
            lossTerm: () => tf.addN(Object.entries(m.params).map(([n, v]) => tf.mul(c, tf.sum(tf.square(tf.sub(v, anchor[n] as tf.Tensor)))))) as tf.Scalar,
          };
      const opt = tf.train.sgd(0.05);
      const r = await trainContinual(m, tasks.slice(0, 1), { optimizer: opt, iterations: 10, batchSize: 20, plugins: [p], progressEvery: 1 });
      const w = m.getWeights();
      opt.dispose();
      m.dispose();
      disposeParams(anchor);
      return { w, losses: r.losses.map((l) => l.loss) };
    };
    const a = await run(true);
    const b = await run(false);
    for (const n of Object.keys(a.w)) expect(relErr(a.w[n] as tf.Tensor, b.w[n] as tf.Tensor)).toBeLessThanOrEqual(1e-6);
    expect(relErr(a.losses, b.losses)).toBeLessThanOrEqual(1e-6);
    disposeParams(a.w);
    disposeParams(b.w);
  });

  it('transformStep changes the step actually kept (half steps under SGD move half as far)', async () => {
    const run = async (half: boolean) => {
      const m = model(6);
      const w0 = m.getWeights();
      const p: Plugin = { name: 'half', transformStep: (d) => Object.fromEntries(Object.entries(d).map(([n, t]) => [n, tf.mul(t, 0.5)])) };
      const opt = tf.train.sgd(0.1);
      await trainContinual(m, tasks.slice(0, 1), { optimizer: opt, iterations: 1, batchSize: 50, plugins: half ? [p] : [] });
      const moved = tf.tidy(() =>
        tf
          .sub(m.params['dense_0/kernel'] as tf.Tensor, w0['dense_0/kernel'] as tf.Tensor)
          .dataSync()
          .slice(),
      );
      opt.dispose();
      m.dispose();
      disposeParams(w0);
      return moved;
    };
    const full = await run(false);
    const half = await run(true);
    expect(
      relErr(
        half.map((v) => v * 2),
        full,
      ),
    ).toBeLessThan(1e-5);
  });

  it('resuming from task k with the saved weights reproduces the uninterrupted accuracy matrix', async () => {
    const opts = { epochs: 2, batchSize: 20, seed: 9 } as const;
    const m = model(8);
    const opt = tf.train.sgd(0.1);
    const full = await trainContinual(m, tasks, { optimizer: opt, ...opts });
    m.dispose();
    const m2 = model(8);
    let saved: ParamMap | undefined;
    const ac = new AbortController();
    const part = await trainContinual(m2, tasks, {
      optimizer: opt,
      ...opts,
      onTaskEnd: ({ taskIndex }) => {
        if (taskIndex === 1) {
          saved = m2.getWeights();
          ac.abort();
        }
      },
      signal: ac.signal,
    });
    expect(part.cancelled).toBe(true);
    expect(part.accuracy).toHaveLength(2);
    m2.dispose();
    const m3 = model(123);
    m3.setWeights(saved as ParamMap);
    const resumed = await trainContinual(m3, tasks, { optimizer: opt, ...opts, startTask: 2, previous: part });
    expect(resumed.accuracy).toEqual(full.accuracy);
    disposeParams(saved);
    m3.dispose();
    opt.dispose();
  });

  it('rejects bad options and mismatched tasks with clear errors', async () => {
    const m = mlp([16, 10]);
    const opt = tf.train.sgd(0.1);
    await expect(trainContinual(m, tasks, { optimizer: opt })).rejects.toThrow("task 'synthetic-0' has examples of shape [32] but the model takes [16]");
    await expect(trainContinual(m, tasks, { optimizer: opt, batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer, got 0/);
    await expect(trainContinual(m, [], { optimizer: opt })).rejects.toThrow(/no tasks/);
    opt.dispose();
    m.dispose();
  });
});
