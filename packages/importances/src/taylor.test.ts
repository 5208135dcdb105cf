import * as tf from '@tensorflow/tfjs-core';
import { ArraySource, type Model, type ParamMap, disposeParams } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { allOf, convNet, denseBnNet, mlpNet, randomSource, randomizeState } from '../test/nets.js';
import { computeImportance } from './compute.js';
import { taylor } from './taylor.js';

/**
 * The reference: θ ⊙ ∂/∂θ of tf.losses.softmaxCrossEntropy (mean over the whole set in one batch),
 * by tfjs autodiff through the model's own forward pass (inference mode).
 */
function reference(model: Model, source: ReturnType<typeof randomSource>): Record<string, Float32Array> {
  const { x, y } = allOf(source);
  const vars = Object.values(model.params);
  const out = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(tf.oneHot(y, model.numClasses), model.apply(x)) as tf.Scalar, vars);
    value.dispose();
    return Object.fromEntries(Object.entries(model.params).map(([name, v]) => [name, tf.mul(v, grads[v.name] ?? tf.zerosLike(v))]));
  });
  tf.dispose([x, y]);
  const host = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.dataSync() as Float32Array]));
  tf.dispose(Object.values(out));
  return host;
}

describe('taylor', () => {
  it('equals θ ⊙ (tfjs autodiff gradient of the mean cross-entropy), whatever the batch size (MLP, dense+batchNorm, conv net), rel err <= 1e-6', async () => {
    const mlp = mlpNet('tanh', 1);
    randomizeState(mlp, 2);
    for (const model of [mlp, denseBnNet(2), convNet('valid-pool', 3), convNet('strided-same', 4)]) {
      const source = randomSource(7, model.inputShape, model.numClasses, 5);
      const ref = reference(model, source);
      for (const batchSize of [3, 7]) {
        const signed = await taylor(model, source, { batchSize, signed: true });
        const abs = await taylor(model, source, { batchSize });
        for (const name of Object.keys(model.params)) {
          const r = ref[name] as Float32Array;
          expect(relErr(signed[name] as tf.Tensor, r), `${name} batch ${batchSize}`).toBeLessThanOrEqual(1e-6);
          expect(relErr(abs[name] as tf.Tensor, Array.from(r, Math.abs)), `${name} |·| batch ${batchSize}`).toBeLessThanOrEqual(1e-6);
        }
        // real signs: the signed map is not its absolute value
        expect(Object.values(signed).some((t) => (t.dataSync() as Float32Array).some((v) => v < 0))).toBe(true);
        disposeParams(signed);
        disposeParams(abs);
      }
      model.dispose();
    }
  });

  it('matches the hand computation on the last bias: b_j · mean_n (p_nj − [y_n = j])', async () => {
    const model = mlpNet('relu', 5);
    randomizeState(model, 6); // non-zero biases
    const source = randomSource(9, [5], 4, 2);
    const { x, y } = allOf(source);
    const z = model.apply(x).arraySync() as number[][];
    const labels = Array.from(y.dataSync());
    tf.dispose([x, y]);
    const b = (model.params['dense_2/bias'] as tf.Tensor).arraySync() as number[];
    expect(b.every((v) => v !== 0)).toBe(true);
    const g = new Float64Array(4);
    z.forEach((row, n) => {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((a, c) => a + c, 0);
      e.forEach((ej, j) => {
        g[j] = (g[j] as number) + (ej / s - (labels[n] === j ? 1 : 0)) / z.length;
      });
    });
    const t = await taylor(model, source, { batchSize: 4, signed: true });
    expect(
      relErr(
        t['dense_2/bias'] as tf.Tensor,
        Array.from(g, (gj, j) => gj * (b[j] as number)),
      ),
    ).toBeLessThanOrEqual(1e-6);
    disposeParams(t);
    // with a class mask (labels in the mask) the other classes' logits get no gradient
    const two = randomSource(9, [5], 2, 3);
    const { x: tx, y: ty } = allOf(two);
    const task = new ArraySource({ x: tx.dataSync() as Float32Array, y: Int32Array.from(ty.dataSync(), (v) => (v === 0 ? 1 : 3)), exampleShape: [5], numClasses: 4 });
    tf.dispose([tx, ty]);
    const masked = await taylor(model, task, { classes: [1, 3] });
    const mb = (masked['dense_2/bias'] as tf.Tensor).arraySync() as number[];
    expect([mb[0], mb[2]]).toEqual([0, 0]);
    expect((mb[1] as number) + (mb[3] as number)).toBeGreaterThan(0);
    disposeParams(masked);
    model.dispose();
  });

  it('is what computeImportance returns for taylor, leaves no tensors behind, and rejects bad input', async () => {
    const model = convNet('strided-same', 1);
    const source = randomSource(5, model.inputShape, 4);
    const a = await computeImportance('taylor', model, source, { batchSize: 2 });
    const b = await taylor(model, source, { batchSize: 2 });
    for (const name of Object.keys(b)) expect(relErr(a[name] as tf.Tensor, b[name] as tf.Tensor), name).toBe(0);
    [a, b].forEach((m: ParamMap) => disposeParams(m));
    for (const signed of [false, true]) await expectNoLeak(async () => disposeParams(await taylor(model, source, { batchSize: 2, limit: 3, signed })));
    await expect(taylor(model, source, { batchSize: 0 })).rejects.toThrow(/taylor: batchSize must be a positive integer, got 0/);
    await expect(taylor(model, source, { signed: 'yes' as never })).rejects.toThrow(/taylor: signed must be true or false, got yes/);
    await expect(taylor(model, randomSource(2, [5], 4))).rejects.toThrow(/taylor: the source has examples of shape \[5\]/);
    await expect(computeImportance('taylor', model, undefined)).rejects.toThrow(/'taylor' needs a data source/);
    model.dispose();
  });
});
