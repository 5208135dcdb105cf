import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Plugin, cloneParams, disposeParams, trainContinual } from '@forgetless/core';
import { importanceTracker, siTracker } from '@forgetless/importances';
import { describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { autodiffPenalty, handContext, penaltyExpression, perturb, smallModel, smallTasks } from '../test/fixtures.js';
import type { Consolidation } from './consolidation.js';
import { ewc } from './ewc.js';
import { l2 } from './l2.js';
import { stabilizedEwc } from './stabilized.js';

const tasks = smallTasks(3);
const run = { iterations: 8, batchSize: 20, seed: 5, learningRate: 0.05 } as const;
const fisher = { method: 'fisher', limit: 40 } as const;

function expectClose(a: Readonly<ParamMap>, b: Readonly<ParamMap>, tol = 1e-6): void {
  expect(Object.keys(a)).toEqual(Object.keys(b));
  for (const k of Object.keys(a)) expect(relErr(a[k] as tf.Tensor, b[k] as tf.Tensor), k).toBeLessThanOrEqual(tol);
}

/** Trains `plugin` on `n` tasks; records each task's own importance and the parameters at each task's end. */
async function consolidate(plugin: Consolidation, n: number, seed = 1) {
  const model = smallModel(seed);
  const optimizer = tf.train.sgd(run.learningRate);
  const lasts: ParamMap[] = [];
  const ends: ParamMap[] = [];
  plugin.tracker?.onUpdate((u) => void lasts.push(cloneParams(u.last)));
  const spy: Plugin = { name: 'spy', afterTask: (ctx) => void ends.push(cloneParams(ctx.model.params)) };
  await trainContinual(model, tasks.slice(0, n), { ...run, optimizer, plugins: [plugin, spy] });
  optimizer.dispose();
  return { model, lasts, ends, done: () => [...lasts, ...ends].forEach(disposeParams) };
}

const scaled = (map: ParamMap, k: number): ParamMap => tf.tidy(() => Object.fromEntries(Object.entries(map).map(([n, t]) => [n, tf.mul(t, k)])));

describe('ewc modes and conventions', () => {
  it("online: c = λ·(I₀ + I₁) and θ* = θ at the end of the latest task; 'half-lambda' halves c", async () => {
    for (const convention of ['lambda', 'half-lambda'] as const) {
      const plugin = ewc({ lambda: 7, convention, importance: fisher });
      const { model, lasts, ends, done } = await consolidate(plugin, 2);
      expect(plugin.taskCount).toBe(2);
      expect(plugin.terms).toHaveLength(1);
      const term = plugin.terms[0] as NonNullable<(typeof plugin.terms)[0]>;
      const sum = tf.tidy(() => Object.fromEntries(Object.keys(model.params).map((n) => [n, tf.add(lasts[0]?.[n] as tf.Tensor, lasts[1]?.[n] as tf.Tensor)])));
      expectClose(term.importance as ParamMap, sum);
      const want = scaled(sum, convention === 'lambda' ? 7 : 3.5);
      expectClose(term.coefficient, want);
      expectClose(term.anchor, ends[1] as ParamMap, 0);
      [sum, want].forEach(disposeParams);
      done();
      plugin.dispose();
      model.dispose();
    }
  });

  it('separate: one importance, coefficient and anchor per task (Kirkpatrick), each from its own task', async () => {
    const plugin = ewc({ lambda: 2, mode: 'separate', convention: 'half-lambda', importance: { method: 'mas', limit: 40 } });
    const { model, lasts, ends, done } = await consolidate(plugin, 3);
    expect(plugin.terms).toHaveLength(3);
    plugin.terms.forEach((term, t) => {
      expectClose(term.importance as ParamMap, lasts[t] as ParamMap, 0);
      const want = scaled(lasts[t] as ParamMap, 1);
      expectClose(term.coefficient, want);
      expectClose(term.anchor, ends[t] as ParamMap, 0);
      disposeParams(want);
    });
    done();
    plugin.dispose();
    model.dispose();
  });

  it('decay: I ← γ·I + I_task (online EWC) and the latest anchor', async () => {
    const plugin = ewc({ lambda: 4, mode: 'decay', gamma: 0.3, importance: fisher });
    const { model, lasts, ends, done } = await consolidate(plugin, 3);
    const want = tf.tidy(() =>
      Object.fromEntries(
        Object.keys(model.params).map((n) => {
          const [a, b, c] = lasts.map((l) => l[n] as tf.Tensor) as [tf.Tensor, tf.Tensor, tf.Tensor];
          return [n, tf.mul(tf.add(tf.mul(tf.add(tf.mul(a, 0.3), b), 0.3), c), 4)];
        }),
      ),
    );
    expectClose(plugin.terms[0]?.coefficient as ParamMap, want, 1e-5);
    expectClose(plugin.terms[0]?.anchor as ParamMap, ends[2] as ParamMap, 0);
    disposeParams(want);
    done();
    plugin.dispose();
    model.dispose();
  });

  it('l2: c = λ (a scalar per parameter) and θ* at the end of the previous task', async () => {
    const plugin = l2({ lambda: 0.5 });
    const { model, ends, done } = await consolidate(plugin, 2);
    const term = plugin.terms[0] as NonNullable<(typeof plugin.terms)[0]>;
    expect(term.importance).toBeUndefined();
    for (const c of Object.values(term.coefficient)) expect(Array.from(c.dataSync())).toEqual([0.5]);
    expectClose(term.anchor, ends[1] as ParamMap, 0);
    done();
    plugin.dispose();
    model.dispose();
  });
});

describe('the analytic penalty', () => {
  const cases: [string, () => Consolidation][] = [
    ['ewc online', () => ewc({ lambda: 30, importance: fisher })],
    ['ewc separate, half-lambda', () => ewc({ lambda: 30, mode: 'separate', convention: 'half-lambda', importance: fisher })],
    ['ewc decay', () => ewc({ lambda: 30, mode: 'decay', gamma: 0.5, importance: { method: 'mas', limit: 40 } })],
    ['stabilised ewc', () => stabilizedEwc({ lambda: 300, importance: fisher })],
    ['l2', () => l2({ lambda: 0.3 })],
  ];

  it.each(cases)('%s: value and gradient equal autodiff through Σ c ⊙ (θ − θ*)² (rel err <= 1e-6)', async (_, make) => {
    const plugin = make();
    const { model, done } = await consolidate(plugin, 2);
    perturb(model, 0.1);
    const optimizer = tf.train.sgd(0.1);
    const pen = plugin.penalty(handContext(model, optimizer)) as NonNullable<ReturnType<Consolidation['penalty']>>;
    const ref = autodiffPenalty(model, plugin.terms);
    expect(pen.value.dataSync()[0]).toBeGreaterThan(0);
    expect(relErr(pen.value, ref.value)).toBeLessThanOrEqual(1e-6);
    for (const n of Object.keys(model.params)) expect(relErr(pen.grads[n] as tf.Tensor, ref.grads[n] as tf.Tensor), n).toBeLessThanOrEqual(1e-6);
    tf.dispose([pen.value, ref.value]);
    [pen.grads, ref.grads].forEach(disposeParams);
    optimizer.dispose();
    done();
    plugin.dispose();
    model.dispose();
  });

  it('trains the same trajectory as autodiff through the same loss term, and reports the penalty in the loss', async () => {
    const trajectory = async (analytic: boolean) => {
      const plugin = ewc({ lambda: 50, mode: 'separate', importance: fisher });
      const model = smallModel(9);
      const optimizer = tf.train.sgd(0.05);
      // The reference term: autodiff through Σ c ⊙ (θ − θ*)², with the analytic hook switched off.
      const reference: Plugin = { name: 'autodiff', lossTerm: () => (plugin.taskCount ? penaltyExpression(model.params, plugin.terms) : undefined) };
      const hook = analytic ? plugin : { ...plugin, penalty: undefined, name: 'ewc-no-penalty' };
      const penaltyInLoss: number[] = [];
      const probe: Plugin = {
        name: 'probe',
        beforeStep: () => {
          if (plugin.taskCount) penaltyInLoss.push(tf.tidy(() => penaltyExpression(model.params, plugin.terms).dataSync()[0] as number));
        },
        afterStep: (info) => {
          if (plugin.taskCount) penaltyInLoss.push((info.loss.dataSync()[0] as number) - (info.taskLoss.dataSync()[0] as number));
        },
      };
      const r = await trainContinual(model, tasks, { ...run, optimizer, progressEvery: 1, plugins: analytic ? [hook, probe] : [hook, reference, probe] });
      const w = model.getWeights();
      plugin.dispose();
      optimizer.dispose();
      model.dispose();
      return { w, losses: r.losses.map((l) => l.loss), penaltyInLoss };
    };
    const a = await trajectory(true);
    const b = await trajectory(false);
    expectClose(a.w, b.w);
    expect(relErr(a.losses, b.losses)).toBeLessThanOrEqual(1e-6);
    expect(a.penaltyInLoss.length).toBe(2 * 2 * run.iterations);
    for (let i = 0; i < a.penaltyInLoss.length; i += 2) {
      const expected = a.penaltyInLoss[i] as number;
      expect(expected).toBeGreaterThanOrEqual(0); // 0 at a task's first step, where θ = θ*
      expect(Math.abs((a.penaltyInLoss[i + 1] as number) - expected)).toBeLessThan(1e-5 * Math.max(1, expected));
    }
    expect(Math.max(...a.penaltyInLoss)).toBeGreaterThan(1e-4);
    [a.w, b.w].forEach(disposeParams);
  });
});

describe('importances from the tracker', () => {
  it("SI through its tracker: the plugin forwards the steps, and I equals a standalone siTracker's", async () => {
    const plugin = ewc({ lambda: 1, importance: { method: 'si' } });
    expect(plugin.needsDelta).toBe(true);
    const standalone = siTracker();
    const siLast: ParamMap[] = [];
    const spy: Plugin = { ...standalone, name: 'si-spy', afterTask: () => void siLast.push(standalone.taskImportance()) };
    const model = smallModel(2);
    const optimizer = tf.train.sgd(0.05);
    await trainContinual(model, tasks.slice(0, 2), { ...run, optimizer, plugins: [plugin, spy] });
    expectClose(plugin.tracker?.last as ParamMap, siLast[1] as ParamMap, 1e-5);
    const sum = tf.tidy(() => Object.fromEntries(Object.keys(model.params).map((n) => [n, tf.add(siLast[0]?.[n] as tf.Tensor, siLast[1]?.[n] as tf.Tensor)])));
    expectClose(plugin.terms[0]?.coefficient as ParamMap, sum, 1e-5);
    [sum, ...siLast].forEach(disposeParams);
    standalone.dispose();
    plugin.dispose();
    optimizer.dispose();
    model.dispose();
  });

  it('drives a tracker it is given, leaves it to its owner, and refuses one that is also a plugin', async () => {
    const tracker = importanceTracker({ method: 'magnitude' });
    const plugin = ewc({ lambda: 1, importance: tracker });
    const model = smallModel(3);
    const optimizer = tf.train.sgd(0.05);
    await trainContinual(model, tasks.slice(0, 1), { ...run, optimizer, plugins: [plugin] });
    expect(tracker.taskCount).toBe(1);
    plugin.dispose();
    expect(tracker.importances).toBeDefined(); // not disposed by the consolidation
    const twice = ewc({ lambda: 1, importance: tracker });
    await expect(trainContinual(model, tasks.slice(0, 2), { ...run, optimizer, plugins: [tracker, twice] })).rejects.toThrow(
      'ewc: the importance tracker has 2 tasks but this consolidation drove it through 1',
    );
    twice.dispose();
    tracker.dispose();
    optimizer.dispose();
    model.dispose();
  });
});

describe('bad input', () => {
  it('names the parameter and value at fault', () => {
    expect(() => ewc({ lambda: -1 })).toThrow('ewc: lambda must be a finite number >= 0, got -1');
    expect(() => ewc({ lambda: Number.NaN })).toThrow('ewc: lambda must be a finite number >= 0, got NaN');
    expect(() => ewc({ lambda: Number.POSITIVE_INFINITY })).toThrow('got Infinity');
    expect(() => ewc(undefined as never)).toThrow('ewc: options { lambda, ... } are required');
    expect(() => ewc({ lambda: 1, mode: 'global' as never })).toThrow("ewc: unknown mode 'global' (expected one of 'online', 'separate', 'decay')");
    expect(() => ewc({ lambda: 1, convention: 'lambda/2' as never })).toThrow("ewc: unknown convention 'lambda/2' (expected one of 'lambda', 'half-lambda')");
    expect(() => ewc({ lambda: 1, mode: 'decay', gamma: 1.5 })).toThrow('ewc: gamma must be a number in [0, 1], got 1.5');
    expect(() => ewc({ lambda: 1, mode: 'decay', gamma: -0.1 })).toThrow('got -0.1');
    expect(() => ewc({ lambda: 1, mode: 'decay' })).toThrow("ewc: mode 'decay' needs gamma (I ← γ·I + I_task), got undefined");
    expect(() => ewc({ lambda: 1, gamma: 0.5 })).toThrow("ewc: gamma applies to mode 'decay' only (mode is 'online')");
    expect(() => ewc({ lambda: 1, importance: { method: 'fisher', accumulate: 'decay', gamma: 0.5 } })).toThrow("importance.accumulate 'decay' needs mode 'decay'");
    expect(() => ewc({ lambda: 1, importance: { method: 'hessian' as never } })).toThrow("unknown method 'hessian'");
    expect(() => l2({ lambda: -2 })).toThrow('l2: lambda must be a finite number >= 0, got -2');
    expect(() => l2({ lambda: 1, convention: 'x' as never })).toThrow("l2: unknown convention 'x'");
    const tracker = importanceTracker({ method: 'fisher' });
    expect(() => ewc({ lambda: 1, mode: 'decay', gamma: 0.5, importance: tracker })).toThrow(
      "ewc: mode 'decay' needs a tracker with accumulate 'decay', the given tracker accumulates by 'sum'",
    );
    tracker.dispose();
  });
});
