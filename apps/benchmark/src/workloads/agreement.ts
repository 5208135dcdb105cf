/**
 * Agreement across backends: the same seeded computation on every backend, compared with the cpu
 * backend (or the first target when cpu is not in the run). Per backend (`run`): from the same seed,
 * paper 2's MLP takes 10 SGD steps and, from a fresh copy, 10 Adam steps on fixed batches; then its
 * logits on held-out samples and its fast FIS (empirical), MAS (softmax) and SIG importances; paper
 * 2's conv net (width ×0.125: the cpu backend's convolutions are slow) takes 3 SGD steps at batch 8,
 * then its FIS and SIG on 16 examples. The numbers travel as
 * artifacts (from a child process too); `finish` reports, per quantity, the largest relative
 * difference to the reference: max over parameter tensors of ‖a − r‖∞ / ‖r‖∞ (floored, see below).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Sequential, disposeParams, mlp, paper2ConvNet, trainStep } from '@forgetless/core';
import { fisherDiagonal, mas, sig } from '@forgetless/importances';
import { randomImages } from '../data.js';
import type { FinishContext, Row, RunOptions, WorkloadResult } from '../workload.js';
import { benchContext } from './train-step.js';

type Artifacts = Record<string, Float32Array>;

async function record(out: Artifacts, quantity: string, map: ParamMap): Promise<void> {
  for (const [name, t] of Object.entries(map)) out[`${quantity}|${name}`] = Float32Array.from((await t.data()) as Float32Array);
}

async function train(model: Sequential, optimizer: tf.Optimizer, steps: number, batch: number, seed: number): Promise<void> {
  const source = randomImages(steps * batch, model.inputShape, seed);
  const ctx = benchContext(model, optimizer);
  for (const b of source.batches(batch)) {
    const loss = trainStep(b, ctx, []);
    await loss.data();
    tf.dispose([loss, b.x, b.y]);
  }
  optimizer.dispose();
}

export async function runAgreement(opts: RunOptions): Promise<WorkloadResult> {
  const q = opts.quick;
  const out: Artifacts = {};
  const lrelu = { name: 'leakyRelu' as const, alpha: 0.01 };
  const sizes = q ? [784, 30, 15, 10] : [784, 300, 150, 10];
  const held = randomImages(q ? 50 : 200, [784], 11);
  for (const opt of ['sgd', 'adam'] as const) {
    const model = mlp(sizes, { activation: lrelu, seed: 3 });
    try {
      if (opt === 'sgd') await record(out, 'MLP initial parameters', model.params);
      await train(model, opt === 'sgd' ? tf.train.sgd(0.05) : tf.train.adam(1e-3), 10, q ? 20 : 100, 21);
      await record(out, `MLP parameters after 10 ${opt === 'sgd' ? 'SGD' : 'Adam'} steps`, model.params);
      if (opt === 'adam') continue;
      const logits: tf.Tensor[] = [];
      for (const b of held.batches(100)) {
        logits.push(tf.tidy(() => model.apply(b.x)));
        tf.dispose([b.x, b.y]);
      }
      const all = tf.concat(logits);
      await record(out, 'MLP logits after the SGD steps', { logits: all });
      tf.dispose([all, ...logits]);
      for (const [quantity, compute] of [
        ['MLP FIS (fast, empirical)', () => fisherDiagonal(model, held, { batchSize: 100, path: 'fast' })],
        ['MLP MAS (fast, softmax)', () => mas(model, held, { batchSize: 100, path: 'fast' })],
        ['MLP SIG', () => sig(model, held, { batchSize: 100 })],
      ] as const) {
        const map = await compute();
        await record(out, quantity, map);
        disposeParams(map);
      }
    } finally {
      model.dispose();
    }
  }
  const conv = paper2ConvNet({ width: q ? 0.0625 : 0.125, seed: 3 });
  try {
    await train(conv, tf.train.sgd(0.05), 3, q ? 4 : 8, 31);
    await record(out, 'conv net parameters after 3 SGD steps', conv.params);
    const images = randomImages(q ? 8 : 16, [28, 28, 1], 13);
    for (const [quantity, compute] of [
      ['conv net FIS (fast, empirical)', () => fisherDiagonal(conv, images, { batchSize: 8, path: 'fast' })],
      ['conv net SIG', () => sig(conv, images, { batchSize: 8 })],
    ] as const) {
      const map = await compute();
      await record(out, quantity, map);
      disposeParams(map);
    }
  } finally {
    conv.dispose();
  }
  process.stderr.write(`  agreement: ${Object.keys(out).length} tensors recorded\n`);
  return { rows: [], notes: [], artifacts: out };
}

/** Relative differences below this share of a quantity's largest magnitude are float32 roundoff. */
export const FLOOR = 1e-4;

