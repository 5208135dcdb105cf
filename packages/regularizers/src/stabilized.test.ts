// Paper 2's instability: under SGD the plain EWC penalty maps d = θ − θ* to (1 − 2ηc)·d, which
// oscillates and diverges once ηλI > 1; stabilised EWC maps it to d/(1 + ηλI) and never overshoots.
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Sequential, mlp } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { handContext, smallModel, smallTasks, values } from '../test/fixtures.js';
import type { Consolidation } from './consolidation.js';
import { ewc } from './ewc.js';
import { stabilizedEwc } from './stabilized.js';

const ETA = 0.1;
// A 4-parameter problem: kernel [3, 1] and bias [1], with one importance per entry.
const IMPORTANCE = [1, 2, 4, 0.5];
const ANCHOR = [0.6, -0.4, 0.25, 0.9];
const START_OFFSET = [0.1, -0.2, 0.3, 0.05];

function problem(): { model: Sequential; state: { tensors: ParamMap; meta: { taskCount: number } } } {
  const model = mlp([3, 1], { seed: 1 });
  const k = 'dense_0/kernel';
  const b = 'dense_0/bias';
  (model.params[k] as tf.Variable).assign(tf.tensor2d(ANCHOR.slice(0, 3).map((a, i) => [a + (START_OFFSET[i] as number)])));
  (model.params[b] as tf.Variable).assign(tf.tensor1d([(ANCHOR[3] as number) + (START_OFFSET[3] as number)]));
  const tensors: ParamMap = {
    [`importance/${k}`]: tf.tensor2d(IMPORTANCE.slice(0, 3).map((v) => [v])),
    [`importance/${b}`]: tf.tensor1d([IMPORTANCE[3] as number]),
    [`anchor/${k}`]: tf.tensor2d(ANCHOR.slice(0, 3).map((v) => [v])),
    [`anchor/${b}`]: tf.tensor1d([ANCHOR[3] as number]),
  };
  return { model, state: { tensors, meta: { taskCount: 1 } } };
}

/** Runs `steps` SGD steps on the penalty alone; returns d = θ − θ* after each step (d[0] = start). */
function penaltyOnlySgd(plugin: Consolidation, steps: number): number[][] {
  const { model, state } = problem();
  plugin.setState(state);
  tf.dispose(Object.values(state.tensors));
  const optimizer = tf.train.sgd(ETA);
  const ctx = handContext(model, optimizer);
  const read = () => [...values(model.params['dense_0/kernel'] as tf.Tensor), ...values(model.params['dense_0/bias'] as tf.Tensor)].map((v, i) => v - (ANCHOR[i] as number));
  const out = [read()];
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      const pen = plugin.penalty(ctx);
      if (!pen) throw new Error('no penalty');
      const named: tf.NamedTensorMap = {};
      for (const [n, g] of Object.entries(pen.grads)) named[(model.params[n] as tf.Variable).name] = g;
      optimizer.applyGradients(named);
    });
    out.push(read());
  }
  optimizer.dispose();
  model.dispose();
  plugin.dispose();
  return out;
}

