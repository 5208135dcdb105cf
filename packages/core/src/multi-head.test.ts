import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import './gradients.js';
import { isMultiHead, multiHead, multiHeadFromConfig } from './multi-head.js';
import { mlp } from './presets.js';
import { clusterSplitTasks } from './split.test-helpers.js';
import { trainContinual } from './train/continual.js';

const groups = [
  [0, 1],
  [2, 3],
  [4, 5],
];
const tasks = clusterSplitTasks({ groups, features: 12, perClass: 30, seed: 4, scenario: 'task' });
const base = () => mlp([12, 10, 6], { seed: 7 });

const values = (t: tf.Tensor) => Array.from(t.dataSync());
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);

describe('multiHead', () => {
  it('trains task-incrementally exactly as one shared head masked to each task (SGD, same initial weights)', async () => {
    const before = tf.memory().numTensors;
    const seq = base();
    const multi = multiHead(seq);
    expect(isMultiHead(multi)).toBe(true);
    expect(Object.keys(multi.params)).toEqual(['dense_0/kernel', 'dense_0/bias']);
    // the shared head starts from the heads' initial weights side by side (they depend only on seed and task)
    const probe = multiHead(seq);
    groups.forEach((g, k) => probe.ensureHead(k, g));
    const kernel = tf.concat(
      groups.map((_, k) => probe.params[`dense_1_task${k}/kernel`] as tf.Tensor),
      1,
    );
    const bias = tf.concat(
      groups.map((_, k) => probe.params[`dense_1_task${k}/bias`] as tf.Tensor),
      0,
    );
    seq.setWeights({ 'dense_1/kernel': kernel, 'dense_1/bias': bias }, { allowMissing: true });
    tf.dispose([kernel, bias]);
    probe.dispose();
    // the trunk is the classifier's own first layer, same initial weights
    expect(values(multi.params['dense_0/kernel'] as tf.Tensor)).toEqual(values(seq.params['dense_0/kernel'] as tf.Tensor));

    const opts = { iterations: 12, batchSize: 10, seed: 3, evaluateOn: 'all' as const };
    const o1 = tf.train.sgd(0.2);
    const o2 = tf.train.sgd(0.2);
    const added: string[][] = [];
    const rm = await trainContinual(multi, tasks, { ...opts, optimizer: o1, onTaskEnd: () => void added.push(Object.keys(multi.params)) });
    const rs = await trainContinual(seq, tasks, { ...opts, optimizer: o2 });
    // every head exists from the untrained baseline on (evaluate-on all), each its own variables
    expect(added[0]).toEqual(['dense_0/kernel', 'dense_0/bias', ...groups.flatMap((_, k) => [`dense_1_task${k}/kernel`, `dense_1_task${k}/bias`])]);
    expect(rm.accuracy).toEqual(rs.accuracy);
    expect(rm.baseline).toEqual(rs.baseline);
    expect(rm.accuracy[2]?.[2]).toBeGreaterThan(0.8);
    for (const n of ['dense_0/kernel', 'dense_0/bias']) expect(maxDiff(multi.params[n] as tf.Tensor, seq.params[n] as tf.Tensor)).toBeLessThanOrEqual(1e-6);
    const heads = tf.concat(
      groups.map((_, k) => multi.params[`dense_1_task${k}/kernel`] as tf.Tensor),
      1,
    );
    expect(maxDiff(heads, seq.params['dense_1/kernel'] as tf.Tensor)).toBeLessThanOrEqual(1e-6);
    heads.dispose();
    o1.dispose();
    o2.dispose();
    multi.dispose();
    seq.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('adds each head when its task arrives and leaves earlier heads bitwise unchanged, under Adam too', async () => {
    const before = tf.memory().numTensors;
    const seq = base();
    const multi = multiHead(seq);
    seq.dispose();
    const opt = tf.train.adam(0.01);
    const snapshots: { names: string[]; head0?: number[]; trunk: number[] }[] = [];
    await trainContinual(multi, tasks, {
      optimizer: opt,
      iterations: 10,
      batchSize: 10,
      onTaskEnd: () =>
        void snapshots.push({
          names: Object.keys(multi.params),
          trunk: values(multi.params['dense_0/kernel'] as tf.Tensor),
          head0: values(multi.params['dense_1_task0/kernel'] as tf.Tensor).concat(values(multi.params['dense_1_task0/bias'] as tf.Tensor)),
        }),
    });
    expect(snapshots.map((s) => s.names.length)).toEqual([4, 6, 8]);
    expect(snapshots[1]?.head0).toEqual(snapshots[0]?.head0);
    expect(snapshots[2]?.head0).toEqual(snapshots[0]?.head0);
    // the trunk did move: the heads' invariance is not a frozen model
    expect(snapshots[2]?.trunk).not.toEqual(snapshots[0]?.trunk);
    opt.dispose();
    multi.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a shared masked head under Adam moves the earlier tasks' columns (what the separate heads avoid)", async () => {
    const seq = base();
    const opt = tf.train.adam(0.01);
    const cols: number[][] = [];
    const col01 = () => tf.tidy(() => Array.from(tf.slice(seq.params['dense_1/kernel'] as tf.Tensor, [0, 0], [-1, 2]).dataSync()));
    await trainContinual(seq, tasks.slice(0, 2), { optimizer: opt, iterations: 10, batchSize: 10, onTaskEnd: () => void cols.push(col01()) });
    expect(cols[1]).not.toEqual(cols[0]);
    opt.dispose();
    seq.dispose();
  });

  it('is saved and loaded with its heads: config (JSON) and weights', () => {
    const seq = base();
    const multi = multiHead(seq, { numClasses: 6 });
    seq.dispose();
    multi.ensureHead(0, [0, 1]);
    multi.ensureHead(2, [4, 5]);
    const x = tf.randomNormal([5, 12], 0, 1, 'float32', 1);
    tf.tidy(() => (multi.params['dense_1_task2/bias'] as tf.Variable).assign(tf.tensor1d([0.5, -0.25])));
    const copy = multiHeadFromConfig(JSON.parse(JSON.stringify(multi.config())));
    const w = multi.getWeights();
    copy.setWeights(w);
    tf.dispose(Object.values(w));
    expect(copy.headTasks).toEqual([
      { task: 0, classes: [0, 1] },
      { task: 2, classes: [4, 5] },
    ]);
    const a = tf.tidy(() => multi.logits(x).arraySync()) as number[][];
    const b = tf.tidy(() => copy.logits(x).arraySync()) as number[][];
    expect(b).toEqual(a);
    // classes of no head read 0
    for (const row of a) expect([row[2], row[3]]).toEqual([0, 0]);
    expect(() => multi.ensureHead(3, [1, 2])).toThrow(/class 1 of task 3 already belongs to task 0/);
    expect(() => multi.ensureHead(0, [0, 2])).toThrow(/task 0's head is over classes \[0,1\]/);
    expect(() => multi.ensureHead(4, undefined)).toThrow(/task-incremental/);
    x.dispose();
    copy.dispose();
    multi.dispose();
  });
});