/**
 * max over the quantity's tensors of ‖a − r‖∞ / max(‖r‖∞, FLOOR · max over its tensors of ‖r‖∞),
 * with the tensor where it occurs. The floor keeps tensors that are roundoff themselves (a conv bias
 * followed by batch norm has zero gradient in training mode, so it stays at ~1e-9 from its zero
 * start) from dividing roundoff by roundoff.
 */
export function largestRelativeDifference(a: Artifacts, r: Artifacts, quantity: string): { rel: number; abs: number; where: string; tensors: number } {
  const keys = Object.keys(r).filter((k) => k.startsWith(`${quantity}|`));
  const inf = (xs: Float32Array) => xs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const scale = keys.reduce((m, k) => Math.max(m, inf(r[k] as Float32Array)), 0);
  let rel = 0;
  let abs = 0;
  let where = '';
  for (const key of keys) {
    const ref = r[key] as Float32Array;
    const other = a[key];
    if (!other || other.length !== ref.length) throw new Error(`agreement: '${key}' is missing or has another size on one backend`);
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs((other[i] as number) - (ref[i] as number)));
    const denom = Math.max(inf(ref), FLOOR * scale);
    const d = denom > 0 ? diff / denom : diff === 0 ? 0 : Number.POSITIVE_INFINITY;
    abs = Math.max(abs, diff);
    if (d > rel) {
      rel = d;
      where = key.slice(quantity.length + 1);
    }
  }
  return { rel, abs, where, tensors: keys.length };
}

export async function finishAgreement(ctx: FinishContext): Promise<WorkloadResult> {
  const per = ctx.artifacts.agreement ?? {};
  const targets = ctx.targets.filter((t) => per[t]);
  if (targets.length === 0) return { rows: [], notes: ['No backend ran the agreement workload.'] };
  const refName = targets.includes('cpu') ? 'cpu' : (targets[0] as string);
  const ref = per[refName] as Artifacts;
  const quantities = [...new Set(Object.keys(ref).map((k) => k.split('|')[0] as string))];
  const rows: Row[] = [];
  for (const quantity of quantities) {
    const row: Row = { quantity };
    for (const t of targets) {
      if (t === refName) continue;
      const d = largestRelativeDifference(per[t] as Artifacts, ref, quantity);
      row[`${t} vs ${refName}`] = d.rel === 0 ? 0 : Number(d.rel.toPrecision(3));
      row[`${t}: where`] = d.where || '-';
    }
    rows.push(row);
  }
  const notes = [
    `Reference: ${refName}. Each cell: the largest relative difference, max over the quantity's tensors of ‖a − r‖∞ / ‖r‖∞ (float32 throughout; ‖r‖∞ floored at ${FLOOR} × the quantity's largest magnitude, so that tensors which are themselves roundoff, such as conv biases before batch norm, whose training-mode gradient is zero, do not divide roundoff by roundoff); "where" names that tensor.`,
    'Same seeds on every backend: the models are initialised and the data drawn in JavaScript, so the initial parameters must agree exactly; the rest differs only by the order and kind of float32 arithmetic each backend does.',
  ];
  if (targets.length < 2) notes.push('Only one backend ran: nothing to compare.');
  return { rows, notes };
}
