// Structural pruning by the first-order Taylor score: group score |Σ θ·ḡ| (Molchanov 2019) by
// default, Σ |θ·ḡ| with reduce 'l1'; checked against a hand reduction of θ ⊙ (tfjs autodiff ḡ).
import * as tf from '@tensorflow/tfjs-core';
import { ArraySource, Rng, type Sequential, disposeParams, mlp } from '@forgetless/core';
import { taylor } from '@forgetless/importances';
import { describe, expect, it } from 'vitest';
import { dependencyGroups, removableGroups } from './groups.js';
import { pruneStructure } from './prune-structure.js';
import { groupScores, hostImportances } from './score.js';
import { randomizeState } from './structure.test-helpers.js';

function source(n: number, features: number, classes: number, seed: number): ArraySource {
  const rng = new Rng(seed);
  return new ArraySource({
    x: Float32Array.from({ length: n * features }, () => rng.normal()),
    y: Int32Array.from({ length: n }, () => rng.int(classes)),
    exampleShape: [features],
    numClasses: classes,
  });
}

/** θ ⊙ ∂(mean cross-entropy)/∂θ by tfjs autodiff on the whole set at once. */
function thetaGrad(model: Sequential, data: ArraySource): Record<string, Float32Array> {
  const [batch] = [...data.batches(data.size)];
  if (!batch) throw new Error('empty');
  const vars = Object.values(model.params);
  const out = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(tf.oneHot(batch.y, model.numClasses), model.apply(batch.x)) as tf.Scalar, vars);
    value.dispose();
    return Object.fromEntries(Object.entries(model.params).map(([k, v]) => [k, tf.mul(v, grads[v.name] as tf.Tensor)]));
  });
  tf.dispose([batch.x, batch.y]);
  const host = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Float32Array.from(t.dataSync() as Float32Array)]));
  tf.dispose(Object.values(out));
  return host;
}

/** Per hidden unit j of mlp [i, h, o]: the terms θ·ḡ of its kernel column, bias and next kernel row. */
function unitTerms(tg: Record<string, Float32Array>, i: number, h: number, o: number): number[][] {
  return Array.from({ length: h }, (_, j) => [
    ...Array.from({ length: i }, (_, r) => tg['dense_0/kernel']?.[r * h + j] as number),
    tg['dense_0/bias']?.[j] as number,
    ...Array.from({ length: o }, (_, k) => tg['dense_1/kernel']?.[j * o + k] as number),
  ]);
}

const argmin = (v: number[]) => v.indexOf(Math.min(...v));

