import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams, fillParams, mapParams } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { OPTIMIZERS, batches, bitwiseEqual, disposeBatches, flat, maxAbsDiff, model, randomImportances, trajectory } from '../test/fixtures.js';
import { attenuateGradients, attenuateSteps } from './attenuate.js';
import { attenuationFactors } from './attenuation.js';
import { type ApplyTo, defaultApplyTo, wva } from './wva.js';

const STEPS = 12;

describe('wva: the base optimizer is reproduced exactly when nothing is attenuated', () => {
  for (const [name, make] of Object.entries(OPTIMIZERS)) {
    it(`${name}: λ = 0 and I = 0 give a bitwise-identical trajectory in both modes (wrapper and plugin transforms)`, async () => {
      const bs = batches();
      const m0 = model();
      const opt0 = make();
      const ref = trajectory(m0, opt0, bs, STEPS);
      // sanity: the base optimizer moves the parameters
      expect(maxAbsDiff(ref[STEPS - 1] as Float32Array, ref[0] as Float32Array)).toBeGreaterThan(1e-4);
      for (const applyTo of ['gradients', 'steps'] as ApplyTo[]) {
        const cases: [string, (m: ReturnType<typeof model>) => ParamMap, number][] = [
          ['I = 0, λ = 5', (m) => fillParams(m.params, 0), 5],
          ['I random, λ = 0', (m) => randomImportances(m, 7, 0, 3), 0],
        ];
        for (const [label, imp, lambda] of cases) {
          // (a) the wrapper, keyed by parameter name
          const m = model();
          const I = imp(m);
          const opt = wva(make(), { importances: I, lambda, applyTo, params: m.params });
          expect(Object.keys(opt.factors)).toEqual([]); // a ≡ 1 is not stored
          const got = trajectory(m, opt, bs, STEPS);
          await expectNoLeak(() => trajectory(m, opt, bs, 2)); // after the moments exist, steps leave nothing behind
          for (let s = 0; s < STEPS; s++) expect(bitwiseEqual(got[s] as Float32Array, ref[s] as Float32Array), `${name} ${applyTo} ${label} wrapper step ${s}`).toBe(true);
          // (b) the transforms as trainStep plugins, over the same factors
          const m2 = model();
          const a = attenuationFactors(I, { lambda, params: m2.params });
          const base = make();
          const t = applyTo === 'gradients' ? attenuateGradients(a) : attenuateSteps(a);
          const got2 = trajectory(m2, base, bs, STEPS, [t]);
          for (let s = 0; s < STEPS; s++) expect(bitwiseEqual(got2[s] as Float32Array, ref[s] as Float32Array), `${name} ${applyTo} ${label} plugin step ${s}`).toBe(true);
          disposeParams(I);
          disposeParams(a);
          opt.dispose();
          base.dispose();
          m.dispose();
          m2.dispose();
        }
      }
      // and a non-zero λ·I does change the trajectory (the comparison above is not vacuous)
      const m3 = model();
      const I3 = randomImportances(m3, 7, 0, 3);
      const opt3 = wva(make(), { importances: I3, lambda: 1, params: m3.params });
      const got3 = trajectory(m3, opt3, bs, STEPS);
      expect(maxAbsDiff(got3[STEPS - 1] as Float32Array, ref[STEPS - 1] as Float32Array)).toBeGreaterThan(1e-5);
      disposeParams(I3);
      opt3.dispose();
      m3.dispose();
      opt0.dispose();
      m0.dispose();
      disposeBatches(bs);
    });
  }
});

describe('wva: a huge importance freezes the weight', () => {
  const cases: [string, ApplyTo][] = [
    ['sgd', 'gradients'],
    ['sgd', 'steps'],
    ['momentum', 'steps'],
    ['adam', 'steps'],
    ['adamax', 'steps'],
    ['rmsprop', 'steps'],
    ['adagrad', 'steps'],
    ['adadelta', 'steps'],
  ];
  for (const [name, applyTo] of cases) {
    it(`${name} (${applyTo}): I = 1e30 on dense_0/kernel keeps it within 1e-20 while the rest trains; exponential a = 0 keeps it bitwise`, () => {
      const bs = batches();
      for (const attenuation of ['hyperbolic', 'exponential'] as const) {
        const m = model();
        const k0 = m.params['dense_0/kernel']?.dataSync().slice() as Float32Array;
        const others0 = flat(m).slice(k0.length);
        const I: ParamMap = { 'dense_0/kernel': tf.fill([10, 8], 1e30) };
        const opt = wva((OPTIMIZERS[name] as () => tf.Optimizer)(), { importances: I, lambda: 1, attenuation, applyTo, params: m.params });
        trajectory(m, opt, bs, STEPS);
        const k1 = m.params['dense_0/kernel']?.dataSync() as Float32Array;
        if (attenuation === 'exponential') expect(bitwiseEqual(k1, k0)).toBe(true);
        else expect(maxAbsDiff(k1, k0)).toBeLessThanOrEqual(1e-20);
        expect(maxAbsDiff(flat(m).slice(k0.length), others0)).toBeGreaterThan(1e-4);
        disposeParams(I);
        opt.dispose();
        m.dispose();
      }
      disposeBatches(bs);
    });
  }
});

