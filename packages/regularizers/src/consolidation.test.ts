import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Sequential, type Task, countParams, disposeParams, trainContinual, trainStep } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { handContext, perturb, smallModel, smallTasks } from '../test/fixtures.js';
import type { Consolidation } from './consolidation.js';
import { ewc } from './ewc.js';
import { l2 } from './l2.js';
import { stabilizedEwc } from './stabilized.js';

const tasks = smallTasks(3);
const run = { iterations: 6, batchSize: 20, seed: 2, learningRate: 0.05 } as const;
const fisher = { method: 'fisher', limit: 40 } as const;

const tensorsOf = (maps: (Readonly<ParamMap> | undefined)[]): Set<tf.Tensor> => new Set(maps.flatMap((m) => Object.values(m ?? {})));
const bytesOf = (set: Set<tf.Tensor>): number => [...set].reduce((s, t) => s + 4 * t.size, 0);

/** tf.memory() after each task, relative to before the run; what the tracker and the plugin hold. */
async function memoryPerTask(plugin: Consolidation, model: Sequential) {
  const optimizer = tf.train.sgd(run.learningRate);
  const before = tf.memory();
  const rows: { tensors: number; bytes: number; trackerTensors: number; trackerBytes: number; pluginTensors: number }[] = [];
  await trainContinual(model, tasks, {
    ...run,
    optimizer,
    plugins: [plugin],
    onTaskEnd: () => {
      const now = tf.memory();
      const tracker = tensorsOf([plugin.tracker?.importances, plugin.tracker?.last]);
      const own = tensorsOf(plugin.terms.flatMap((t) => [t.coefficient, t.anchor, plugin.mode === 'separate' ? t.importance : undefined]));
      for (const t of own) expect(tracker.has(t), 'the plugin shares no tensor with its tracker').toBe(false);
      rows.push({
        tensors: now.numTensors - before.numTensors,
        bytes: now.numBytes - before.numBytes,
        trackerTensors: tracker.size,
        trackerBytes: bytesOf(tracker),
        pluginTensors: own.size,
      });
    },
  });
  plugin.dispose();
  expect(tf.memory().numTensors, 'dispose frees the plugin and the tracker it made').toBe(before.numTensors);
  expect(tf.memory().numBytes).toBe(before.numBytes);
  optimizer.dispose();
  return rows;
}

describe('memory', () => {
  it('online EWC holds two parameter-sized tensors per parameter (coefficient and anchor), measured with tf.memory()', async () => {
    const model = smallModel(1);
    const n = Object.keys(model.params).length;
    const P = countParams(model.params);
    const rows = await memoryPerTask(ewc({ lambda: 3, importance: fisher }), model);
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      // the tracker keeps the running I and the latest task's I; the plugin adds c and θ*, nothing else
      expect(r.trackerTensors).toBe(2 * n);
      expect(r.trackerBytes).toBe(2 * 4 * P);
      expect(r.tensors - r.trackerTensors).toBe(2 * n);
      expect(r.bytes - r.trackerBytes).toBe(2 * 4 * P);
      expect(r.pluginTensors).toBe(2 * n);
    }
    model.dispose();
  });

  it('separate mode grows by importance, coefficient and anchor per task; L2 holds the anchors and a scalar c', async () => {
    const model = smallModel(1);
    const n = Object.keys(model.params).length;
    const P = countParams(model.params);
    const sep = await memoryPerTask(ewc({ lambda: 3, mode: 'separate', importance: fisher }), model);
    sep.forEach((r, t) => {
      expect(r.tensors - r.trackerTensors).toBe(3 * n * (t + 1));
      expect(r.bytes - r.trackerBytes).toBe(3 * 4 * P * (t + 1));
    });
    const flat = await memoryPerTask(l2({ lambda: 1 }), model);
    for (const r of flat) {
      expect(r.trackerTensors).toBe(0);
      expect(r.tensors).toBe(2 * n);
      expect(r.bytes).toBe(4 * P + 4 * n);
    }
    model.dispose();
  });
});

describe('leaks', () => {
  it.each([
    ['ewc online', () => ewc({ lambda: 3, importance: fisher })],
    ['ewc separate (SI)', () => ewc({ lambda: 3, mode: 'separate', importance: { method: 'si' } })],
    ['stabilised ewc decay', () => stabilizedEwc({ lambda: 3, mode: 'decay', gamma: 0.9, importance: fisher })],
    ['l2', () => l2({ lambda: 1 })],
  ])('%s: a step and a task leave no tensor behind', async (_, make) => {
    const plugin = make();
    const model = smallModel(2);
    const optimizer = tf.train.sgd(run.learningRate);
    await trainContinual(model, tasks.slice(0, 2), { ...run, optimizer, plugins: [plugin] });
    const ctx = handContext(model, optimizer, { task: tasks[2] as Task, learningRate: run.learningRate });
    for (const batch of (tasks[2] as Task).train.batches(20, { limit: 40 })) {
      await expectNoLeak(() => trainStep(batch, ctx, [plugin]).dispose());
      tf.dispose([batch.x, batch.y]);
    }
    // a further task adds nothing beyond the documented state (online: same count; separate: one more term)
    const held = tf.memory().numTensors;
    await trainContinual(model, tasks, { ...run, optimizer, startTask: 2, plugins: [plugin] });
    const n = Object.keys(model.params).length;
    const grew = plugin.mode === 'separate' ? 3 * n : 0;
    expect(tf.memory().numTensors).toBe(held + grew);
    plugin.dispose();
    optimizer.dispose();
    model.dispose();
  });
});

