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
  /**
   * Median CPU time of this process (user + system, every thread) per call, ms, where measured
   * (`timeIt`): close to the wall time for one-threaded work on a quiet machine, and much less
   * affected than it by other processes' load.
   */
  cpuMedian?: number;
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

/** Waits for a workload's result: reads and frees a returned tensor, awaits a promise. */
async function settle(out: unknown): Promise<void> {
  const v = await out;
  if (v instanceof tf.Tensor) {
    await v.data();
    v.dispose();
  }
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
  const before = tf.memory().numTensors;
  for (let i = 0; i < warmup; i++) await settle(fn());
  const samples: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c = process.cpuUsage();
    const t = now();
    for (let i = 0; i < repeat; i++) await settle(fn());
    samples.push((now() - t) / repeat);
    const dc = process.cpuUsage(c);
    cpu.push((dc.user + dc.system) / 1000 / repeat);
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`benchmark workload leaked ${leaked} tensors`);
  return { ...summarize(samples), cpuMedian: summarize(cpu).median };
}

/** Median, min and max of some samples (ms). */
export function summarize(samples: readonly number[]): Timing {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number, runs: s.length };
}

export interface Paired {
  timing: Timing;
  /** Median over rounds of (this − baseline of the same round) / baseline median, in percent (0 for the baseline). */
  overheadPct: number;
}

/**
 * Paired, interleaved timing of variants against a baseline (the first entry): each round calls
 * every entry once, in an order rotated each round, after `warmup` calls of each. Load from other
 * processes is correlated in time, so it largely cancels in the per-round differences; the overhead
 * is the median of those differences over the baseline's median.
 */
export async function pairedRounds(entries: ReadonlyArray<() => unknown>, options: { rounds: number; warmup?: number }): Promise<Paired[]> {
  const samples = entries.map(() => [] as number[]);
  // Warm-up calls may create lasting state (an optimizer's moments), so they are not leak-checked.
  for (const fn of entries) for (let w = 0; w < (options.warmup ?? 2); w++) await settle(fn());
  for (let r = 0; r < options.rounds; r++) {
    for (let k = 0; k < entries.length; k++) {
      const i = (k + r) % entries.length;
      samples[i]?.push((await timeIt(entries[i] as () => unknown, { warmup: 0, runs: 1 })).median);
    }
  }
  const base = samples[0] as number[];
  const baseMedian = summarize(base).median;
  return samples.map((xs, i) => ({
    timing: summarize(xs),
    overheadPct: i === 0 ? 0 : (100 * summarize(xs.map((x, r) => x - (base[r] as number))).median) / baseMedian,
  }));
}

/** "12.3 ms (11.9–13.0)" */
export function formatTiming(t: Timing): string {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  return `${f(t.median)} ms (${f(t.min)}–${f(t.max)})`;
}
