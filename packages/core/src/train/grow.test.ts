import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../gradients.js';
import { widenHead } from '../head.js';
import type { ParamMap } from '../params.js';
import { mlp } from '../presets.js';
import { clusterSplitTasks } from '../split.test-helpers.js';
import { trainContinual } from './continual.js';
import type { Plugin } from './plugin.js';

const groups = [
  [0, 1],
  [2, 3],
  [4, 5],
];
const tasks = clusterSplitTasks({ groups, features: 12, perClass: 30, seed: 9, scenario: 'class' });
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);

describe('widenHead', () => {
  it('widens the head in place: old units bitwise, new ones zero, same parameter names and order', () => {
    const m = mlp([12, 10, 2], { seed: 1 });
    const x = tf.randomNormal([4, 12], 0, 1, 'float32', 2);
    const before = tf.memory().numTensors;
    const k0 = Array.from((m.params['dense_1/kernel'] as tf.Tensor).dataSync());
    const l0 = tf.tidy(() => m.logits(x).arraySync()) as number[][];
    const g = widenHead(m, 5);
    expect(g.params['dense_1/kernel']).toEqual({ before: [10, 2], after: [10, 5] });
    expect(m.numClasses).toBe(5);
    expect(Object.keys(m.params)).toEqual(['dense_0/kernel', 'dense_0/bias', 'dense_1/kernel', 'dense_1/bias']);
    const k1 = (m.params['dense_1/kernel'] as tf.Tensor).arraySync() as number[][];
    for (let i = 0; i < 10; i++) {
      expect([k1[i]?.[0], k1[i]?.[1]]).toEqual([k0[2 * i], k0[2 * i + 1]]);
      expect(k1[i]?.slice(2)).toEqual([0, 0, 0]);
    }
    const l1 = tf.tidy(() => m.logits(x).arraySync()) as number[][];
    for (let n = 0; n < 4; n++) expect(l1[n]?.slice(0, 2)).toEqual(l0[n]);
    expect(m.config().layers.at(-1)?.units).toBe(5);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    m.dispose();
  });
});