describe('getState / setState', () => {
  it('a second plugin given the first one’s state has the same terms, penalty and tracker; the copy is independent', async () => {
    for (const make of [
      () => ewc({ lambda: 5, mode: 'separate', importance: { method: 'si' } }),
      () => stabilizedEwc({ lambda: 5, mode: 'decay', gamma: 0.7, importance: fisher }),
    ]) {
      const a = make();
      const model = smallModel(4);
      const optimizer = tf.train.sgd(run.learningRate);
      await trainContinual(model, tasks.slice(0, 2), { ...run, optimizer, plugins: [a] });
      const b = make();
      b.setState(a.getState());
      expect(b.taskCount).toBe(2);
      expect(b.learningRate).toBe(a.learningRate);
      expect(b.terms).toHaveLength(a.terms.length);
      perturb(model, 0.05);
      const ctx = handContext(model, optimizer);
      const pa = a.penalty(ctx);
      const trackerA = a.tracker?.getState().tensors as ParamMap;
      const trackerKeys = Object.keys(trackerA);
      const copyA = tf.tidy(() => Object.fromEntries(trackerKeys.map((k) => [k, tf.clone(trackerA[k] as tf.Tensor)])));
      a.dispose();
      const pb = b.penalty(ctx);
      expect(relErr(pb?.value as tf.Tensor, pa?.value as tf.Tensor)).toBe(0);
      for (const k of Object.keys(model.params)) expect(relErr(pb?.grads[k] as tf.Tensor, pa?.grads[k] as tf.Tensor)).toBe(0);
      const trackerB = b.tracker?.getState().tensors as ParamMap;
      expect(Object.keys(trackerB).sort()).toEqual(trackerKeys.sort());
      for (const k of trackerKeys) expect(relErr(trackerB[k] as tf.Tensor, copyA[k] as tf.Tensor), k).toBe(0);
      tf.dispose([pa?.value, pb?.value]);
      [pa?.grads, pb?.grads, copyA].forEach(disposeParams);
      b.dispose();
      optimizer.dispose();
      model.dispose();
    }
  });

  it('rejects a state of another configuration or an incomplete one, and is left unchanged', async () => {
    const a = ewc({ lambda: 5, importance: fisher });
    const model = smallModel(5);
    const optimizer = tf.train.sgd(run.learningRate);
    await trainContinual(model, tasks.slice(0, 1), { ...run, optimizer, plugins: [a] });
    const state = a.getState();
    expect(state.meta).toMatchObject({ kind: 'ewc', mode: 'online', lambda: 5, convention: 'lambda', method: 'fisher', taskCount: 1 });
    expect(() => ewc({ lambda: 6, importance: fisher }).setState(state)).toThrow("ewc.setState: the state's lambda is 5, this plugin's is 6");
    expect(() => ewc({ lambda: 5, mode: 'separate', importance: fisher }).setState(state)).toThrow('the state\'s mode is "online", this plugin\'s is "separate"');
    expect(() => ewc({ lambda: 5, importance: { method: 'mas' } }).setState(state)).toThrow('the state\'s method is "fisher", this plugin\'s is "mas"');
    expect(() => l2({ lambda: 5 }).setState(state)).toThrow('l2.setState: the state\'s kind is "ewc", this plugin\'s is "l2"');
    expect(() => ewc({ lambda: 5, mode: 'decay', gamma: 0.5, importance: fisher }).setState({ tensors: {}, meta: { taskCount: 0, gamma: 0.9 } })).toThrow(
      "ewc.setState: the state's gamma is 0.9, this plugin's is 0.5",
    );
    expect(() => ewc({ lambda: 5, convention: 'half-lambda', importance: fisher }).setState(state)).toThrow('the state\'s convention is "lambda", this plugin\'s is "half-lambda"');
    const b = ewc({ lambda: 5, importance: fisher });
    expect(() => b.setState({ tensors: state.tensors, meta: { ...state.meta, taskCount: -1 } })).toThrow('ewc.setState: meta.taskCount must be a non-negative integer, got -1');
    const noAnchor = Object.fromEntries(Object.entries(state.tensors).filter(([k]) => !k.startsWith('anchor/')));
    expect(() => b.setState({ tensors: noAnchor, meta: state.meta })).toThrow("ewc.setState: the state has no anchors ('anchor/<parameter>')");
    const wrong = { ...state.tensors, 'importance/dense_0/bias': tf.zeros([3]) };
    expect(() => b.setState({ tensors: wrong, meta: state.meta })).toThrow("the importance of parameter 'dense_0/bias' has shape [3], the parameter [12]");
    tf.dispose(wrong['importance/dense_0/bias']);
    expect(b.taskCount).toBe(0);
    expect(b.terms).toHaveLength(0);
    expect(() => stabilizedEwc({ lambda: 5 }).setState({ tensors: state.tensors, meta: { taskCount: 1 } })).toThrow(
      'stabilizedEwc.setState: the state has no learningRate and this plugin none either',
    );
    [a, b].forEach((p) => p.dispose());
    optimizer.dispose();
    model.dispose();
  });
});