describe('wva with SGD: gradients and steps modes coincide', () => {
  it('same trajectory (relative error ≤ 1e-6 over 30 steps) through the wrapper and through the plugins; one step matches θ − η·a⊙g by hand', () => {
    const bs = batches();
    const lr = 0.1;
    const trajectories: Float32Array[][] = [];
    for (const applyTo of ['gradients', 'steps'] as ApplyTo[]) {
      const m = model();
      const I = randomImportances(m, 9, 0, 2);
      const opt = wva(tf.train.sgd(lr), { importances: I, lambda: 2, applyTo, params: m.params });
      trajectories.push(trajectory(m, opt, bs, 30));
      const m2 = model();
      const a = attenuationFactors(I, { lambda: 2 });
      const sgd = tf.train.sgd(lr);
      trajectories.push(trajectory(m2, sgd, bs, 30, [applyTo === 'gradients' ? attenuateGradients(a) : attenuateSteps(a)]));
      disposeParams(I);
      disposeParams(a);
      opt.dispose();
      sgd.dispose();
      m.dispose();
      m2.dispose();
    }
    const [gw, gp, sw, sp] = trajectories as [Float32Array[], Float32Array[], Float32Array[], Float32Array[]];
    let worst = 0;
    for (let s = 0; s < 30; s++) {
      worst = Math.max(
        worst,
        relErr(sw[s] as Float32Array, gw[s] as Float32Array),
        relErr(gp[s] as Float32Array, gw[s] as Float32Array),
        relErr(sp[s] as Float32Array, gw[s] as Float32Array),
      );
    }
    console.log(`SGD gradients vs steps mode: max relative error over 30 steps ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-6);

    // One step by hand: θ1 = θ0 − η · a ⊙ g, a = 1/(1 + λI), from tf.variableGrads of the same loss.
    const m = model();
    const I = randomImportances(m, 9, 0, 2);
    const theta0 = mapParams(m.params, (v) => tf.clone(v));
    const { grads } = tf.variableGrads(() => {
      const logits = m.apply((bs[0] as { x: tf.Tensor }).x, { training: true });
      return tf.losses.softmaxCrossEntropy(tf.oneHot((bs[0] as { y: tf.Tensor1D }).y, 4), logits) as tf.Scalar;
    }, Object.values(m.params));
    const expected = Object.keys(m.params).map((n) =>
      tf.tidy(() => tf.sub(theta0[n] as tf.Tensor, tf.mul(lr, tf.mul(tf.div(1, tf.add(1, tf.mul(2, I[n] as tf.Tensor))), grads[(m.params[n] as tf.Variable).name] as tf.Tensor)))),
    );
    const opt = wva(tf.train.sgd(lr), { importances: I, lambda: 2, params: m.params });
    trajectory(m, opt, bs.slice(0, 1), 1);
    Object.keys(m.params).forEach((n, i) => expect(relErr(m.params[n] as tf.Tensor, expected[i] as tf.Tensor), n).toBeLessThanOrEqual(1e-6));
    tf.dispose([...expected, ...Object.values(grads)]);
    disposeParams(theta0);
    disposeParams(I);
    opt.dispose();
    m.dispose();
    disposeBatches(bs);
  });
});

describe('wva with Adam (paper 4): gradients mode barely attenuates, steps mode does', () => {
  it('constant gradient: distance ratios match the hand formulas (|c|+ε)/(|c|+ε/a) and a', () => {
    // L(w) = Σ c ⊙ w: Adam's bias-corrected m̂ = c and v̂ = c², so every plain step is η·c/(|c| + ε).
    const c = [0.5, -0.02, 1.5, -0.3, 0.001, 2e-6];
    const aWanted = [1, 0.5, 0.2, 0.1, 0.05, 0.01];
    const lambda = 1;
    const importance = aWanted.map((a) => 1 / a - 1); // hyperbolic: a = 1/(1 + λI)
    const T = 50;
    const lr = 0.01;
    const eps = tf.backend().epsilon();
    const run = (applyTo?: ApplyTo) => {
      const w = tf.variable(tf.zeros([6]));
      const cT = tf.tensor1d(c);
      const I = tf.tensor1d(importance);
      const opt = applyTo ? wva(tf.train.adam(lr), { importances: { [w.name]: I }, lambda, applyTo }) : tf.train.adam(lr);
      for (let t = 0; t < T; t++) opt.minimize(() => tf.sum(tf.mul(cT, w)));
      const dist = Array.from(w.dataSync(), Math.abs);
      const a = applyTo ? Array.from(((opt as ReturnType<typeof wva>).factors[w.name] as tf.Tensor).dataSync()) : [];
      tf.dispose([w, cT, I]);
      opt.dispose();
      return { dist, a };
    };
    const plain = run();
    const grads = run('gradients');
    const steps = run('steps');
    const rows = c.map((ci, i) => {
      const a = steps.a[i] as number;
      const hand = { plain: (T * lr * Math.abs(ci)) / (Math.abs(ci) + eps), gradients: (Math.abs(ci) + eps) / (Math.abs(ci) + eps / a), steps: a };
      return {
        c: ci,
        a,
        plain: plain.dist[i] as number,
        handPlain: hand.plain,
        gradientsRatio: (grads.dist[i] as number) / (plain.dist[i] as number),
        handGradients: hand.gradients,
        stepsRatio: (steps.dist[i] as number) / (plain.dist[i] as number),
        handSteps: hand.steps,
      };
    });
    console.table(rows);
    for (const r of rows) {
      expect(Math.abs(r.a - aWanted[rows.indexOf(r)]!) / r.a).toBeLessThan(1e-6);
      expect(Math.abs(r.plain - r.handPlain) / r.handPlain).toBeLessThan(1e-4);
      expect(Math.abs(r.gradientsRatio - r.handGradients)).toBeLessThan(1e-4);
      expect(Math.abs(r.stepsRatio - r.handSteps) / r.handSteps).toBeLessThan(1e-4);
    }
    // gradients mode: a scale of the gradient cancels in m/√v unless |a·c| approaches ε
    expect(rows.slice(0, 4).every((r) => r.gradientsRatio > 0.9999)).toBe(true);
  });

  it('small classification MLP: distance travelled by the attenuated layer relative to plain Adam is ≈ 1 in gradients mode and ≈ a in steps mode', () => {
    const bs = batches(8, 21);
    const a = 0.1;
    const T = 40;
    const dist = (applyTo?: ApplyTo) => {
      const m = model();
      const k0 = m.params['dense_0/kernel']?.dataSync().slice() as Float32Array;
      const I: ParamMap = { 'dense_0/kernel': tf.fill([10, 8], 1 / a - 1) };
      const opt = applyTo ? wva(tf.train.adam(0.01), { importances: I, lambda: 1, applyTo, params: m.params }) : tf.train.adam(0.01);
      trajectory(m, opt, bs, T);
      const k1 = m.params['dense_0/kernel']?.dataSync() as Float32Array;
      let s = 0;
      for (let i = 0; i < k0.length; i++) s += ((k1[i] as number) - (k0[i] as number)) ** 2;
      disposeParams(I);
      opt.dispose();
      m.dispose();
      return Math.sqrt(s);
    };
    const plain = dist();
    const g = dist('gradients') / plain;
    const s = dist('steps') / plain;
    console.log(`Adam, ${T} steps, a = ${a} on dense_0/kernel: ‖Δθ‖ relative to plain Adam: gradients mode ${g.toFixed(4)}, steps mode ${s.toFixed(4)}`);
    expect(Math.abs(g - 1)).toBeLessThan(0.02);
    expect(Math.abs(s - a) / a).toBeLessThan(0.25);
    disposeBatches(bs);
  });
});

describe('wva wrapper', () => {
  it('defaults: gradients for SGD, steps for momentum and adaptive optimizers', () => {
    const want: Record<string, ApplyTo> = { sgd: 'gradients', momentum: 'steps', adam: 'steps', adamax: 'steps', rmsprop: 'steps', adagrad: 'steps', adadelta: 'steps' };
    for (const [name, make] of Object.entries(OPTIMIZERS)) {
      const opt = make();
      expect(defaultApplyTo(opt), name).toBe(want[name]);
      const w = wva(opt, { lambda: 1 });
      expect(w.applyTo, name).toBe(want[name]);
      expect(defaultApplyTo(w), `${name} wrapped`).toBe(want[name]);
      w.dispose();
    }
  });

  it('is a tf.Optimizer: minimize with tf.Variable names, getWeights/setWeights of the base, iterations, getConfig', async () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]));
    const I = tf.tensor1d([0, 1, 3]);
    const opt = wva(tf.train.adam(0.1), { importances: { [w.name]: I }, lambda: 1 });
    expect(opt).toBeInstanceOf(tf.Optimizer);
    expect(opt.getClassName()).toBe('WvaOptimizer');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) opt.minimize(() => tf.sum(tf.square(w)));
    expect(tf.memory().numTensors).toBe(before + 2); // Adam's m and v, created on the first step
    expect(opt.iterations).toBe(3);
    const weights = await opt.getWeights();
    expect(weights.map((x) => x.name)).toEqual(['iter', `${w.name}/m`, `${w.name}/v`]);
    expect(opt.getConfig()).toMatchObject({ learningRate: 0.1, wva: { lambda: 1, attenuation: 'hyperbolic', applyTo: 'steps' } });
    // a fresh wrapper restored from those weights continues exactly like the original
    const w2 = tf.variable(tf.clone(w));
    const opt2 = wva(tf.train.adam(0.1), { importances: { [w2.name]: I }, lambda: 1 });
    await opt2.setWeights(weights.map((x) => ({ name: x.name.replace(w.name, w2.name), tensor: x.tensor })));
    opt.minimize(() => tf.sum(tf.square(w)));
    opt2.minimize(() => tf.sum(tf.square(w2)));
    expect(bitwiseEqual(w.dataSync() as Float32Array, w2.dataSync() as Float32Array)).toBe(true);
    tf.dispose(weights.map((x) => x.tensor));
    tf.dispose([w, w2, I]);
    opt.dispose();
    opt2.dispose();
  });

  it('setImportances recomputes a once (a = 1/(1 + λI) by hand), replaces the old factors, and undefined clears them', () => {
    const m = model();
    const opt = wva(tf.train.sgd(0.1), { lambda: 3, params: m.params });
    expect(opt.factors).toEqual({});
    const I = randomImportances(m, 4, 0, 1);
    const n0 = tf.memory().numTensors;
    opt.setImportances(I);
    expect(tf.memory().numTensors - n0).toBe(Object.keys(m.params).length);
    for (const n of Object.keys(m.params)) {
      const hand = Array.from((I[n] as tf.Tensor).dataSync(), (x) => 1 / (1 + 3 * x));
      expect(relErr(opt.factors[n] as tf.Tensor, hand), n).toBeLessThanOrEqual(1e-6);
    }
    opt.setImportances(I); // replaced, not accumulated
    expect(tf.memory().numTensors - n0).toBe(Object.keys(m.params).length);
    opt.setImportances(undefined);
    expect(tf.memory().numTensors).toBe(n0);
    disposeParams(I);
    opt.dispose();
    m.dispose();
  });

  it('memory: holds one factor per attenuated parameter (4 bytes per entry); the steps-mode copy of θ lives only inside applyGradients', async () => {
    const m = model();
    const thetaBytes = 4 * Object.values(m.params).reduce((s, v) => s + v.size, 0);
    const largest = 4 * Math.max(...Object.values(m.params).map((v) => v.size));
    const I = randomImportances(m, 4, 0, 1);
    const bs = batches(1);
    const extra: Record<string, number> = {};
    for (const mode of ['plain', 'gradients', 'steps'] as const) {
      const base = tf.train.adam(0.01);
      const bytes0 = tf.memory().numBytes;
      const opt = mode === 'plain' ? base : wva(base, { importances: I, lambda: 1, applyTo: mode, params: m.params });
      expect(tf.memory().numBytes - bytes0, `${mode}: bytes held by the wrapper`).toBe(mode === 'plain' ? 0 : thetaBytes);
      trajectory(m, opt, bs, 1); // Adam's moments now exist
      const grads = tf.tidy(() => {
        const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.square(m.apply((bs[0] as { x: tf.Tensor }).x))) as tf.Scalar, Object.values(m.params));
        value.dispose();
        return g;
      });
      const held = tf.memory().numBytes;
      const prof = await tf.profile(() => opt.applyGradients(grads as Record<string, tf.Variable>));
      extra[mode] = prof.peakBytes - held;
      expect(tf.memory().numBytes, `${mode}: nothing kept by the step`).toBe(held);
      tf.dispose(Object.values(grads));
      opt.dispose();
    }
    console.log(
      `peak bytes above the resting state during one Adam applyGradients: plain ${extra.plain}, gradients ${extra.gradients}, steps ${extra.steps}; θ = ${thetaBytes} bytes`,
    );
    // steps mode adds the copy of θ plus at most a few tensors the size of the largest parameter
    expect(extra.steps as number).toBeGreaterThanOrEqual((extra.plain as number) + thetaBytes - largest);
    expect(extra.steps as number).toBeLessThanOrEqual((extra.plain as number) + thetaBytes + 3 * largest);
    // gradients mode adds at most the scaled gradients
    expect(extra.gradients as number).toBeLessThanOrEqual((extra.plain as number) + thetaBytes);
    disposeParams(I);
    disposeBatches(bs);
    m.dispose();
  });
});

describe('wva validation', () => {
  it('rejects bad λ, attenuation, applyTo and importances, naming the parameter', () => {
    const m = model();
    const opt = () => tf.train.sgd(0.1);
    expect(() => wva(opt(), { lambda: -1 })).toThrow(/lambda must be a finite number ≥ 0, got -1/);
    expect(() => wva(opt(), { lambda: Number.NaN })).toThrow(/lambda must be a finite number ≥ 0, got NaN/);
    expect(() => wva(opt(), { lambda: 1, attenuation: 'linear' as never })).toThrow(/unknown attenuation 'linear'/);
    expect(() => wva(opt(), { lambda: 1, applyTo: 'weights' as never })).toThrow(/unknown applyTo 'weights'/);
    expect(() => wva(tf.train.sgd(0.1) as unknown as tf.Optimizer, { lambda: 1, params: { x: tf.zeros([1]) as tf.Variable } })).toThrow(/params\['x'\] is not a tf.Variable/);
    const good = () => mapParams(m.params, (v) => tf.ones(v.shape));
    const replace = (I: ParamMap, name: string, t: tf.Tensor) => {
      (I[name] as tf.Tensor).dispose();
      I[name] = t;
    };
    const cases: [string, (I: ParamMap) => void, RegExp][] = [
      ['NaN', (I) => replace(I, 'dense_1/bias', tf.tensor1d([1, Number.NaN, 1, 1])), /'dense_1\/bias' contains NaN or Infinity/],
      ['Infinity', (I) => replace(I, 'dense_0/bias', tf.fill([8], Number.POSITIVE_INFINITY)), /'dense_0\/bias' contains NaN or Infinity/],
      ['negative', (I) => replace(I, 'dense_0/kernel', tf.fill([10, 8], -0.5)), /'dense_0\/kernel' has negative values/],
      ['shape', (I) => replace(I, 'dense_1/kernel', tf.ones([4, 8])), /parameter 'dense_1\/kernel' has shape \[4,8\] but \[8,4\] was expected/],
      ['unknown name', (I) => (I['dense_9/kernel'] = tf.ones([2])), /importance given for 'dense_9\/kernel', which is not a parameter/],
    ];
    for (const [label, spoil, msg] of cases) {
      const I = good();
      spoil(I);
      const w = wva(opt(), { lambda: 1, params: m.params });
      const base = opt();
      const n = tf.memory().numTensors;
      expect(() => w.setImportances(I), label).toThrow(msg);
      expect(() => wva(base, { lambda: 1, params: m.params, importances: I }), label).toThrow(msg);
      expect(tf.memory().numTensors, `${label}: nothing leaked on error`).toBe(n);
      expect(Object.keys(w.factors)).toEqual([]);
      w.dispose();
      base.dispose();
      disposeParams(I);
    }
    // keyed by variable name: an unknown variable is named
    expect(() => wva(opt(), { lambda: 1, importances: { 'no-such-variable': tf.ones([1]) } })).toThrow(/'no-such-variable', which is not a parameter/);
    m.dispose();
  });
});
