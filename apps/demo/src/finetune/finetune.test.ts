// The fine-tuning runner on the shipped pretrained model (a MobileNetV2-style tfjs-layers net, uint8):
// its measurements against core's evaluate, the pretrained weights restored after every run, no
// tensor left behind, a diverging run marked (never an accuracy, never selected), a replaced head
// measured through the pretrained head; and the class planning, config checks and selection rule.
import * as tf from '@tensorflow/tfjs-core';
import { ArraySource, type GraphModel, type LoadedLayersModel, consolidate, evaluate, resizeHead, useBackend } from '@forgetless/core';
import { ewc } from '@forgetless/regularizers';
import { loadLayersModel } from '@forgetless/core/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_MODEL_DIR } from '../cli/finetune-example.js';
import { planClasses } from './classes.js';
import { type FinetuneConfig, defaultFinetuneConfig, matchLayers, validateFinetuneConfig } from './config.js';
import { type FinetuneData, type FinetuneMetrics, type FinetuneRecord, consolidateThroughOldHead, runFinetune, selectBest } from './run.js';

let loaded: LoadedLayersModel;

/** Seeded images in [0, 255] of class c: a brightness per class plus noise, so classes are learnable. */
function images(n: number, classes: number[], seed: number, numClasses: number): ArraySource {
  const x = new Uint8Array(n * 28 * 28 * 3);
  const y = new Int32Array(n);
  let s = seed;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  for (let i = 0; i < n; i++) {
    const c = classes[i % classes.length] as number;
    y[i] = c;
    for (let j = 0; j < 28 * 28 * 3; j++) x[i * 28 * 28 * 3 + j] = Math.min(255, Math.floor(((c + 1) * 255) / (numClasses + 1) + 40 * rnd()));
  }
  return new ArraySource({ x, y, exampleShape: [28, 28, 3], numClasses });
}

function data(numClasses: number, oldClasses: number[], newClasses: number[]): FinetuneData {
  return {
    old: { train: images(32, oldClasses, 1, numClasses), test: images(40, oldClasses, 2, numClasses), classes: oldClasses, description: 'old' },
    new: { train: images(64, newClasses, 3, numClasses), test: images(40, newClasses, 4, numClasses), classes: newClasses, description: 'new' },
    classNames: Array.from({ length: numClasses }, (_, i) => `c${i}`),
  };
}

const config = (over: Partial<FinetuneConfig> = {}): FinetuneConfig => ({
  ...defaultFinetuneConfig(),
  backend: 'cpu',
  batchSize: 32,
  importanceLimit: 32,
  variants: [
    { method: 'plain', lambdas: [0] },
    { method: 'ewc-fis', lambdas: [10, 1000] },
  ],
  ...over,
});

beforeAll(async () => {
  await useBackend('wasm'); // conv training: the backend the CLI uses
  loaded = await loadLayersModel(EXAMPLE_MODEL_DIR);
});
afterAll(() => loaded.dispose());

const weightsOf = (m: GraphModel) => tf.tidy(() => Object.fromEntries(Object.entries({ ...m.params, ...m.state }).map(([k, v]) => [k, Array.from(v.dataSync())])));

