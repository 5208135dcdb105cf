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
