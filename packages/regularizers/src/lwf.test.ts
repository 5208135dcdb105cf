import * as tf from '@tensorflow/tfjs-core';
import { consolidate, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { distillationLoss, lwf } from './lwf.js';

const softmax = (z: number[], T: number) => {
  const e = z.map((v) => Math.exp(v / T));
  const s = e.reduce((a, b) => a + b);
  return e.map((v) => v / s);
};

describe('LwF', () => {
  it('the distillation loss and its gradient equal a hand computation (per group, λ·T²)', () => {
    const z = [
      [1, -0.5, 2, 0.3],
      [0.2, 0.1, -1, 1.5],
    ];
    const zo = [
      [0.5, 0.5, 1, -1],
      [1, -2, 0.3, 0.7],
    ];
    const groups = [
      [0, 1],
      [2, 3],
    ];
    const lambda = 0.7;
    const T = 2;
    const N = 2;
    const G = 2;
    let want = 0;
    const grad = z.map((row) => row.map(() => 0));
    for (const g of groups) {
      for (let n = 0; n < N; n++) {
        const p = softmax(
          g.map((k) => zo[n]?.[k] as number),
          T,
        );
        const q = softmax(
          g.map((k) => z[n]?.[k] as number),
          T,
        );
        want += -p.reduce((a, pk, i) => a + pk * Math.log(q[i] as number), 0) / N / G;
        g.forEach((k, i) => {
          (grad[n] as number[])[k] = (lambda * T * ((q[i] as number) - (p[i] as number))) / (N * G);
        });
      }
    }
    want *= lambda * T * T;
    const logits = tf.tensor2d(z);
    const old = tf.tensor2d(zo);
    const before = tf.memory().numTensors;
    const got = distillationLoss(logits, old, groups, lambda, T);
    expect(got.dataSync()[0]).toBeCloseTo(want, 6);
    const g = tf.grad((l: tf.Tensor) => distillationLoss(l, old, groups, lambda, T))(logits);
    const gv = g.arraySync() as number[][];
    for (let n = 0; n < N; n++) for (let k = 0; k < 4; k++) expect(gv[n]?.[k]).toBeCloseTo(grad[n]?.[k] as number, 6);
    tf.dispose([got, g]);
    expect(tf.memory().numTensors).toBe(before);
    // one group of all outputs: a softmax over the four
    const all = distillationLoss(logits, old, [null], 1, 1);
    const p0 = softmax(zo[0] as number[], 1);
    const q0 = softmax(z[0] as number[], 1);
    const p1 = softmax(zo[1] as number[], 1);
    const q1 = softmax(z[1] as number[], 1);
    const ce = (p: number[], q: number[]) => -p.reduce((a, pk, i) => a + pk * Math.log(q[i] as number), 0);
    expect(all.dataSync()[0]).toBeCloseTo((ce(p0, q0) + ce(p1, q1)) / 2, 6);
    tf.dispose([all, logits, old]);
  });

  it('in trainContinual: no term on task 1, the old model as soft targets after, state round trip, no leak', async () => {
    const tasks = syntheticPermutedTasks({ numTasks: 2, features: 16, trainPerClass: 10, testPerClass: 5, seed: 4 });
    const model = mlp([16, 12, 10], { seed: 2 });
    const opt = tf.train.sgd(0.1);
    const p = lwf({ lambda: 1, temperature: 2 });
    const before = tf.memory().numTensors;
    const losses: number[] = [];
    const probe = {
      name: 'probe',
      afterStep: (info: { loss: tf.Scalar; taskLoss: tf.Scalar }, ctx: { taskIndex: number }) => {
        losses.push(ctx.taskIndex === 0 ? (info.loss.dataSync()[0] as number) - (info.taskLoss.dataSync()[0] as number) : Number.NaN);
      },
    };
    await trainContinual(model, tasks, { optimizer: opt, iterations: 3, batchSize: 10, plugins: [p, probe] });
    expect(losses.slice(0, 3)).toEqual([0, 0, 0]);
    expect(p.groups).toEqual([null, null]);
    const s = p.getState();
    const q = lwf({ lambda: 1, temperature: 2 });
    q.setState(s);
    expect(q.groups).toEqual([null, null]);
    q.dispose();
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    model.dispose();
  });

  it('right after consolidate the term is zero (the model is its own target) and its gradient vanishes', async () => {
    const tasks = syntheticPermutedTasks({ numTasks: 2, features: 16, trainPerClass: 10, testPerClass: 5, seed: 5 });
    const model = mlp([16, 12, 10], { seed: 3 });
    const p = lwf({ lambda: 2 });
    await consolidate(model, tasks[0] as (typeof tasks)[number], [p]);
    const batch = [...(tasks[1]?.train.batches(8) ?? [])][0] as { x: tf.Tensor; y: tf.Tensor1D };
    const ctx = { model } as never;
    p.transformBatch(batch, ctx);
    const entropy = tf.tidy(() => {
      const logits = model.logits(batch.x);
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.softmax(tf.div(logits, 2)), tf.logSoftmax(tf.div(logits, 2))), -1)));
    });
    const { value, grads } = tf.variableGrads(() => p.lossTerm?.(ctx, { batch, logits: model.logits(batch.x) }) as tf.Scalar);
    // with targets = its own outputs the term is λ·T² times their entropy, at its minimum: zero gradient
    expect(value.dataSync()[0]).toBeCloseTo(8 * (entropy.dataSync()[0] as number), 4);
    for (const g of Object.values(grads)) expect(Math.max(...Array.from(tf.abs(g).dataSync()))).toBeLessThan(1e-5);
    entropy.dispose();
    p.afterStep?.({} as never, ctx);
    tf.dispose([value, ...Object.values(grads), batch.x, batch.y]);
    p.dispose();
    model.dispose();
  });
});
