/**
 * progressLogger: turns `trainContinual`'s progress events (and importances) into log entries.
 * Every event becomes a progress entry; and scalars, at the event's global step:
 *   'step' / 'epoch' with a loss → `loss` (the mean total loss since the previous event, as
 *     `ContinualResult.losses`), `examples_per_second`;
 *   'task' → `accuracy/task_<j>` (R[i][j], tasks numbered from 1), `accuracy/average`, and from the
 *     second task on `forgetting` (Chaudhry et al. 2018) and `bwt` (Lopez-Paz & Ranzato 2017) of R[0..i];
 *   'eval' → `eval_accuracy/task_<j>`.
 * Importances become one histogram per parameter (`importance/<layer>/<parameter>`).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type ProgressEvent, averageForgetting, backwardTransfer } from '@forgetless/core';
import { DEFAULT_BUCKETS, histogram } from './histogram.js';
import type { LogSink, ProgressEntry, TaskMetrics } from './sink.js';

export interface ProgressLoggerOptions {
  /** Wall time in seconds since the Unix epoch (default `Date.now() / 1000`). */
  now?: () => number;
  /** Accuracy rows R[0..k] measured before (a resumed run), so forgetting and BWT cover them. */
  accuracy?: readonly (readonly number[])[];
  /** Buckets per importance histogram (default 30, equal widths). */
  buckets?: number;
  /**
   * Steps trained before (a resumed run: `trainContinual` counts its steps from 0 again): added to
   * every event's step and every histogram's, so the logged curves continue where they stopped.
   */
  stepOffset?: number;
}

export interface ProgressLogger {
  readonly sink: LogSink;
  /** Logs one progress event (pass it as, or call it from, `onProgress`). */
  log(event: ProgressEvent): void;
  /** Logs a histogram per parameter of `importances` at `step` (tags `<prefix>/<parameter>`); reads the tensors, keeps none. */
  logImportances(importances: Readonly<ParamMap>, step: number, prefix?: string): Promise<void>;
  /** The accuracy rows seen so far (R[i][0..i]). */
  readonly accuracy: readonly (readonly number[])[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export function progressLogger(sink: LogSink, options: ProgressLoggerOptions = {}): ProgressLogger {
  const now = options.now ?? (() => Date.now() / 1000);
  const buckets = options.buckets ?? DEFAULT_BUCKETS;
  const rows: number[][] = (options.accuracy ?? []).map((r) => [...r]);
  const offset = options.stepOffset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`progressLogger: stepOffset must be a non-negative integer, got ${offset}`);

  const scalar = (tag: string, value: number | undefined, step: number, wallTime: number) => {
    if (value !== undefined) sink.write({ type: 'scalar', tag, step, value, wallTime });
  };

  /** Average accuracy, forgetting and BWT of R[0..i], once rows 0..i are all known. */
  const taskMetrics = (i: number, accuracies: readonly number[]): TaskMetrics => {
    rows[i] = [...accuracies];
    const out: TaskMetrics = { averageAccuracy: mean(accuracies.slice(0, i + 1)) };
    if (i < 1) return out;
    const R: number[][] = [];
    for (let l = 0; l <= i; l++) {
      const row = rows[l];
      if (!row) return out;
      R.push(Array.from({ length: i + 1 }, (_, j) => row[j] ?? Number.NaN));
    }
    return { ...out, forgetting: averageForgetting(R), bwt: backwardTransfer(R) };
  };

  return {
    sink,
    get accuracy() {
      return rows;
    },
    log(raw) {
      const wallTime = now();
      const event = offset ? { ...raw, step: raw.step + offset } : raw;
      const metrics = event.kind === 'task' && event.accuracies ? taskMetrics(event.taskIndex, event.accuracies) : {};
      const entry: ProgressEntry = { type: 'progress', wallTime, event, ...metrics };
      sink.write(entry);
      const s = event.step;
      if (event.kind === 'step' || event.kind === 'epoch') {
        scalar('loss', event.loss, s, wallTime);
        scalar('examples_per_second', event.examplesPerSecond, s, wallTime);
      } else if (event.kind === 'task') {
        event.accuracies?.forEach((a, j) => scalar(`accuracy/task_${j + 1}`, a, s, wallTime));
        scalar('accuracy/average', metrics.averageAccuracy, s, wallTime);
        scalar('forgetting', metrics.forgetting, s, wallTime);
        scalar('bwt', metrics.bwt, s, wallTime);
      } else if (event.kind === 'eval') {
        event.accuracies?.forEach((a, j) => scalar(`eval_accuracy/task_${j + 1}`, a, s, wallTime));
      }
    },
    async logImportances(importances, step, prefix = 'importance') {
      const wallTime = now();
      for (const [name, t] of Object.entries(importances)) {
        const values = await (t as tf.Tensor).data();
        sink.write({ type: 'histogram', tag: `${prefix}/${name}`, step: step + offset, histogram: histogram(values as ArrayLike<number>, buckets), wallTime });
      }
    },
  };
}
