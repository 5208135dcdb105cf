import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, Rng, conv2d, dense, disposeParams, flatten, sequential } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { applyMasks, pruningMasks } from './masks.js';
import { unitScores } from './structured.js';

function random(shape: number[], rng: Rng): tf.Tensor {
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    shape,
  );
}

/** Reference unit scores: loop over the nested arrays, unit = last index. */
function refScores(kernel: tf.Tensor, bias: tf.Tensor | undefined, score: 'l1' | 'l2' | 'mean'): number[] {
  const units = kernel.shape[kernel.shape.length - 1] as number;
  const vals: number[][] = Array.from({ length: units }, () => []);
  const walk = (x: unknown): void => {
    if (Array.isArray(x) && typeof x[0] === 'number') (x as number[]).forEach((v, o) => vals[o]?.push(v));
    else (x as unknown[]).forEach(walk);
  };
  walk(kernel.arraySync());
  if (bias) (bias.arraySync() as number[]).forEach((v, o) => vals[o]?.push(v));
  return vals.map((v) =>
    score === 'l1' ? v.reduce((a, b) => a + Math.abs(b), 0) : score === 'l2' ? Math.sqrt(v.reduce((a, b) => a + b * b, 0)) : v.reduce((a, b) => a + b, 0) / v.length,
  );
}

/** Units whose kernel slice and bias entry are all 0 in the mask; checks the other units are all 1. */
function removedUnits(mask: tf.Tensor, bias: tf.Tensor | undefined): number[] {
  const units = mask.shape[mask.shape.length - 1] as number;
  const m = mask.dataSync();
  const b = bias?.dataSync();
  const out: number[] = [];
  for (let o = 0; o < units; o++) {
    const col: number[] = [];
    for (let i = o; i < m.length; i += units) col.push(m[i] as number);
    if (b) col.push(b[o] as number);
    const z = col.every((v) => v === 0);
    if (!z)
      expect(
        col.every((v) => v === 1),
        `unit ${o} is partly pruned`,
      ).toBe(true);
    if (z) out.push(o);
  }
  return out;
}

describe('structured pruning (whole units)', () => {
  const rng = new Rng(5);
  const imp: ParamMap = {
    'conv2d_0/kernel': random([3, 3, 2, 6], rng),
    'conv2d_0/bias': random([6], rng),
    'dense_0/kernel': random([24, 7], rng),
    'dense_0/bias': random([7], rng),
  };

  it('scores units by the L1, L2 or mean of their importances (kernel slice + bias entry)', () => {
    for (const score of ['l1', 'l2', 'mean'] as const) {
      const k = imp['conv2d_0/kernel'] as tf.Tensor;
      const b = imp['conv2d_0/bias'] as tf.Tensor;
      const got = unitScores(k.dataSync() as Float32Array, k.shape, b.dataSync() as Float32Array, score);
      const want = refScores(k, b, score);
      got.forEach((v, o) => expect(v).toBeCloseTo(want[o] as number, 5));
    }
  });

  it('per layer: removes exactly round(s·units) lowest-scoring units of each layer, whole', async () => {
    const masks = await pruningMasks(imp, { sparsity: 0.5, scope: 'layer', structure: 'units', unitScore: 'l2' });
    for (const [layer, units] of [
      ['conv2d_0', 6],
      ['dense_0', 7],
    ] as const) {
      const want = refScores(imp[`${layer}/kernel`] as tf.Tensor, imp[`${layer}/bias`], 'l2')
        .map((v, o) => [v, o] as const)
        .sort((a, b) => a[0] - b[0] || a[1] - b[1])
        .slice(0, Math.round(0.5 * units))
        .map(([, o]) => o)
        .sort((a, b) => a - b);
      expect(removedUnits(masks[`${layer}/kernel`] as tf.Tensor, masks[`${layer}/bias`])).toEqual(want);
    }
    disposeParams(masks);
  });

  it('global: ranks the units of all layers together (mean score), exclusion keeps a layer whole', async () => {
    const masks = await pruningMasks(imp, { sparsity: 0.4, structure: 'units', unitScore: 'mean' });
    const conv = refScores(imp['conv2d_0/kernel'] as tf.Tensor, imp['conv2d_0/bias'], 'mean').map((v, o) => [v, 0, o] as const);
    const dense = refScores(imp['dense_0/kernel'] as tf.Tensor, imp['dense_0/bias'], 'mean').map((v, o) => [v, 1, o] as const);
    const chosen = [...conv, ...dense].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]).slice(0, Math.round(0.4 * 13));
    expect(removedUnits(masks['conv2d_0/kernel'] as tf.Tensor, masks['conv2d_0/bias'])).toEqual(
      chosen
        .filter((c) => c[1] === 0)
        .map((c) => c[2])
        .sort((a, b) => a - b),
    );
    expect(removedUnits(masks['dense_0/kernel'] as tf.Tensor, masks['dense_0/bias'])).toEqual(
      chosen
        .filter((c) => c[1] === 1)
        .map((c) => c[2])
        .sort((a, b) => a - b),
    );
    disposeParams(masks);
    const kept = await pruningMasks(imp, { sparsity: 0.5, structure: 'units', exclude: ['dense_0'] });
    expect(Object.keys(kept)).toEqual(['conv2d_0/kernel', 'conv2d_0/bias']);
    expect(removedUnits(kept['conv2d_0/kernel'] as tf.Tensor, kept['conv2d_0/bias'])).toHaveLength(3);
    disposeParams(kept);
  });

  it('a removed conv filter outputs zeros for any input; other filters are untouched', async () => {
    const model = sequential([conv2d(6, 3, { activation: 'relu', biasInitializer: 'ones' }), flatten(), dense(7)], { inputShape: [4, 4, 2], seed: 2 });
    const masks = await pruningMasks(imp, { sparsity: 0.5, scope: 'layer', structure: 'units' });
    const gone = removedUnits(masks['conv2d_0/kernel'] as tf.Tensor, masks['conv2d_0/bias']);
    const before = (model.params['conv2d_0/kernel'] as tf.Tensor).dataSync().slice();
    applyMasks(model.params, masks);
    const after = (model.params['conv2d_0/kernel'] as tf.Tensor).dataSync();
    after.forEach((v, i) => expect(v).toBe(gone.includes(i % 6) ? 0 : before[i]));
    const x = tf.randomNormal([3, 4, 4, 2], 0, 1, 'float32', 7);
    const capture = {};
    const y = model.apply(x, { capture });
    const out = (capture as Record<string, { output: tf.Tensor }>).conv2d_0?.output.arraySync() as number[][][][];
    for (const n of out) for (const row of n) for (const px of row) for (const o of gone) expect(px[o]).toBe(0);
    tf.dispose([x, y]);
    disposeParams(masks);
    model.dispose();
  });

  it('rejects an unknown unit score and a kernel without units', async () => {
    await expect(pruningMasks(imp, { sparsity: 0.5, structure: 'units', unitScore: 'max' as never })).rejects.toThrow(/unitScore must be one of l1, l2, mean, got 'max'/);
    const flat = { 'x/kernel': tf.ones([5]) };
    await expect(pruningMasks(flat, { sparsity: 0.5, structure: 'units' })).rejects.toThrow(/'x\/kernel' has shape \[5\]; unit pruning needs/);
    disposeParams(flat);
  });
});
