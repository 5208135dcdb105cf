import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Plugin, type Task, type TrainContext, cloneParams, disposeParams, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { fisherDiagonal } from './fisher.js';
import { mas } from './mas.js';
import { siTracker } from './si.js';
import { importanceTracker } from './tracker.js';

const tasks = (numTasks = 3) => syntheticPermutedTasks({ numTasks, features: 6, numClasses: 3, trainPerClass: 8, testPerClass: 2 });

function expectMapsClose(a: ParamMap, b: ParamMap, tol = 1e-6): void {
  expect(Object.keys(a)).toEqual(Object.keys(b));
  for (const k of Object.keys(a)) expect(relErr(a[k] as tf.Tensor, b[k] as tf.Tensor), k).toBeLessThanOrEqual(tol);
}

describe('importanceTracker', () => {
  it('after each task computes the task importance on its closing set and sums it into I', async () => {
    const model = mlp([6, 5, 3], { seed: 2 });
    const tracker = importanceTracker({ method: 'fisher', limit: 12 });
    const lasts: ParamMap[] = [];
    const seen: number[] = [];
    tracker.onUpdate(async (u) => {
      const task = ts[u.taskIndex] as Task;
      const ref = await fisherDiagonal(model, task.validation as NonNullable<Task['validation']>, { limit: 12 });
      expectMapsClose(u.last, ref);
      disposeParams(ref);
      lasts.push(cloneParams(u.last));
      seen.push(u.taskCount);
    });
    const ts = tasks();
    const optimizer = tf.train.sgd(0.1);
    await trainContinual(model, ts, { optimizer, batchSize: 8, plugins: [tracker] });
    expect(seen).toEqual([1, 2, 3]);
    expect(tracker.taskCount).toBe(3);
    const sum = tf.tidy(() => Object.fromEntries(Object.keys(model.params).map((k) => [k, tf.addN(lasts.map((l) => l[k] as tf.Tensor))])));
    expectMapsClose(tracker.importances as ParamMap, sum);
    expectMapsClose(tracker.last as ParamMap, lasts[2] as ParamMap, 0);
    [sum, ...lasts].forEach(disposeParams);
    optimizer.dispose();
    tracker.dispose();
    model.dispose();
  });

  it('decay mode gives γ·I + I_task; a closingSet option and task class masks are used', async () => {
    const model = mlp([6, 5, 3], { seed: 3 });
    const ts = tasks(2).map((t) => ({ ...t, classes: [0, 2] }));
    const closing = ts[0]?.test as Task['test'];
    const tracker = importanceTracker({ method: 'mas', accumulate: 'decay', gamma: 0.25, closingSet: () => closing });
    let prev: ParamMap | undefined;
    tracker.onUpdate(async (u) => {
      const ref = await mas(model, closing, { classes: [0, 2] });
      expectMapsClose(u.last, ref);
      disposeParams(ref);
      if (prev) {
        const want = tf.tidy(() => Object.fromEntries(Object.entries(u.last).map(([k, v]) => [k, tf.add(tf.mul(prev?.[k] as tf.Tensor, 0.25), v)])));
        expectMapsClose(u.importances, want);
        disposeParams(want);
        disposeParams(prev);
      }
      prev = cloneParams(u.importances);
    });
    const optimizer = tf.train.sgd(0.1);
    await trainContinual(model, ts, { optimizer, batchSize: 8, plugins: [tracker] });
    expect(tracker.taskCount).toBe(2);
    disposeParams(prev);
    optimizer.dispose();
    tracker.dispose();
    model.dispose();
  });

  it("method 'si' tracks the steps itself: same importance as a standalone siTracker", async () => {
    const model = mlp([6, 5, 3], { seed: 4 });
    const tracker = importanceTracker({ method: 'si', methodOptions: { xi: 0.05 } });
    expect(tracker.needsDelta).toBe(true);
    const solo = siTracker({ xi: 0.05 });
    const checks: number[] = [];
    const compare: Plugin = {
      name: 'compare',
      afterTask() {
        const mine = solo.taskImportance();
        expectMapsClose(tracker.last as ParamMap, mine, 1e-6);
        checks.push(Object.values(mine).reduce((s, t) => s + (tf.sum(t).dataSync()[0] as number), 0));
        disposeParams(mine);
      },
    };
    const optimizer = tf.train.adam(0.01);
    await trainContinual(model, tasks(2), { optimizer, batchSize: 8, plugins: [tracker, solo, compare] });
    expect(checks).toHaveLength(2);
    expect(checks.every((c) => c > 0)).toBe(true);
    optimizer.dispose();
    solo.dispose();
    tracker.dispose();
    model.dispose();
  });

  it('getState / setState restores I, the last task importance and the task count; dispose frees everything', async () => {
    const model = mlp([6, 5, 3], { seed: 5 });
    const before = tf.memory().numTensors;
    const tracker = importanceTracker({ method: 'sig' });
    const ts = tasks(2);
    const ctx = (i: number) => ({ model, task: ts[i], taskIndex: i }) as unknown as TrainContext;
    await tracker.afterTask(ctx(0));
    await tracker.afterTask(ctx(1));
    const copy = importanceTracker({ method: 'sig' });
    copy.setState(tracker.getState());
    expect(copy.taskCount).toBe(2);
    expectMapsClose(copy.importances as ParamMap, tracker.importances as ParamMap, 0);
    expectMapsClose(copy.last as ParamMap, tracker.last as ParamMap, 0);
    tracker.dispose();
    expect(Object.values(copy.importances as ParamMap).every((t) => !t.isDisposed)).toBe(true);
    expect(() => importanceTracker({ method: 'mas' }).setState(copy.getState())).toThrow(/state is of method 'sig'/);
    copy.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('rejects bad options and NaN importances, naming them', async () => {
    expect(() => importanceTracker({ method: 'ewc' as never })).toThrow(/unknown method 'ewc'/);
    expect(() => importanceTracker({ method: 'fisher', accumulate: 'decay', gamma: 2 })).toThrow(/gamma must be in \[0, 1\]/);
    expect(() => importanceTracker({ method: 'fisher', limit: 0 })).toThrow(/limit must be a positive integer/);
    expect(() => importanceTracker({ method: 'si', methodOptions: { xi: 0 } })).toThrow(/xi must be/);
    const model = mlp([6, 5, 3], { seed: 5 });
    const v = model.params['dense_0/bias'] as tf.Variable;
    const nan = tf.fill(v.shape, Number.NaN);
    v.assign(nan);
    nan.dispose();
    const tracker = importanceTracker({ method: 'magnitude' });
    const ts = tasks(1);
    await expect(tracker.afterTask({ model, task: ts[0], taskIndex: 0 } as unknown as TrainContext)).rejects.toThrow(
      /magnitude, task 'synthetic-0'\): magnitude: parameter 'dense_0\/bias' of the model contains NaN/,
    );
    expect(tracker.taskCount).toBe(0);
    tracker.dispose();
    model.dispose();
  });
});
