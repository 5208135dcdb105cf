import type { ArraySource } from '@forgetless/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../../test/helpers.js';
import { fixtureDataset } from '../test-fixtures.js';
import { invertPermutation, permutedTasks, taskPermutations } from './permuted.js';

function firstBatch(source: ArraySource | { batches: ArraySource['batches'] }, size: number): { x: Float32Array; y: Int32Array; shape: number[] } {
  for (const b of source.batches(size)) {
    const out = { x: b.x.dataSync() as Float32Array, y: b.y.dataSync() as Int32Array, shape: b.x.shape };
    tf.dispose([b.x, b.y]);
    return out;
  }
  throw new Error('no batch');
}

describe('permuted tasks', () => {
  it('draws the same permutations from the same seed and different ones from another seed', () => {
    const a = taskPermutations(5, 784, { seed: 7 });
    const b = taskPermutations(5, 784, { seed: 7 });
    const c = taskPermutations(5, 784, { seed: 8 });
    expect(a[0]).toBeUndefined();
    for (let t = 1; t < 5; t++) {
      expect(Array.from(a[t] as Int32Array)).toEqual(Array.from(b[t] as Int32Array));
      expect(Array.from(a[t] as Int32Array)).not.toEqual(Array.from(c[t] as Int32Array));
    }
    // task t's permutation does not depend on firstUnpermuted or numTasks
    const all = taskPermutations(3, 784, { seed: 7, firstUnpermuted: false });
    expect(all[0]).toBeInstanceOf(Int32Array);
    expect(Array.from(all[2] as Int32Array)).toEqual(Array.from(a[2] as Int32Array));
  });

  it('gives true permutations that are distinct across tasks and invertible', () => {
    const perms = taskPermutations(10, 784, { seed: 0, firstUnpermuted: false }) as Int32Array[];
    for (const p of perms) {
      expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 784 }, (_, i) => i));
      const inv = invertPermutation(p);
      let wrong = 0;
      for (let i = 0; i < 784; i++) if (p[inv[i] as number] !== i || inv[p[i] as number] !== i) wrong++;
      expect(wrong).toBe(0);
      // a random permutation fixes about one pixel; the identity would fix 784
      expect(p.filter((v, i) => v === i).length).toBeLessThan(10);
    }
    for (let s = 0; s < 10; s++) {
      for (let t = s + 1; t < 10; t++) {
        const same = (perms[s] as Int32Array).filter((v, i) => v === (perms[t] as Int32Array)[i]).length;
        expect(same, `tasks ${s} and ${t} agree on ${same} pixels`).toBeLessThan(10);
      }
    }
    expect(() => invertPermutation(Int32Array.from([0, 0, 1]))).toThrow('not a permutation');
  });

  it('permutes pixels per batch: un-permuting task t’s batch gives task 0’s batch exactly', async () => {
    const data = fixtureDataset({ trainCount: 96, testCount: 24 });
    const tasks = permutedTasks(data, { numTasks: 3, seed: 5, validation: 0 });
    const perms = taskPermutations(3, 784, { seed: 5 });
    await expectNoLeak(() => {
      const base = firstBatch(tasks[0]!.train, 8);
      expect(base.shape).toEqual([8, 784]);
      // task 0 is the original images, scaled to [0, 1]
      let off = 0;
      for (let i = 0; i < 784 * 8; i++) off = Math.max(off, Math.abs((base.x[i] as number) - (data.train.images[i] as number) / 255));
      expect(off).toBeLessThan(1e-6);
      for (const t of [1, 2]) {
        const b = firstBatch(tasks[t]!.train, 8);
        const inv = invertPermutation(perms[t] as Int32Array);
        let wrong = 0;
        for (let r = 0; r < 8; r++) for (let i = 0; i < 784; i++) if (b.x[r * 784 + (inv[i] as number)] !== base.x[r * 784 + i]) wrong++;
        expect(wrong).toBe(0);
        expect(Array.from(b.y)).toEqual(Array.from(base.y));
        expect(b.x.some((v, i) => v !== base.x[i])).toBe(true);
      }
      const test = firstBatch(tasks[2]!.test, 4);
      const inv = invertPermutation(perms[2] as Int32Array);
      let err = 0;
      for (let i = 0; i < 784; i++) err = Math.max(err, Math.abs((test.x[inv[i] as number] as number) - (data.test.images[i] as number) / 255));
      expect(err).toBeLessThan(1e-6);
    });
  });

  it('holds out the last training examples as the closing set, and shapes examples for the model', async () => {
    const data = fixtureDataset({ trainCount: 120, testCount: 30 });
    const [t0, t1] = permutedTasks(data, { numTasks: 2, validation: 20, flat: false });
    expect([t0!.train.size, t0!.validation?.size, t0!.test.size]).toEqual([100, 20, 30]);
    const v = t1!.validation as ArraySource;
    for (let i = 0; i < 20; i++) expect(v.label(i)).toBe(data.train.labels[100 + i]);
    expect((t1!.train as ArraySource).label(99)).toBe(data.train.labels[99]);
    await expectNoLeak(() => expect(firstBatch(t1!.validation as ArraySource, 5).shape).toEqual([5, 28, 28, 1]));
    // default: 1/12 of the training set (5000 of 60000)
    expect(permutedTasks(data, { numTasks: 1 })[0]!.validation?.size).toBe(10);
    expect(permutedTasks(data, { numTasks: 1, validation: 0.25 })[0]!.validation?.size).toBe(30);
    expect(permutedTasks(data, { numTasks: 1, validation: 0 })[0]!.validation).toBeUndefined();
    expect(() => permutedTasks(data, { validation: 120 })).toThrow('validation of 120 examples leaves none of the 120 training examples');
  });

  it('shares one copy of the images among all tasks', () => {
    const data = fixtureDataset();
    const tasks = permutedTasks(data, { numTasks: 10 });
    expect(tasks.map((t) => t.name)).toEqual(Array.from({ length: 10 }, (_, t) => `fixture-permuted-${t}`));
    for (const t of tasks) {
      for (const s of [t.train, t.validation, t.test] as ArraySource[]) {
        expect(s.options.x === data.train.images || s.options.x === data.test.images).toBe(true);
      }
    }
  });
});
