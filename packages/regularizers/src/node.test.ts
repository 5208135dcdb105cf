import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type ContinualResult, type ParamMap, disposeParams, mlp, trainContinual } from '@forgetless/core';
import { afterAll, describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { smallModel, smallTasks } from '../test/fixtures.js';
import type { Consolidation } from './consolidation.js';
import { ewc } from './ewc.js';
import { l2 } from './l2.js';
import { loadConsolidation, saveConsolidation } from './node.js';
import { stabilizedEwc } from './stabilized.js';

const tasks = smallTasks(3);
const opts = { iterations: 6, batchSize: 20, seed: 3, learningRate: 0.05, evalLimit: 40 } as const;
const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'forgetless-consolidation-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('saveConsolidation / loadConsolidation', () => {
  it.each([
    ['ewc online (Fisher)', () => ewc({ lambda: 20, importance: { method: 'fisher', limit: 40 } })],
    ['stabilised ewc separate (SI)', () => stabilizedEwc({ lambda: 20, mode: 'separate', importance: { method: 'si' } })],
    ['l2', () => l2({ lambda: 0.5 })],
  ])('%s: save after task 1, load into a fresh plugin and model, resume: the same accuracies and weights as the uninterrupted run', async (_, make) => {
    const full = async () => {
      const model = smallModel(6);
      const plugin = make();
      const optimizer = tf.train.sgd(opts.learningRate);
      const r = await trainContinual(model, tasks, { ...opts, optimizer, plugins: [plugin] });
      const w = model.getWeights();
      [plugin, optimizer, model].forEach((x) => x.dispose());
      return { r, w };
    };
    const reference = await full();

    const dir = await tempDir();
    const model = smallModel(6);
    const plugin = make();
    const optimizer = tf.train.sgd(opts.learningRate);
    const ac = new AbortController();
    let weights: ParamMap | undefined;
    const part = await trainContinual(model, tasks, {
      ...opts,
      optimizer,
      plugins: [plugin],
      signal: ac.signal,
      onTaskEnd: async ({ taskIndex }) => {
        if (taskIndex !== 1) return;
        await saveConsolidation(dir, plugin);
        weights = model.getWeights();
        ac.abort();
      },
    });
    [plugin, model].forEach((x) => x.dispose());
    const files = (await readdir(dir)).sort();
    expect(files).toContain('consolidation.json');
    expect(files).toContain(plugin.mode === 'separate' ? 'anchors-1.bin' : 'anchors.bin');

    const resumedModel = smallModel(99);
    resumedModel.setWeights(weights as ParamMap);
    const resumed: Consolidation = make();
    const meta = await loadConsolidation(dir, resumed, { params: resumedModel.params });
    expect(meta.taskCount).toBe(2);
    expect(resumed.taskCount).toBe(2);
    const r = await trainContinual(resumedModel, tasks, { ...opts, optimizer, plugins: [resumed], startTask: 2, previous: part as ContinualResult });
    expect(r.accuracy).toEqual(reference.r.accuracy);
    const w = resumedModel.getWeights();
    for (const k of Object.keys(w)) expect(relErr(w[k] as tf.Tensor, reference.w[k] as tf.Tensor), k).toBeLessThanOrEqual(1e-6);
    [w, reference.w, weights].forEach(disposeParams);
    [resumed, optimizer, resumedModel].forEach((x) => x.dispose());
  });

  it('errors name the file and the field or parameter at fault', async () => {
    const dir = await tempDir();
    const model = smallModel(7);
    const plugin = ewc({ lambda: 3, importance: { method: 'magnitude' } });
    const optimizer = tf.train.sgd(0.05);
    await trainContinual(model, tasks.slice(0, 1), { ...opts, optimizer, plugins: [plugin] });
    const file = await saveConsolidation(dir, plugin);
    const saved = JSON.parse(await readFile(file, 'utf8'));
    expect(saved).toMatchObject({ format: 'forgetless-consolidation', formatVersion: 1, kind: 'ewc', mode: 'online', lambda: 3, method: 'magnitude', taskCount: 1 });

    const other = ewc({ lambda: 4, importance: { method: 'magnitude' } });
    await expect(loadConsolidation(dir, other)).rejects.toThrow(`${file}: the saved lambda is 3, the plugin's is 4`);
    const fresh = ewc({ lambda: 3, importance: { method: 'magnitude' } });
    const wide = mlp([16, 13, 4]);
    await expect(loadConsolidation(dir, fresh, { params: wide.params })).rejects.toThrow(
      `${join(dir, 'importances.json')}: parameter 'dense_0/kernel' has shape [16,12] but the model's is [16,13]`,
    );
    const before = tf.memory().numTensors;
    await unlink(join(dir, 'anchors.bin'));
    await expect(loadConsolidation(dir, fresh)).rejects.toThrow(`${join(dir, 'anchors.json')}: cannot read weight file 'anchors.bin'`);
    expect(tf.memory().numTensors, 'a failed load frees what it read').toBe(before);
    await writeFile(file, '{ "format": "something-else" }');
    await expect(loadConsolidation(dir, fresh)).rejects.toThrow(`${file}: not a forgetless consolidation state`);
    await rm(file);
    await expect(loadConsolidation(dir, fresh)).rejects.toThrow(`${file}: cannot read the consolidation state`);
    expect(fresh.taskCount).toBe(0);
    [plugin, other, fresh, optimizer, model, wide].forEach((x) => x.dispose());
  });
});
