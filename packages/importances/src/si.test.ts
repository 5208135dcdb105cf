import * as tf from '@tensorflow/tfjs-core';
import {
  type ParamMap,
  type Plugin,
  type StepInfo,
  type TrainContext,
  dense,
  disposeParams,
  mapParams,
  sequential,
  syntheticPermutedTasks,
  trainContinual,
} from '@forgetless/core';
import { mlp } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { siTracker } from './si.js';

/** SGD on f(θ) = ½·a·(θ − c)², one scalar parameter, driving the tracker's hooks by hand. */
function quadratic(opts: { a: number; c: number; eta: number; theta0: number; steps: number; xi?: number; beforeTask: boolean }) {
  const model = sequential([dense(1, { useBias: false })], { inputShape: [1] });
  const k = model.params['dense_0/kernel'] as tf.Variable;
  const t0 = tf.tensor2d([[opts.theta0]]);
  k.assign(t0);
  t0.dispose();
  const tracker = siTracker(opts.xi !== undefined ? { xi: opts.xi } : {});
  const ctx = { model } as unknown as TrainContext;
  if (opts.beforeTask) tracker.beforeTask?.(ctx);
  for (let t = 0; t < opts.steps; t++) {
    const theta = k.dataSync()[0] as number;
    const g = opts.a * (theta - opts.c);
    const rawGrads = { 'dense_0/kernel': tf.tensor2d([[g]]) };
    const delta = { 'dense_0/kernel': tf.tensor2d([[-opts.eta * g]]) };
    const next = tf.add(k, delta['dense_0/kernel']);
    k.assign(next);
    next.dispose();
    tracker.afterStep?.({ rawGrads, delta } as unknown as StepInfo, ctx);
    tf.dispose([rawGrads['dense_0/kernel'], delta['dense_0/kernel']]);
  }
  return { model, k, tracker };
}

/** Closed form: g_t = a·rᵗ·(θ0 − c), r = 1 − ηa; ω = Σ η g_t²; Δθ = (r^T − 1)(θ0 − c). */
function expected(a: number, c: number, eta: number, theta0: number, steps: number, xi: number): { omega: number; importance: number } {
  const r = 1 - eta * a;
  const e0 = theta0 - c;
  const omega = (eta * a * a * e0 * e0 * (1 - r ** (2 * steps))) / (1 - r * r);
  const moved = (r ** steps - 1) * e0;
  return { omega, importance: omega / (moved * moved + xi) };
}

