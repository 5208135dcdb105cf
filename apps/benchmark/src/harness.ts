/**
 * The one timing harness of the benchmarks: warm-up, then several timed runs, reporting the median
 * with min and max. Workloads that produce tensors must leave none behind (checked).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface Timing {
  /** Milliseconds per call. */
  median: number;
  min: number;
  max: number;
  runs: number;
}

export interface TimeOptions {
  warmup?: number;
  runs?: number;
  /** Calls per run (the figure is per call); for very short workloads. */
  repeat?: number;
}

function now(): number {
  return performance.now();
}

/**
 * Times `fn` (sync or async). Each run calls `fn` `repeat` times, then waits for the backend
 * to finish (`fn` should return a tensor or a promise of data that is read, so async backends are
 * measured to completion).
 */
export async function timeIt(fn: () => unknown, options: TimeOptions = {}): Promise<Timing> {
  const warmup = options.warmup ?? 2;
  const runs = options.runs ?? 5;
  const repeat = options.repeat ?? 1;
  const settle = async (out: unknown) => {
    const v = await out;
    if (v instanceof tf.Tensor) {
      await v.data();
      v.dispose();
    }
  };
  const before = tf.memory().numTensors;
  for (let i = 0; i < warmup; i++) await settle(fn());
  const samples: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = now();
    for (let i = 0; i < repeat; i++) await settle(fn());
    samples.push((now() - t) / repeat);
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`benchmark workload leaked ${leaked} tensors`);
  samples.sort((a, b) => a - b);
  const mid = Math.floor(samples.length / 2);
  const median = samples.length % 2 ? (samples[mid] as number) : ((samples[mid - 1] as number) + (samples[mid] as number)) / 2;
  return { median, min: samples[0] as number, max: samples[samples.length - 1] as number, runs };
}

/** "12.3 ms (11.9–13.0)" */
export function formatTiming(t: Timing): string {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  return `${f(t.median)} ms (${f(t.min)}–${f(t.max)})`;
}