describe('structural pruning by taylor', () => {
  it('scores a group |Σ θ·ḡ| (abs-sum, the default) or Σ |θ·ḡ| (l1), as a hand reduction of autodiff θ·ḡ, and removes the lowest', async () => {
    const before = tf.memory().numTensors;
    const [i, h, o] = [6, 8, 3];
    const model = mlp([i, h, o], { seed: 1 });
    randomizeState(model, 2);
    const data = source(40, i, o, 3);
    const terms = unitTerms(thetaGrad(model, data), i, h, o);
    const absSum = terms.map((t) => Math.abs(t.reduce((a, b) => a + b, 0)));
    const l1 = terms.map((t) => t.reduce((a, b) => a + Math.abs(b), 0));
    expect(argmin(absSum), 'the two forms rank differently on this net').not.toBe(argmin(l1));

    const deps = dependencyGroups(model);
    const ids = removableGroups(deps).map((g) => g.id);
    expect(removableGroups(deps).map((g) => g.channels[0]?.index)).toEqual(Array.from({ length: h }, (_, j) => j));
    const signed = await taylor(model, data, { batchSize: 16, signed: true });
    const host = await hostImportances(signed);
    disposeParams(signed);
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(...absSum, ...l1);
    ids.forEach((id, j) => {
      expect(rel(groupScores(deps, host, 'abs-sum')[id] as number, absSum[j] as number), `unit ${j} abs-sum`).toBeLessThanOrEqual(1e-6);
      expect(rel(groupScores(deps, host, 'l1')[id] as number, l1[j] as number), `unit ${j} l1`).toBeLessThanOrEqual(1e-6);
    });

    // one channel of eight: pruneStructure removes the hand argmin of each form
    for (const [reduce, scores] of [
      [undefined, absSum],
      ['l1', l1],
    ] as const) {
      const { model: small, selection } = await pruneStructure(model, {
        importance: 'taylor',
        calibration: data,
        importanceOptions: { batchSize: 16 },
        target: { channels: 1 / h },
        ...(reduce ? { reduce } : {}),
      });
      expect(selection.removed, `reduce ${reduce ?? 'default'}`).toEqual([ids[argmin([...scores])]]);
      expect(small.countParams()).toBe(model.countParams() - (i + 1 + o));
      small.dispose();
    }
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('removes a dead ReLU unit with large weights (θ·ḡ = 0) where magnitude keeps it, and the outputs stay the same', async () => {
    const before = tf.memory().numTensors;
    const [i, h, o, dead] = [5, 6, 3, 2];
    const model = mlp([i, h, o], { seed: 7 });
    randomizeState(model, 8);
    // unit `dead`: the largest weights, but a bias so negative its ReLU never fires on the data
    const k0 = model.params['dense_0/kernel'] as tf.Variable;
    const b0 = model.params['dense_0/bias'] as tf.Variable;
    const k1 = model.params['dense_1/kernel'] as tf.Variable;
    tf.tidy(() => {
      const unit = tf.oneHot(tf.tensor1d([dead], 'int32'), h);
      const col = tf.reshape(unit, [1, h]);
      k0.assign(tf.add(tf.mul(k0, tf.sub(1, col)), tf.mul(col, 2)));
      b0.assign(tf.add(tf.mul(b0, tf.sub(1, tf.reshape(unit, [h]))), tf.mul(tf.reshape(unit, [h]), -100)));
      const row = tf.reshape(unit, [h, 1]);
      k1.assign(tf.add(tf.mul(k1, tf.sub(1, row)), tf.mul(row, 2)));
    });
    const data = source(30, i, o, 9);
    const deps = dependencyGroups(model);
    const deadId = removableGroups(deps).find((g) => g.channels[0]?.index === dead)?.id;
    const target = { channels: 1 / h };
    const byTaylor = await pruneStructure(model, { importance: 'taylor', calibration: data, target });
    const byMagnitude = await pruneStructure(model, { importance: 'magnitude', target });
    expect(byTaylor.selection.removed).toEqual([deadId]);
    expect(byMagnitude.selection.removed).not.toContain(deadId);
    const [batch] = [...data.batches(data.size)];
    if (!batch) throw new Error('empty');
    const [a, b] = tf.tidy(() => [model.apply(batch.x), byTaylor.model.apply(batch.x)]);
    const ref = (a as tf.Tensor).dataSync();
    const got = (b as tf.Tensor).dataSync();
    const scale = Math.max(...Array.from(ref, Math.abs));
    expect(Math.max(...Array.from(ref, (v, k) => Math.abs(v - (got[k] as number)))) / scale).toBeLessThanOrEqual(1e-6);
    tf.dispose([a as tf.Tensor, b as tf.Tensor, batch.x, batch.y]);
    byTaylor.model.dispose();
    byMagnitude.model.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects an unknown reduce, naming it', async () => {
    const model = mlp([4, 3, 2], { seed: 1 });
    await expect(pruneStructure(model, { importance: 'magnitude', target: { channels: 0.3 }, reduce: 'max' as never })).rejects.toThrow(
      /pruneStructure: reduce must be one of l1, l2, mean, abs-sum, got 'max'/,
    );
    model.dispose();
  });
});
