import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { autodiffPenalty, perturb, smallModel, values } from '../test/fixtures.js';
import { ewcCoefficient, quadraticPenalty, stabilizedCoefficient } from './penalty.js';

describe('coefficients', () => {
  it('c = λ·I (papers 2–4) or λ/2·I (Kirkpatrick), and a scalar λ for uniform importance', () => {
    const I = tf.tensor1d([0, 0.5, 2, 40]);
    expect(values(ewcCoefficient(I, 3))).toEqual([0, 1.5, 6, 120]);
    expect(values(ewcCoefficient(I, 3, 'half-lambda'))).toEqual([0, 0.75, 3, 60]);
    const u = ewcCoefficient(undefined, 3, 'half-lambda');
    expect(u.rank).toBe(0);
    expect(values(u)).toEqual([1.5]);
    tf.dispose([I, u]);
  });

  it('stabilised c = λI / (2(1 + ηλI)), checked against float64 arithmetic', async () => {
    const imp = [0, 0.01, 1, 7.5, 430];
    const lambda = 2;
    const eta = 0.1;
    const I = tf.tensor1d(imp);
    const before = tf.memory().numTensors;
    const c = stabilizedCoefficient(I, lambda, eta);
    expect(tf.memory().numTensors).toBe(before + 1); // c alone: no intermediate left behind
    I.dispose();
    const want = imp.map((i) => (lambda * i) / (2 * (1 + eta * lambda * i)));
    expect(relErr(c, want)).toBeLessThan(1e-6);
    // the penalty gradient 2c = λI/(1 + ηλI) is below 1/η whatever I: one SGD step never crosses θ*
    for (const v of values(c)) expect(2 * eta * v).toBeLessThan(1);
    const u = stabilizedCoefficient(undefined, lambda, eta);
    expect(values(u)[0]).toBeCloseTo(lambda / (2 * (1 + eta * lambda)), 7);
    tf.dispose([c, u]);
  });
});

describe('quadraticPenalty', () => {
  it('value and analytic gradient equal autodiff through Σ c ⊙ (θ − θ*)² (rel err <= 1e-6), several terms and a scalar c', async () => {
    const model = smallModel(3);
    const names = Object.keys(model.params);
    const mk = (seed: number, fn: (v: tf.Variable, seed: number) => tf.Tensor): ParamMap =>
      tf.tidy(() => Object.fromEntries(names.map((n, i) => [n, fn(model.params[n] as tf.Variable, seed + i)])) as ParamMap);
    const c1 = mk(10, (v, s) => tf.randomUniform(v.shape, 0, 5, 'float32', s));
    const c2 = mk(20, (v, s) => tf.randomUniform(v.shape, 0, 0.5, 'float32', s));
    const a1 = mk(30, (v, s) => tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', s)));
    const a2 = mk(40, (v, s) => tf.add(v, tf.randomNormal(v.shape, 0, 0.3, 'float32', s)));
    const scalarC: ParamMap = Object.fromEntries(names.map((n) => [n, tf.scalar(0.7)]));
    perturb(model, 0.05);
    const terms = [
      { coefficient: c1, anchor: a1 },
      { coefficient: c2, anchor: a2 },
      { coefficient: scalarC, anchor: a1 },
    ];
    for (const used of [terms.slice(0, 1), terms]) {
      const before = tf.memory().numTensors;
      const analytic = quadraticPenalty(model.params, used);
      expect(tf.memory().numTensors, 'only the value and one gradient per parameter are left').toBe(before + 1 + names.length);
      const auto = autodiffPenalty(model, used);
      expect(relErr(analytic.value, auto.value)).toBeLessThanOrEqual(1e-6);
      expect(values(analytic.value)[0]).toBeGreaterThan(0);
      for (const n of names) expect(relErr(analytic.grads[n] as tf.Tensor, auto.grads[n] as tf.Tensor), n).toBeLessThanOrEqual(1e-6);
      // Hand check on one entry: 2c(θ − θ*) summed over terms.
      const n0 = names[0] as string;
      const th = values(model.params[n0] as tf.Tensor)[5] as number;
      const want = used.reduce((s, t) => {
        const c = values(t.coefficient[n0] as tf.Tensor);
        return s + 2 * (c.length === 1 ? (c[0] as number) : (c[5] as number)) * (th - (values(t.anchor[n0] as tf.Tensor)[5] as number));
      }, 0);
      expect(values(analytic.grads[n0] as tf.Tensor)[5]).toBeCloseTo(want, 5);
      tf.dispose([analytic.value, auto.value]);
      disposeParams(analytic.grads);
      disposeParams(auto.grads);
    }
    [c1, c2, a1, a2, scalarC].forEach(disposeParams);
    model.dispose();
  });

  it('is zero with zero gradient at the anchor, and names the parameter at fault', () => {
    const model = smallModel(4);
    const anchor = model.getWeights();
    const c: ParamMap = Object.fromEntries(Object.entries(anchor).map(([n, a]) => [n, tf.onesLike(a)]));
    const p = quadraticPenalty(model.params, [{ coefficient: c, anchor }]);
    expect(values(p.value)).toEqual([0]);
    for (const g of Object.values(p.grads)) expect(Math.max(...values(g).map(Math.abs))).toBe(0);
    tf.dispose(p.value);
    disposeParams(p.grads);
    const bad = tf.zeros([12]);
    expect(() => quadraticPenalty(model.params, [{ coefficient: c, anchor: { ...anchor, 'dense_0/kernel': bad } }])).toThrow(
      "quadraticPenalty: parameter 'dense_0/kernel' has shape [16,12] but its anchor has [12]",
    );
    expect(() => quadraticPenalty(model.params, [{ coefficient: c, anchor: { ...anchor, 'dense_9/bias': bad } }])).toThrow(
      "the anchor has parameter 'dense_9/bias', which the model does not",
    );
    const bad3 = tf.zeros([3]);
    expect(() => quadraticPenalty(model.params, [{ coefficient: { ...c, 'dense_0/bias': bad3 }, anchor }])).toThrow(
      "parameter 'dense_0/bias' has a coefficient of shape [3], expected [12] or a scalar",
    );
    tf.dispose([bad, bad3]);
    disposeParams(c);
    disposeParams(anchor);
    model.dispose();
  });
});