describe('trainContinual({ growHead: true })', () => {
  it('grows with the classes and trains exactly as a full-width head masked to the classes seen so far (Adam)', async () => {
    const before = tf.memory().numTensors;
    const grown = mlp([12, 10, 2], { seed: 3 });
    // reference: the full width from the start, the grown head's first units and zeros for the rest
    const full = mlp([12, 10, 6], { seed: 3 });
    tf.tidy(() =>
      full.setWeights({ 'dense_1/kernel': tf.concat([grown.params['dense_1/kernel'] as tf.Tensor, tf.zeros([10, 4])], 1), 'dense_1/bias': tf.zeros([6]) }, { allowMissing: true }),
    );
    const seen = tasks.map((t, i) => ({ ...t, classes: groups.slice(0, i + 1).flat() }));
    const o1 = tf.train.adam(0.01);
    const o2 = tf.train.adam(0.01);
    const widths: number[] = [];
    const opts = { iterations: 15, batchSize: 10, seed: 5 };
    const r = await trainContinual(grown, tasks, { ...opts, optimizer: o1, growHead: true, onTaskEnd: () => void widths.push(grown.numClasses) });
    await trainContinual(full, seen, { ...opts, optimizer: o2 });
    expect(widths).toEqual([2, 4, 6]);
    for (const n of Object.keys(full.params)) expect(maxDiff(grown.params[n] as tf.Tensor, full.params[n] as tf.Tensor)).toBeLessThanOrEqual(1e-6);
    // the optimizer's moments were widened, not reset: the slots match the reference's
    const w1 = await o1.getWeights();
    const w2 = await o2.getWeights();
    expect(w1.map((w) => w.tensor.shape)).toEqual(w2.map((w) => w.tensor.shape));
    for (let i = 1; i < w1.length; i++) expect(maxDiff(w1[i]?.tensor as tf.Tensor, w2[i]?.tensor as tf.Tensor)).toBeLessThanOrEqual(1e-6);
    tf.dispose([w1[0]?.tensor as tf.Tensor, w2[0]?.tensor as tf.Tensor]);
    // earlier tasks are evaluated with the grown head; unmasked, over every class seen
    expect(r.accuracy[2]?.[2]).toBeGreaterThan(0.5);
    expect(r.accuracy[0]?.[1]).toBeNaN();
    o1.dispose();
    o2.dispose();
    grown.dispose();
    full.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('resumes exactly across a growth (weights, Adam state, a plugin state widened)', async () => {
    const stateful = (): Plugin & { anchor?: ParamMap } => {
      const p: Plugin & { anchor?: ParamMap } = {
        name: 'anchor',
        afterTask: (ctx) => {
          if (p.anchor) tf.dispose(Object.values(p.anchor));
          p.anchor = Object.fromEntries(Object.entries(ctx.model.params).map(([n, v]) => [n, tf.keep(tf.clone(v))]));
        },
        // pulls every parameter to its anchor: its gradient needs the anchor's shape to match
        penalty: (ctx) => {
          const a = p.anchor;
          if (!a) return undefined;
          const grads: ParamMap = {};
          for (const [n, t] of Object.entries(a)) grads[n] = tf.mul(tf.sub(ctx.model.params[n] as tf.Tensor, t), 0.1);
          return { value: tf.scalar(0), grads };
        },
        getState: () => ({ tensors: Object.fromEntries(Object.entries(p.anchor ?? {}).map(([n, t]) => [`anchor/${n}`, t])), meta: {} }),
        setState: (s) => {
          if (p.anchor) tf.dispose(Object.values(p.anchor));
          p.anchor = Object.fromEntries(Object.entries(s.tensors).map(([n, t]) => [n.slice('anchor/'.length), tf.keep(tf.clone(t))]));
        },
        dispose: () => {
          if (p.anchor) tf.dispose(Object.values(p.anchor));
        },
      };
      return p;
    };
    const opts = { iterations: 8, batchSize: 10, seed: 2, growHead: true };
    const a = mlp([12, 10, 2], { seed: 4 });
    const pa = stateful();
    const oa = tf.train.adam(0.01);
    let saved:
      | { weights: ParamMap; slots: { name: string; tensor: tf.Tensor }[]; betas: tf.Tensor[]; anchor: ParamMap; result: { accuracy: number[][]; timings: never[] } }
      | undefined;
    const full = await trainContinual(a, tasks, {
      ...opts,
      optimizer: oa,
      plugins: [pa],
      onTaskEnd: async ({ taskIndex, result }) => {
        if (taskIndex !== 0) return;
        const slots = (await oa.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
        const betas = [(oa as unknown as { accBeta1: tf.Tensor }).accBeta1, (oa as unknown as { accBeta2: tf.Tensor }).accBeta2].map((t) => tf.clone(t));
        saved = {
          weights: a.getWeights(),
          slots,
          betas,
          anchor: Object.fromEntries(Object.entries(pa.anchor ?? {}).map(([n, t]) => [n, tf.clone(t)])),
          result: { accuracy: result.accuracy.map((r) => [...r]), timings: [] },
        };
      },
    });
    if (!saved) throw new Error('no checkpoint');
    // a fresh run from the checkpoint after task 0 (width 2), growing at task 1 as the first did
    const b = mlp([12, 10, 2], { seed: 4 });
    b.setWeights(saved.weights);
    const ob = tf.train.adam(0.01);
    await ob.setWeights(saved.slots);
    (ob as unknown as { accBeta1: tf.Variable }).accBeta1.assign(saved.betas[0] as tf.Tensor);
    (ob as unknown as { accBeta2: tf.Variable }).accBeta2.assign(saved.betas[1] as tf.Tensor);
    const pb = stateful();
    pb.setState?.({ tensors: Object.fromEntries(Object.entries(saved.anchor).map(([n, t]) => [`anchor/${n}`, t])), meta: {} });
    const resumed = await trainContinual(b, tasks, { ...opts, optimizer: ob, plugins: [pb], startTask: 1, previous: saved.result });
    expect(resumed.accuracy).toEqual(full.accuracy);
    for (const n of Object.keys(a.params)) expect(Array.from((b.params[n] as tf.Tensor).dataSync())).toEqual(Array.from((a.params[n] as tf.Tensor).dataSync()));
    tf.dispose([...Object.values(saved.weights), ...saved.slots.map((s) => s.tensor), ...saved.betas, ...Object.values(saved.anchor)]);
    for (const p of [pa, pb]) p.dispose?.();
    oa.dispose();
    ob.dispose();
    a.dispose();
    b.dispose();
  });

  it('refuses tasks that do not list their classes', async () => {
    const m = mlp([12, 10, 2], { seed: 1 });
    const bare = tasks.map(({ labels: _, ...t }) => t);
    await expect(trainContinual(m, bare, { optimizer: tf.train.sgd(0.1), iterations: 1, growHead: true })).rejects.toThrow(/does not list its classes \(Task.labels\)/);
    m.dispose();
  });
});
