import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, Rng, disposeParams, mlp } from '@forgetless/core';
import { afterEach, describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../test/helpers.js';
import { applyMasks, pruningMasks, pruningMasksSync } from './masks.js';

const SIZES = [20, 12, 8, 4];

function randomImportances(seed: number): ParamMap {
  const rng = new Rng(seed);
  const m = mlp(SIZES, { seed });
  const out: ParamMap = {};
  for (const [n, v] of Object.entries(m.params))
    out[n] = tf.tensor(
      Float32Array.from({ length: v.size }, () => rng.next()),
      v.shape,
    );
  m.dispose();
  return out;
}

const sizeOf = (map: ParamMap, names: string[]) => names.reduce((n, k) => n + (map[k] as tf.Tensor).size, 0);

/** Reference: the k smallest (value, parameter order, index) over `names`. */
function smallest(map: ParamMap, names: string[], k: number): Set<string> {
  const all: [number, number, number][] = [];
  names.forEach((n, a) => (map[n] as tf.Tensor).dataSync().forEach((v, i) => all.push([v, a, i])));
  all.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
  return new Set(all.slice(0, k).map(([, a, i]) => `${names[a]}:${i}`));
}

function pruned(masks: ParamMap): Set<string> {
  const out = new Set<string>();
  for (const [n, m] of Object.entries(masks)) m.dataSync().forEach((v, i) => v === 0 && out.add(`${n}:${i}`));
  return out;
}

const maps: ParamMap[] = [];
afterEach(() => {
  maps.forEach(disposeParams);
  maps.length = 0;
});

describe('pruningMasks: exact counts per scope', () => {
  const kernels = ['dense_0/kernel', 'dense_1/kernel', 'dense_2/kernel'];
  const all = ['dense_0/kernel', 'dense_0/bias', 'dense_1/kernel', 'dense_1/bias', 'dense_2/kernel', 'dense_2/bias'];

  it('global, kernels only: round(s·N) smallest kernel entries, no bias masks', async () => {
    const imp = randomImportances(1);
    maps.push(imp);
    for (const s of [0, 0.3, 0.7, 0.97]) {
      const masks = await pruningMasks(imp, { sparsity: s });
      maps.push(masks);
      expect(Object.keys(masks)).toEqual(kernels);
      const n = sizeOf(imp, kernels);
      expect(pruned(masks).size).toBe(Math.round(s * n));
      expect(pruned(masks)).toEqual(smallest(imp, kernels, Math.round(s * n)));
    }
  });

  it('global with biases: the ranking spans kernels and biases', async () => {
    const imp = randomImportances(2);
    maps.push(imp);
    const masks = await pruningMasks(imp, { sparsity: 0.8, biases: true });
    maps.push(masks);
    expect(Object.keys(masks)).toEqual(all);
    const k = Math.round(0.8 * sizeOf(imp, all));
    expect(pruned(masks)).toEqual(smallest(imp, all, k));
  });

  it('per layer: round(s·n_layer) in each layer, kernel and bias ranked together', async () => {
    const imp = randomImportances(3);
    maps.push(imp);
    const masks = pruningMasksSync(imp, { sparsity: 0.55, scope: 'layer', biases: true });
    maps.push(masks);
    for (const layer of ['dense_0', 'dense_1', 'dense_2']) {
      const names = [`${layer}/kernel`, `${layer}/bias`];
      const k = Math.round(0.55 * sizeOf(imp, names));
      const got = new Set([...pruned(masks)].filter((e) => e.startsWith(`${layer}/`)));
      expect(got).toEqual(smallest(imp, names, k));
    }
  });

  it('excluded layers get no mask and their weights are untouched', async () => {
    const model = mlp(SIZES, { seed: 4 });
    const imp = randomImportances(4);
    maps.push(imp);
    const before = (model.params['dense_2/kernel'] as tf.Tensor).arraySync();
    const copies = Object.fromEntries(Object.entries(model.params).map(([n, v]) => [n, v.dataSync().slice()]));
    const masks = await pruningMasks(imp, { sparsity: 0.9, biases: true, exclude: ['dense_2'] });
    maps.push(masks);
    expect(Object.keys(masks)).toEqual(all.slice(0, 4));
    const chosen = all.slice(0, 4);
    expect(pruned(masks).size).toBe(Math.round(0.9 * sizeOf(imp, chosen)));
    applyMasks(model.params, masks);
    expect((model.params['dense_2/kernel'] as tf.Tensor).arraySync()).toEqual(before);
    for (const n of chosen) {
      const m = (masks[n] as tf.Tensor).dataSync();
      const want = (copies[n] as Float32Array).map((v, i) => v * (m[i] as number) + 0); // pruned entries are +0
      expect((model.params[n] as tf.Tensor).dataSync()).toEqual(want);
    }
    model.dispose();
  });

  it('ties are deterministic: equal importances prune in parameter order, then flat index', async () => {
    const imp: ParamMap = { 'a/kernel': tf.ones([3, 2]), 'a/bias': tf.ones([2]), 'b/kernel': tf.ones([2, 2]) };
    maps.push(imp);
    const masks = await pruningMasks(imp, { sparsity: 0.5, biases: true }); // 6 of 12
    maps.push(masks);
    expect((masks['a/kernel'] as tf.Tensor).dataSync()).toEqual(Float32Array.from([0, 0, 0, 0, 0, 0]));
    expect((masks['a/bias'] as tf.Tensor).dataSync()).toEqual(Float32Array.from([1, 1]));
    expect((masks['b/kernel'] as tf.Tensor).dataSync()).toEqual(Float32Array.from([1, 1, 1, 1]));
    const again = await pruningMasks(imp, { sparsity: 0.5, biases: true });
    maps.push(again);
    for (const n of Object.keys(masks)) expect((again[n] as tf.Tensor).dataSync()).toEqual((masks[n] as tf.Tensor).dataSync());
  });

  it('previous masks: what was pruned stays pruned at a higher sparsity', async () => {
    const a = randomImportances(5);
    const b = randomImportances(6); // different importances at the second round
    maps.push(a, b);
    const m1 = await pruningMasks(a, { sparsity: 0.5 });
    const m2 = await pruningMasks(b, { sparsity: 0.8, previous: m1 });
    maps.push(m1, m2);
    const p1 = pruned(m1);
    const p2 = pruned(m2);
    for (const e of p1) expect(p2.has(e)).toBe(true);
    expect(p2.size).toBe(Math.round(0.8 * sizeOf(a, kernels)));
  });

  it('rejects bad sparsities, unknown names and NaN importances, naming the value', async () => {
    const imp = randomImportances(7);
    maps.push(imp);
    await expect(pruningMasks(imp, { sparsity: 1 })).rejects.toThrow(/sparsity must be in \[0, 1\).*got 1/);
    await expect(pruningMasks(imp, { sparsity: -0.1 })).rejects.toThrow(/got -0.1/);
    await expect(pruningMasks(imp, { sparsity: Number.NaN })).rejects.toThrow(/got NaN/);
    await expect(pruningMasks(imp, { sparsity: 0.5, exclude: ['dense_9'] })).rejects.toThrow(/exclude names 'dense_9'/);
    await expect(pruningMasks(imp, { sparsity: 0.5, params: ['dense_0/gamma'] })).rejects.toThrow(/params names 'dense_0\/gamma'/);
    await expect(pruningMasks(imp, { sparsity: 0.5, scope: 'row' as never })).rejects.toThrow(/scope must be/);
    const bad = { 'x/kernel': tf.tensor2d([[1, Number.NaN]]) };
    maps.push(bad);
    await expect(pruningMasks(bad, { sparsity: 0.5 })).rejects.toThrow(/'x\/kernel' has a NaN score/);
    const model = mlp(SIZES, { seed: 1 });
    const wrong = { 'dense_0/kernel': tf.ones([3, 3]) };
    maps.push(wrong);
    expect(() => applyMasks(model.params, wrong)).toThrow(/'dense_0\/kernel' has shape \[3,3\]/);
    expect(() => applyMasks(model.params, { 'dense_7/kernel': wrong['dense_0/kernel'] as tf.Tensor })).toThrow(/'dense_7\/kernel', which is not a parameter/);
    model.dispose();
  });

  it('leaves no tensor behind', async () => {
    const imp = randomImportances(8);
    const model = mlp(SIZES, { seed: 8 });
    await expectNoLeak(async () => {
      const masks = await pruningMasks(imp, { sparsity: 0.6, scope: 'layer', biases: true });
      applyMasks(model.params, masks);
      const s = pruningMasksSync(imp, { sparsity: 0.6, structure: 'units', previous: masks });
      disposeParams(masks);
      disposeParams(s);
    });
    disposeParams(imp);
    model.dispose();
  });
});
