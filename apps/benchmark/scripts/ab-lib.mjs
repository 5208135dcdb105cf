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

/**
 * Two builds' runs of one kernel call, `runA` and `runB` (synchronous), timed against each other: 10
 * untimed calls of each, then `rounds` rounds in alternating order, `between()` (e.g. a matMul for the
 * ceiling) after every fourth round; each one's times in ms.
 */
export function alternating(runA, runB, rounds, between) {
  for (let i = 0; i < 10; i++) {
    runA();
    runB();
  }
  const ta = [];
  const tb = [];
  for (let r = 0; r < rounds; r++) {
    const order =
      r % 2
        ? [
            [runA, ta],
            [runB, tb],
          ]
        : [
            [runB, tb],
            [runA, ta],
          ];
    for (const [run, t] of order) {
      const t0 = performance.now();
      run();
      t.push(performance.now() - t0);
    }
    if (r % 4 === 0) between?.();
  }
  return { ta, tb };
}

/** A 1024³ matMul's GFLOP/s per call: the ceiling a step's GFLOP/s is put against, timed in the same rounds. */
export function matmulCeiling() {
  const a = tf.randomUniform([1024, 1024], -1, 1, 'float32', 3);
  const b = tf.randomUniform([1024, 1024], -1, 1, 'float32', 4);
  return () => {
    const t0 = performance.now();
    const m = tf.matMul(a, b);
    m.dataSync();
    const t = performance.now() - t0;
    m.dispose();
    return (2 * 1024 ** 3) / (t / 1e3) / 1e9;
  };
}

/**
 * One case's steps before and after a switch, in one process: `step(after)` runs one timed step (ms)
 * with the switch off (before) or on; `count()`, when given, reads a per-step count (`unit`) after each.
 * `warm` warm-ups of each, then `rounds` rounds in alternating order, each with one call of `ceiling`
 * (`matmulCeiling()`); prints median (min–max) ms, the count, % of the matMul (`gflop` per step) and
 * after/before.
 */
export async function stepAB({ name, gflop, step, count, unit = '', rounds, warm, ceiling, before = 'before', after = 'after' }) {
  for (let i = 0; i < warm; i++) for (const on of [false, true]) await step(on);
  const t = { before: [], after: [] };
  const counts = {};
  const flops = [];
  for (let r = 0; r < rounds; r++) {
    for (const on of r % 2 ? [true, false] : [false, true]) {
      t[on ? 'after' : 'before'].push(await step(on));
      if (count) counts[on ? 'after' : 'before'] = count();
    }
    flops.push(ceiling());
  }
  const [o, n, m] = [stats(t.before), stats(t.after), stats(flops)];
  const pct = (s) => (gflop > 0 ? `${((100 * gflop) / (s.med / 1e3) / m.med).toFixed(1)} %` : 'n/a %');
  const counted = (k) => (count ? `, ${counts[k]} ${unit}` : '');
  console.log(
    `${name}: ${before} ${ms(o)}${counted('before')}, ${pct(o)} of the matMul | ${after} ${ms(n)}${counted('after')}, ${pct(n)} | ` +
      `after/before ${(n.med / o.med).toFixed(3)} | matMul ${m.med.toFixed(1)} (${m.min.toFixed(1)}–${m.max.toFixed(1)}) GFLOP/s`,
  );
}

/** Step cases ({ name, model, opt, x, n, gflop }) with labels `i % 10` for their n examples and a `stepContext` each, in place. */
export async function withStepContexts(cases) {
  for (const c of cases) {
    c.y = tf.tensor1d(
      Array.from({ length: c.n }, (_, i) => i % 10),
      'int32',
    );
    c.ctx = await stepContext(c.model, c.opt);
  }
  return cases;
}

/** `run(on)` with a module switch `set` turned to `on` for it and back on after (a `stepAB` step). */
export function switched(set, run) {
  return async (on) => {
    set(on);
    try {
      return await run(on);
    } finally {
      set(true);
    }
  };
}

/**
 * The largest ‖a − b‖∞ over the tensors of two { name: values } maps, each relative to b's largest |value| or to 1
 * (a β whose gradient cancels to ~0 moves by rounding alone), and the name it came from; throws naming the
 * first non-finite tensor of `a` (`what`).
 */
export function worstDiff(a, b, what) {
  let worst = 0;
  let at = '';
  for (const k of Object.keys(b)) {
    let num = 0;
    let den = 1;
    for (let i = 0; i < b[k].length; i++) {
      num = Math.max(num, Math.abs(a[k][i] - b[k][i]));
      den = Math.max(den, Math.abs(b[k][i]));
    }
    if (!a[k].every(Number.isFinite)) throw new Error(`${what}: ${k} not finite after a step`);
    if (num / den > worst) [worst, at] = [num / den, k];
  }
  return `${worst.toExponential(2)}${at ? ` (${at})` : ''}`;
}
