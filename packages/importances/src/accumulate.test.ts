import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../test/helpers.js';
import { accumulate } from './accumulate.js';

const map = (a: number[], b: number[]): ParamMap => ({ 'dense_0/kernel': tf.tensor2d([a]), 'dense_0/bias': tf.tensor1d(b) });
const cloneMap = (m: ParamMap): ParamMap => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, tf.clone(v)]));
const read = (m: ParamMap) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Array.from(v.dataSync())]));

describe('accumulate', () => {
  it('a parameter new in a task (a head added with it) enters at running 0; a vanished one is refused', () => {
    const first = map([1, 4], [1]);
    const second = { ...map([3, 2], [2]), 'head_task1/bias': tf.tensor1d([5, 6]) };
    const decayed = accumulate(cloneMap(first), second, { mode: 'decay', gamma: 0.5 });
    expect(read(decayed)).toEqual({ 'dense_0/kernel': [3.5, 4], 'dense_0/bias': [2.5], 'head_task1/bias': [5, 6] });
    const mean = accumulate(cloneMap(first), second, { mode: 'mean', taskCount: 1 });
    expect(read(mean)['head_task1/bias']).toEqual([2.5, 3]);
    expect(() => accumulate(cloneMap(second), first, { mode: 'sum' })).toThrow(/parameter 'head_task1\/bias' is missing from the task's importance/);
    disposeParams(decayed);
    disposeParams(mean);
    disposeParams(first);
    disposeParams(second);
  });

  it('combines three tasks by hand in every mode', () => {
    const tasks = [map([1, 4], [0]), map([3, 2], [2]), map([2, 0], [7])];
    const run = (mode: 'sum' | 'decay' | 'max' | 'mean', gamma?: number) => {
      let running: ParamMap | undefined;
      tasks.forEach((t, i) => {
        running = accumulate(running, t, { mode, ...(gamma !== undefined ? { gamma } : {}), taskCount: i });
      });
      const out = read(running as ParamMap);
      disposeParams(running);
      return out;
    };
    expect(run('sum')).toEqual({ 'dense_0/kernel': [6, 6], 'dense_0/bias': [9] });
    // γ = 0.5: ((1·0.5 + 3)·0.5 + 2, (4·0.5 + 2)·0.5 + 0), bias (0·0.5 + 2)·0.5 + 7
    expect(run('decay', 0.5)).toEqual({ 'dense_0/kernel': [3.75, 2], 'dense_0/bias': [8] });
    expect(run('decay', 0)).toEqual(read(tasks[2] as ParamMap));
    expect(run('decay', 1)).toEqual(run('sum'));
    expect(run('max')).toEqual({ 'dense_0/kernel': [3, 4], 'dense_0/bias': [7] });
    expect(run('mean')).toEqual({ 'dense_0/kernel': [2, 2], 'dense_0/bias': [3] });
    tasks.forEach(disposeParams);
  });

  it('disposes the running map it replaces and never the task map', async () => {
    const task = map([1, 2], [3]);
    await expectNoLeak(() => {
      const first = accumulate(undefined, task);
      expect(first['dense_0/bias']).not.toBe(task['dense_0/bias']);
      const second = accumulate(first, task);
      expect(first['dense_0/bias']?.isDisposed).toBe(true);
      expect(task['dense_0/bias']?.isDisposed).toBe(false);
      disposeParams(second);
    });
    disposeParams(task);
  });

  it('rejects an unknown mode, γ outside [0, 1], a missing task count and mismatched maps', () => {
    const a = map([1, 2], [3]);
    const b = map([1, 2], [3]);
    expect(() => accumulate(a, b, { mode: 'median' as never })).toThrow(/unknown mode 'median'/);
    expect(() => accumulate(a, b, { mode: 'decay', gamma: 1.5 })).toThrow(/gamma must be in \[0, 1\].*1\.5/);
    expect(() => accumulate(a, b, { mode: 'decay' })).toThrow(/gamma must be in \[0, 1\]/);
    expect(() => accumulate(a, b, { mode: 'mean' })).toThrow(/taskCount must be a positive integer/);
    const c = { 'dense_0/kernel': tf.zeros([1, 3]), 'dense_0/bias': tf.zeros([1]) };
    expect(() => accumulate(a, c)).toThrow(/'dense_0\/kernel' has shape \[1,3\]/);
    [a, b, c].forEach(disposeParams);
  });
});