describe('siTracker', () => {
  it.each([true, false])('matches the hand-computed path integral of a 1-D quadratic under SGD (beforeTask called: %s)', (beforeTask) => {
    const p = { a: 2, c: 1.5, eta: 0.1, theta0: -1, steps: 7 };
    const { model, tracker } = quadratic({ ...p, beforeTask });
    const e = expected(p.a, p.c, p.eta, p.theta0, p.steps, 0.1);
    expect(relErr((tracker.omega as ParamMap)['dense_0/kernel'] as tf.Tensor, [e.omega])).toBeLessThan(1e-5);
    const imp = tracker.taskImportance();
    expect(relErr(imp['dense_0/kernel'] as tf.Tensor, [e.importance])).toBeLessThan(1e-5);
    // ω is reset and θ_start moves to θ_end: a second call sees no path and no motion
    const again = tracker.taskImportance();
    expect((again['dense_0/kernel'] as tf.Tensor).dataSync()[0]).toBe(0);
    disposeParams(imp);
    disposeParams(again);
    tracker.dispose();
    model.dispose();
  });

  it('uses ξ from its options', () => {
    const p = { a: 1, c: 0, eta: 0.5, theta0: 2, steps: 3, xi: 0.7 };
    const { model, tracker } = quadratic({ ...p, beforeTask: true });
    const imp = tracker.taskImportance();
    expect(relErr(imp['dense_0/kernel'] as tf.Tensor, [expected(p.a, p.c, p.eta, p.theta0, p.steps, p.xi).importance])).toBeLessThan(1e-5);
    disposeParams(imp);
    tracker.dispose();
    model.dispose();
  });

  it('in trainContinual, accumulates −rawGrads ⊙ delta (the full-loss gradient and the real Adam step, not the transformed gradient), leak-free', async () => {
    const tasks = syntheticPermutedTasks({ numTasks: 1, features: 6, numClasses: 3, trainPerClass: 10, testPerClass: 2 });
    const model = mlp([6, 5, 3], { seed: 1 });
    const tracker = siTracker();
    const byRaw: Record<string, Float64Array> = {};
    const byGrads: Record<string, Float64Array> = {};
    const spy: Plugin = {
      name: 'spy',
      needsDelta: true,
      beforeTask() {
        for (const name of Object.keys(byRaw)) {
          delete byRaw[name];
          delete byGrads[name];
        }
      },
      afterStep(info: StepInfo) {
        for (const name of Object.keys(model.params)) {
          const g = info.rawGrads[name]?.dataSync() as Float32Array;
          const h = info.grads[name]?.dataSync() as Float32Array;
          const d = info.delta?.[name]?.dataSync() as Float32Array;
          const raw = (byRaw[name] ??= new Float64Array(g.length));
          const seen = (byGrads[name] ??= new Float64Array(g.length));
          for (let i = 0; i < g.length; i++) {
            raw[i] = (raw[i] as number) - (g[i] as number) * (d[i] as number);
            seen[i] = (seen[i] as number) - (h[i] as number) * (d[i] as number);
          }
        }
      },
    };
    // halves the gradient the optimizer sees, so grads ≠ rawGrads
    const halve: Plugin = { name: 'halve', transformGradients: (g) => mapParams(g, (t) => tf.mul(t, 0.5)) };
    const optimizer = tf.train.adam(0.01);
    // a first run creates the tracker's and Adam's state; a second one must not add any tensor
    await trainContinual(model, tasks, { optimizer, batchSize: 8, epochs: 1, plugins: [halve, tracker, spy] });
    const start = model.getWeights({ state: false });
    await expectNoLeak(async () => {
      await trainContinual(model, tasks, { optimizer, batchSize: 8, epochs: 2, plugins: [halve, tracker, spy] });
    });
    for (const name of Object.keys(model.params)) {
      const om = (tracker.omega as ParamMap)[name] as tf.Tensor;
      expect(relErr(om, Float32Array.from(byRaw[name] as Float64Array)), name).toBeLessThan(1e-4);
      expect(relErr(om, Float32Array.from(byGrads[name] as Float64Array)), name).toBeGreaterThan(0.1);
    }
    const imp = tracker.taskImportance();
    for (const name of Object.keys(model.params)) {
      const want = tf.tidy(() =>
        tf.div(
          tf.tensor(Float32Array.from(byRaw[name] as Float64Array), model.params[name]?.shape),
          tf.add(tf.square(tf.sub(model.params[name] as tf.Tensor, start[name] as tf.Tensor)), 0.1),
        ),
      );
      expect(relErr(imp[name] as tf.Tensor, want), name).toBeLessThan(1e-4);
      want.dispose();
    }
    disposeParams(imp);
    disposeParams(start);
    optimizer.dispose();
    tracker.dispose();
    model.dispose();
  });

  it('rejects ξ ≤ 0, importance before any step, and steps without Δθ', () => {
    expect(() => siTracker({ xi: 0 })).toThrow(/xi must be a finite number > 0, got 0/);
    expect(() => siTracker({ xi: -1 })).toThrow(/xi must be/);
    expect(() => siTracker({ xi: Number.NaN })).toThrow(/xi must be/);
    const tracker = siTracker();
    expect(() => tracker.taskImportance()).toThrow(/no training step was seen/);
    expect(() => tracker.afterStep?.({ rawGrads: {} } as unknown as StepInfo, {} as unknown as TrainContext)).toThrow(/Δθ .* is missing/);
    expect(tracker.needsDelta).toBe(true);
  });

  it('getState / setState carries ω and θ_start over to a fresh tracker', () => {
    const p = { a: 2, c: 1.5, eta: 0.1, theta0: -1, steps: 5 };
    const { model, tracker } = quadratic({ ...p, beforeTask: true });
    const copy = siTracker();
    const st = tracker.getState();
    copy.setState(st);
    copy.afterStep?.(
      { rawGrads: { 'dense_0/kernel': tf.zeros([1, 1]) }, delta: { 'dense_0/kernel': tf.zeros([1, 1]) } } as unknown as StepInfo,
      { model } as unknown as TrainContext,
    );
    const a = tracker.taskImportance();
    const b = copy.taskImportance();
    expect(relErr(b['dense_0/kernel'] as tf.Tensor, a['dense_0/kernel'] as tf.Tensor)).toBeLessThan(1e-6);
    [a, b].forEach(disposeParams);
    tracker.dispose();
    copy.dispose();
    model.dispose();
  });
});