describe('the quadratic instability of paper 2', () => {
  it('ηλI > 1: plain EWC oscillates and diverges by the factor 1 − 2ηλI; stabilised EWC converges without overshoot by 1/(1 + ηλI)', () => {
    const lambda = 15; // ηλI = 1.5, 3, 6, 0.75
    const plain = penaltyOnlySgd(ewc({ lambda }), 8);
    const stable = penaltyOnlySgd(stabilizedEwc({ lambda, learningRate: ETA }), 40);
    IMPORTANCE.forEach((imp, i) => {
      const x = ETA * lambda * imp;
      const plainFactor = 1 - 2 * x; // hand-computed: −2, −5, −11, −0.5
      const stableFactor = 1 / (1 + x); // 0.4, 0.25, 1/7, 0.571
      for (let s = 0; s < 4; s++) {
        const p = plain.map((d) => d[i] as number);
        expect((p[s + 1] as number) / (p[s] as number), `plain entry ${i} step ${s}`).toBeCloseTo(plainFactor, 3);
        expect(Math.sign(p[s + 1] as number)).toBe(-Math.sign(p[s] as number)); // crosses the anchor every step
        const q = stable.map((d) => d[i] as number);
        expect((q[s + 1] as number) / (q[s] as number), `stabilised entry ${i} step ${s}`).toBeCloseTo(stableFactor, 3);
      }
      const p0 = Math.abs(plain[0]?.[i] as number);
      const p8 = Math.abs(plain[8]?.[i] as number);
      if (x > 1)
        expect(p8 / p0).toBeGreaterThan(Math.abs(plainFactor) ** 8 * 0.99); // ≥ 2⁸ = 256 times further from θ*
      else expect(p8 / p0).toBeLessThan(1); // ηλI = 0.75: still oscillates (|1 − 2x| < 1), but shrinks
      // stabilised: |d| shrinks monotonically, never changes sign, and reaches θ* (to float32 precision)
      const q = stable.map((d) => d[i] as number);
      for (let s = 0; s < q.length - 1; s++) {
        expect(Math.abs(q[s + 1] as number)).toBeLessThanOrEqual(Math.abs(q[s] as number));
        if (q[s + 1] !== 0) expect(Math.sign(q[s + 1] as number)).toBe(Math.sign(START_OFFSET[i] as number));
      }
      expect(Math.abs(q[40] as number)).toBeLessThan(1e-6);
    });
  });

  it('ηλI ≪ 1: stabilised EWC and plain EWC (c = λ/2·I) follow the same trajectory', () => {
    const lambda = 0.02; // ηλI = 0.002, 0.004, 0.008, 0.001
    const steps = 50;
    const plain = penaltyOnlySgd(ewc({ lambda, convention: 'half-lambda' }), steps);
    const stable = penaltyOnlySgd(stabilizedEwc({ lambda, learningRate: ETA }), steps);
    IMPORTANCE.forEach((imp, i) => {
      const x = ETA * lambda * imp;
      const d0 = START_OFFSET[i] as number;
      // hand-computed: (1 − x)^N against (1 + x)^−N; they differ by about N·x² relative
      const wantPlain = d0 * (1 - x) ** steps;
      const wantStable = d0 / (1 + x) ** steps;
      expect(Math.abs((plain[steps]?.[i] as number) - wantPlain)).toBeLessThan(2e-6);
      expect(Math.abs((stable[steps]?.[i] as number) - wantStable)).toBeLessThan(2e-6);
      for (let s = 0; s <= steps; s++) {
        const a = plain[s]?.[i] as number;
        const b = stable[s]?.[i] as number;
        expect(Math.abs(a - b) / Math.abs(d0)).toBeLessThan(2 * steps * x * x + 1e-5);
      }
      expect(Math.abs(plain[steps]?.[i] as number)).toBeLessThan(Math.abs(d0)); // both moved toward θ*
    });
  });
});

describe('stabilizedEwc', () => {
  it('takes η from the run when not given, and says so when the run has none', async () => {
    const { trainContinual } = await import('@forgetless/core');
    const tasks = smallTasks(1);
    const model = smallModel(2);
    const optimizer = tf.train.sgd(0.05);
    const plugin = stabilizedEwc({ lambda: 3, importance: { method: 'magnitude' } });
    await trainContinual(model, tasks, { optimizer, iterations: 2, batchSize: 20, learningRate: 0.05, plugins: [plugin] });
    expect(plugin.learningRate).toBe(0.05);
    const term = plugin.terms[0];
    const I = values(term?.importance?.['dense_0/bias'] as tf.Tensor);
    const c = values(term?.coefficient['dense_0/bias'] as tf.Tensor);
    I.forEach((v, j) => expect(c[j]).toBeCloseTo((3 * v) / (2 * (1 + 0.05 * 3 * v)), 6));
    plugin.dispose();
    const bare = stabilizedEwc({ lambda: 3, importance: { method: 'magnitude' } });
    await expect(trainContinual(model, tasks, { optimizer, iterations: 1, batchSize: 20, plugins: [bare] })).rejects.toThrow(
      "stabilizedEwc: the learning rate η is unknown at the end of task 'synthetic-0': pass stabilizedEwc({ learningRate }) or trainContinual's learningRate option",
    );
    bare.dispose();
    expect(() => stabilizedEwc({ lambda: 1, learningRate: 0 })).toThrow('stabilizedEwc: learningRate must be a finite number > 0, got 0');
    expect(() => stabilizedEwc({ lambda: 1, learningRate: -0.1 })).toThrow('learningRate must be a finite number > 0, got -0.1');
    expect(() => stabilizedEwc({ lambda: Number.NaN, learningRate: 0.1 })).toThrow('stabilizedEwc: lambda must be a finite number >= 0, got NaN');
    expect(() => stabilizedEwc({ lambda: 1, mode: 'both' as never })).toThrow("stabilizedEwc: unknown mode 'both' (expected one of 'online', 'separate', 'decay')");
    optimizer.dispose();
    model.dispose();
  });
});
