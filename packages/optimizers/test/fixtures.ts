// Shared fixtures of the optimizers tests: a small MLP problem with fixed batches, the seven tfjs-core
// optimizers, and a runner that records the parameter trajectory through core's trainStep.
import * as tf from '@tensorflow/tfjs-core';
import { type Batch, type ParamMap, type Plugin, type Sequential, type Task, type TrainContext, Rng, mlp, trainStep } from '@forgetless/core';

export const OPTIMIZERS: Record<string, () => tf.Optimizer> = {
  sgd: () => tf.train.sgd(0.1),
  momentum: () => tf.train.momentum(0.05, 0.9),
  adam: () => tf.train.adam(0.01),
  adamax: () => tf.train.adamax(0.01),
  rmsprop: () => tf.train.rmsprop(0.01),
  adagrad: () => tf.train.adagrad(0.1),
  adadelta: () => tf.train.adadelta(1),
};

export const SIZES = [10, 8, 4];

export function model(seed = 3): Sequential {
  return mlp(SIZES, { seed, activation: { name: 'leakyRelu', alpha: 0.01 } });
}

/** `n` fixed batches of 16 examples (the same for every call with the same seed). */
export function batches(n = 4, seed = 11): Batch[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const x = tf.tensor2d(
      Array.from({ length: 16 * (SIZES[0] as number) }, () => rng.normal()),
      [16, SIZES[0] as number],
    );
    const y = tf.tensor1d(
      Array.from({ length: 16 }, () => rng.int(SIZES[2] as number)),
      'int32',
    );
    return { x, y };
  });
}

export function disposeBatches(bs: Batch[]): void {
  for (const b of bs) tf.dispose([b.x, b.y]);
}

export function context(m: Sequential, optimizer: tf.Optimizer): TrainContext {
  const task = { name: 'fixture' } as unknown as Task;
  return { model: m, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) };
}

/** All parameters, flattened in model order. */
export function flat(m: Sequential): Float32Array {
  const parts = Object.values(m.params).map((v) => v.dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Takes `steps` trainStep calls cycling through `bs`; returns θ (flattened) after every step. */
export function trajectory(m: Sequential, optimizer: tf.Optimizer, bs: Batch[], steps: number, plugins: Plugin[] = []): Float32Array[] {
  const ctx = context(m, optimizer);
  const out: Float32Array[] = [];
  for (let s = 0; s < steps; s++) {
    trainStep(bs[s % bs.length] as Batch, ctx, plugins).dispose();
    out.push(flat(m));
  }
  return out;
}

/** Positive random importances shaped like the model's parameters, uniform in [lo, hi). */
export function randomImportances(m: Sequential, seed = 5, lo = 0, hi = 1): ParamMap {
  const out: ParamMap = {};
  let s = seed;
  for (const [name, v] of Object.entries(m.params)) out[name] = tf.randomUniform(v.shape, lo, hi, 'float32', s++);
  return out;
}

/** max |a − b| over entries. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

/** True when every entry is bitwise equal (as float32). */
export function bitwiseEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