describe('runFinetune', () => {
  it('measures as evaluate does, restores the pretrained weights, leaves no tensor, selects by the rule', async () => {
    const d = data(5, [0, 1, 2], [3, 4]);
    const before = weightsOf(loaded.model);
    const tensors = tf.memory().numTensors;
    const res = await runFinetune(loaded.model, d, config());
    expect(tf.memory().numTensors).toBe(tensors);
    expect(weightsOf(loaded.model)).toEqual(before);
    expect(loaded.model.frozen).toEqual([]); // batch norm frozen during the runs only
    // before: what core's evaluate says, over all outputs and over the part's classes
    const all = await evaluate(loaded.model, d.old.test);
    const own = await evaluate(loaded.model, d.new.test, { classes: [3, 4] });
    expect(res.before.old).toBe(all.accuracy);
    expect(res.before.oldLoss).toBeCloseTo(all.loss, 6);
    expect(res.before.newOwn).toBe(own.accuracy);
    expect(res.runs.map((r) => `${r.variant}:${r.lambda}`)).toEqual(['plain:0', 'ewc-fis:10', 'ewc-fis:1000']);
    for (const r of res.runs) {
      expect(r.diverged).toBeUndefined();
      expect(r.steps).toBe(2);
      for (const v of Object.values(r.after)) expect(Number.isFinite(v)).toBe(true);
    }
    // the rule applied by hand
    expect(res.selection).toEqual(selectBest(res.config, res.runs, res.before));
    expect(res.frozen.length).toBeGreaterThan(5); // every batch norm layer
  });

  it('marks a diverging run where it diverged, with no accuracy, and never selects it', async () => {
    const d = data(5, [0, 1, 2], [3, 4]);
    const tensors = tf.memory().numTensors;
    const res = await runFinetune(loaded.model, d, config({ optimizer: 'sgd', learningRate: 1e38, variants: [{ method: 'plain', lambdas: [0] }] }));
    expect(tf.memory().numTensors).toBe(tensors);
    const r = res.runs[0] as FinetuneRecord;
    expect(r.diverged).toMatch(/diverged at task 1 step \d+/);
    expect(Number.isNaN(r.after.old)).toBe(true);
    expect(res.selection[0]?.index).toBeUndefined();
  });

  it('a replaced head: the old data is measured through the pretrained head; importances are the pretrained model’s, head left out', async () => {
    const d = data(5, [0, 1, 2, 3, 4], [0, 1]);
    const resized = await resizeHead(loaded, { units: 2, mode: 'replace' });
    const oldHead = { model: loaded.model, layer: resized.head.layer };
    try {
      const newData: FinetuneData = {
        old: d.old,
        new: { ...d.new, train: images(64, [0, 1], 3, 2), test: images(40, [0, 1], 4, 2), classes: [0, 1] },
        classNames: ['x', 'y'],
        oldHead,
      };
      const pretrained = await evaluate(loaded.model, d.old.test);
      const tensors = tf.memory().numTensors;
      const res = await runFinetune(resized.model, newData, config({ variants: [{ method: 'ewc-fis', lambdas: [100] }] }));
      expect(tf.memory().numTensors).toBe(tensors);
      expect(res.before.old).toBe(pretrained.accuracy);
      expect(res.runs.every((r) => !r.diverged && Number.isFinite(r.after.old) && Number.isFinite(r.after.new))).toBe(true);
      // the old-head model is back at the pretrained weights
      expect((await evaluate(loaded.model, d.old.test)).accuracy).toBe(pretrained.accuracy);
      // consolidating through the old head = consolidating the pretrained model itself, minus the head's entries
      const task = { name: 'old', train: d.old.train, test: d.old.test };
      const direct = ewc({ lambda: 100, importance: { method: 'fisher', limit: 32 } });
      const through = ewc({ lambda: 100, importance: { method: 'fisher', limit: 32 } });
      await consolidate(loaded.model, task, [direct], { learningRate: 1e-3, seed: 0 });
      await consolidateThroughOldHead(resized.model, oldHead, task, [through], { learningRate: 1e-3, seed: 0 });
      const a = direct.getState().tensors;
      const b = through.getState().tensors;
      const body = Object.keys(a).filter((k) => !k.includes(`${resized.head.layer}/`));
      expect(Object.keys(b).sort()).toEqual(body.sort());
      expect(Object.keys(a).length).toBeGreaterThan(body.length); // the head had entries
      for (const k of body) expect(Array.from((b[k] as tf.Tensor).dataSync()), k).toEqual(Array.from((a[k] as tf.Tensor).dataSync()));
      direct.dispose();
      through.dispose();
    } finally {
      resized.dispose();
    }
  });
});

