import type { ArraySource } from '@forgetless/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../../test/helpers.js';
import { classCounts } from '../mnist-format.js';
import { fixtureDataset } from '../test-fixtures.js';
import { splitTasks } from './split.js';

/** The raw (dataset) labels of every example of a source, and the labels its batches carry. */
function labelsOf(source: ArraySource): { raw: number[]; drawn: number[] } {
  const { y, indices } = source.options;
  const raw = Array.from(indices ?? [], (i) => y[i] as number);
  const drawn: number[] = [];
  for (const b of source.batches(64)) {
    drawn.push(...b.y.dataSync());
    tf.dispose([b.x, b.y]);
  }
  return { raw, drawn };
}

describe('split tasks', () => {
  const data = fixtureDataset({ trainCount: 300, testCount: 100, seed: 4 });
  const trainCounts = classCounts(data.train.labels, 10);
  const testCounts = classCounts(data.test.labels, 10);

  it('task-incremental: each task holds exactly its classes, all their examples, and its label mask', async () => {
    const tasks = splitTasks(data, { validation: 0.1 });
    expect(tasks.map((t) => t.name)).toEqual(['fixture-split-0-1', 'fixture-split-2-3', 'fixture-split-4-5', 'fixture-split-6-7', 'fixture-split-8-9']);
    await expectNoLeak(() => {
      tasks.forEach((task, g) => {
        const group = [2 * g, 2 * g + 1];
        expect(task.classes).toEqual(group);
        const tr = labelsOf(task.train as ArraySource);
        const va = labelsOf(task.validation as ArraySource);
        const te = labelsOf(task.test as ArraySource);
        for (const part of [tr, va, te]) {
          expect(new Set(part.raw)).toEqual(new Set(group));
          expect(part.drawn).toEqual(part.raw); // labels unchanged
        }
        const n = (trainCounts[group[0]!] as number) + (trainCounts[group[1]!] as number);
        expect(tr.raw.length + va.raw.length).toBe(n);
        expect(va.raw.length).toBe(Math.round(0.1 * n));
        expect(te.raw.length).toBe((testCounts[group[0]!] as number) + (testCounts[group[1]!] as number));
        expect(task.train.numClasses).toBe(10);
      });
    });
    // the closing set is the group's last training examples, disjoint from the training part
    const t0 = tasks[0]!;
    const trIdx = new Set((t0.train as ArraySource).options.indices);
    const vaIdx = Array.from((t0.validation as ArraySource).options.indices ?? []);
    expect(vaIdx.some((i) => trIdx.has(i))).toBe(false);
    expect(Math.min(...vaIdx)).toBeGreaterThan(Math.max(...trIdx));
  });

  it('domain-incremental: labels become positions in the group, one head of group size', async () => {
    const tasks = splitTasks(data, {
      mode: 'domain',
      groups: [
        [3, 7, 1],
        [0, 9, 2],
      ],
    });
    await expectNoLeak(() => {
      tasks.forEach((task, g) => {
        const group = g === 0 ? [3, 7, 1] : [0, 9, 2];
        expect(task.classes).toBeUndefined();
        expect(task.train.numClasses).toBe(3);
        for (const s of [task.train, task.validation, task.test] as ArraySource[]) {
          const { raw, drawn } = labelsOf(s);
          expect(drawn).toEqual(raw.map((c) => group.indexOf(c)));
          expect(new Set(drawn)).toEqual(new Set([0, 1, 2]));
        }
      });
    });
  });

  it('class-incremental: labels unchanged and no mask', () => {
    const tasks = splitTasks(data, {
      mode: 'class',
      groups: [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 8, 9],
      ],
      validation: 0,
    });
    expect(tasks[1]!.classes).toBeUndefined();
    expect(tasks[1]!.validation).toBeUndefined();
    expect(new Set(labelsOf(tasks[1]!.test as ArraySource).drawn)).toEqual(new Set([5, 6, 7, 8, 9]));
  });

  it('rejects overlapping, empty or out-of-range groups', () => {
    expect(() =>
      splitTasks(data, {
        groups: [
          [0, 1],
          [1, 2],
        ],
      }),
    ).toThrow('class 1 is in group 0 and group 1; groups must be disjoint');
    expect(() => splitTasks(data, { groups: [[0], []] })).toThrow('group 1 is empty');
    expect(() => splitTasks(data, { groups: [[0, 10]] })).toThrow('group 0 has class 10, outside 0..9');
    expect(() => splitTasks(data, { mode: 'multi' as 'task' })).toThrow("scenario must be 'task', 'domain' or 'class'");
  });
});
