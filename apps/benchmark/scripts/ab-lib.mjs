// Shared by the same-process A/B scripts of this folder (op before/after on the same inputs): the load
// average, median (min–max) statistics, the largest relative difference of two outputs, and rounds of
// interleaved timings in alternating order after warm-ups.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';

/** The 1-, 5- and 15-minute load averages. */
export const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** Median, min and max of samples. */
export const stats = (a) => {
  const s = [...a].sort((p, q) => p - q);
  return { med: s[s.length >> 1], min: s[0], max: s[s.length - 1] };
};

/** `median (min–max) ms`. */
export const ms = (t) => `${t.med.toFixed(2)} (${t.min.toFixed(2)}–${t.max.toFixed(2)}) ms`;

/** max |a − b| / max |a| of two tensors' values; disposes both. */
export function maxRelDiff(a, b) {
  const [av, bv] = [a.dataSync(), b.dataSync()];
  let num = 0;
  let den = 0;
  for (let i = 0; i < av.length; i++) {
    num = Math.max(num, Math.abs(av[i] - bv[i]));
    den = Math.max(den, Math.abs(av[i]));
  }
  tf.dispose([a, b]);
  return num / den;
}

/**
 * Times each function of `fns` (each returns a tensor, disposed unread: wasm runs synchronously, so
 * the time is to the op's return) `rounds` times, in alternating order round by round, after `warm`
 * untimed runs of each; returns each one's statistics.
 */
export function interleaved(fns, { rounds, warm }) {
  const names = Object.keys(fns);
  const run = (name) => {
    const t0 = performance.now();
    tf.dispose(fns[name]());
    return performance.now() - t0;
  };
  for (let i = 0; i < warm; i++) for (const n of names) run(n);
  const t = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) for (const n of r % 2 ? [...names].reverse() : names) t[n].push(run(n));
  return Object.fromEntries(names.map((n) => [n, stats(t[n])]));
}

/**
 * Keras's MobileNetV2 (α 0.35 unless `alpha` says otherwise, 96×96×3, 16 blocks, 10 classes, seed 1) built with tfjs-layers and
 * imported into a forgetless model, as the conv-speed step rows run it; the Keras model is disposed.
 */
export async function mobileNetV2Step(alpha = 0.35) {
  const { loadLayersModelFromArtifacts } = await import('@forgetless/core');
  const { mobileNetV2, saveToMemory } = await import('../dist/models/mobilenet-v2.js');
  const keras = mobileNetV2({ alpha, size: 96, blocks: 16, classes: 10, seed: 1 });
  const { model } = await loadLayersModelFromArtifacts(await saveToMemory(keras), 'mn');
  keras.dispose();
  return model;
}

/** A training context for `trainStep` on one task without data (the step reads the model, optimizer, task classes and rng). */
export async function stepContext(model, optimizer) {
  const { Rng } = await import('@forgetless/core');
  const task = { name: 'bench', classes: undefined };
  return { model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) };
}

/**
 * One `trainStep` on (x, y), timed to its loss read back (ms). Throws, naming `what`, when the loss is
 * not finite (diverged) or, with `check`, when the step leaves a tensor behind.
 */
export async function timedStep(what, ctx, x, y, check = true) {
  const { trainStep } = await import('@forgetless/core');
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  const loss = trainStep({ x, y }, ctx, []);
  const v = loss.dataSync()[0];
  const t = performance.now() - t0;
  loss.dispose();
  if (!Number.isFinite(v)) throw new Error(`${what}: loss ${v}, diverged`);
  if (check && tf.memory().numTensors !== before) throw new Error(`${what}: step leaked ${tf.memory().numTensors - before} tensors`);
  return t;
}