describe('planClasses', () => {
  const base = { outputWidth: 3, oldNames: ['a', 'b', 'c'], oldWhere: '--old o', newWhere: '--new n' };
  it('keep: new classes must be among the model’s; extend appends, in folder order; replace takes the new ones', () => {
    expect(planClasses({ ...base, head: 'keep', newNames: ['c', 'a'] })).toEqual({
      classNames: ['a', 'b', 'c'],
      oldMap: Int32Array.from([0, 1, 2]),
      newMap: Int32Array.from([2, 0]),
      units: 3,
    });
    expect(() => planClasses({ ...base, head: 'keep', newNames: ['a', 'd'] })).toThrow(
      /--new n: class d is not among the model's 3 classes \(a, b, c\); use --head extend or replace/,
    );
    expect(planClasses({ ...base, head: 'extend', newNames: ['e', 'b', 'd'] })).toEqual({
      classNames: ['a', 'b', 'c', 'e', 'd'],
      oldMap: Int32Array.from([0, 1, 2]),
      newMap: Int32Array.from([3, 1, 4]),
      units: 5,
    });
    expect(planClasses({ ...base, head: 'replace', newNames: ['x', 'y'] }).classNames).toEqual(['x', 'y']);
  });
  it('named outputs map the old folders by name; a count mismatch names the folder and both numbers', () => {
    expect(planClasses({ ...base, head: 'keep', oldNames: ['c', 'a'], newNames: ['b'], modelClasses: ['a', 'b', 'c'] }).oldMap).toEqual(Int32Array.from([2, 0]));
    expect(() => planClasses({ ...base, head: 'keep', oldNames: ['a', 'b'], newNames: ['a'] })).toThrow(/--old o: 2 class folders \(a, b\) but the model outputs 3 classes/);
    expect(() => planClasses({ ...base, head: 'keep', newNames: ['a'], modelClasses: ['a', 'b'] })).toThrow(/--classes: 2 class names, but the model outputs 3/);
  });
});

describe('validateFinetuneConfig', () => {
  it('adds plain, reads stabilized-ewc-*, refuses SI, repeated methods and bad λ', () => {
    const c = validateFinetuneConfig(config({ variants: [{ method: 'stabilized-ewc-mas', lambdas: [5] }] }));
    expect(c.variants.map((v) => v.method)).toEqual(['plain', 'sewc-mas']);
    expect(() => validateFinetuneConfig(config({ variants: [{ method: 'ewc-si', lambdas: [1] }] }))).toThrow(/SI's importance is a path integral/);
    expect(() =>
      validateFinetuneConfig(
        config({
          variants: [
            { method: 'ewc-fis', lambdas: [1] },
            { method: 'ewc-fis', lambdas: [2] },
          ],
        }),
      ),
    ).toThrow(/'ewc-fis' is named twice/);
    expect(() => validateFinetuneConfig(config({ variants: [{ method: 'ewc-fis', lambdas: [-1] }] }))).toThrow(/option '--lambda'/);
    expect(() => validateFinetuneConfig(config({ maxOldDrop: 2 }))).toThrow(/--max-old-drop/);
  });
  it('matches layers by name, prefix and glob', () => {
    const names = ['block_1_expand', 'block_1_expand_BN', 'block_2_project_BN', 'Conv1'];
    expect(matchLayers('Conv1', names)).toEqual(['Conv1']);
    expect(matchLayers('block_1_*', names)).toEqual(['block_1_expand', 'block_1_expand_BN']);
    expect(matchLayers('*_BN', names)).toEqual(['block_1_expand_BN', 'block_2_project_BN']);
  });
});

describe('selectBest', () => {
  const m = (old: number, neu: number): FinetuneMetrics => ({ old, new: neu, oldOwn: old, newOwn: neu, oldLoss: 0, newLoss: 0 });
  const rec = (index: number, lambda: number, after: FinetuneMetrics, diverged?: string): FinetuneRecord => ({
    index,
    variant: 'ewc-fis',
    method: 'ewc-fis',
    lambda,
    after,
    consolidateSeconds: 0,
    trainSeconds: 0,
    seconds: 0,
    steps: 1,
    cancelled: false,
    ...(diverged ? { diverged } : {}),
  });
  const c = validateFinetuneConfig(config({ variants: [{ method: 'ewc-fis', lambdas: [1, 2, 3, 4] }] }));
  const before = m(0.8, 0);
  it('the best new accuracy among the λ within the old drop; else the least drop; diverged never', () => {
    const runs = [rec(1, 1, m(0.5, 0.9)), rec(2, 2, m(0.77, 0.6)), rec(3, 3, m(0.79, 0.4)), rec(4, 4, m(Number.NaN, Number.NaN), 'diverged at task 1 step 3')];
    expect(selectBest(c, runs, before).find((s) => s.variant === 'ewc-fis')).toEqual({ variant: 'ewc-fis', index: 2, withinRule: true });
    const none = [rec(1, 1, m(0.5, 0.9)), rec(2, 2, m(0.6, 0.3))];
    expect(selectBest(c, none, before).find((s) => s.variant === 'ewc-fis')).toEqual({ variant: 'ewc-fis', index: 2, withinRule: false });
  });
});
