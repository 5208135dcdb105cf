/**
 * What a logger writes, and where: entries (a progress event with the metrics derived from it, a
 * scalar, a histogram) go to sinks. A sink keeps the entries its format holds: CSV and JSON Lines the
 * progress entries, TensorBoard the scalars and histograms. `memorySink` keeps them all (browser-safe);
 * the file sinks are in `@forgetless/loggers/node`.
 */
import type { ProgressEvent } from '@forgetless/core';
import type { Histogram } from './histogram.js';

/** Metrics derived from the accuracy matrix R so far, on 'task' events. */
export interface TaskMetrics {
  /** Mean of R[i][0..i] (the accuracies of the event). */
  averageAccuracy?: number;
  /** Chaudhry et al. 2018 average forgetting of R[0..i] (from the second task on, with every earlier row seen). */
  forgetting?: number;
  /** Lopez-Paz & Ranzato 2017 backward transfer of R[0..i] (as `forgetting`). */
  bwt?: number;
}

/** A training loop's progress event as it happened; `wallTime` in seconds since the Unix epoch. */
export interface ProgressEntry extends TaskMetrics {
  type: 'progress';
  wallTime: number;
  event: ProgressEvent;
}

export interface ScalarEntry {
  type: 'scalar';
  tag: string;
  /** The run's global step (`ProgressEvent.step`). */
  step: number;
  value: number;
  wallTime: number;
}

export interface HistogramEntry {
  type: 'histogram';
  tag: string;
  step: number;
  histogram: Histogram;
  wallTime: number;
}

export type LogEntry = ProgressEntry | ScalarEntry | HistogramEntry;

export interface LogSink {
  /** Takes one entry; a file sink buffers it and writes within its flush interval. */
  write(entry: LogEntry): void;
  /** Writes what is buffered. */
  flush?(): Promise<void>;
  /** Flushes and releases the sink (files closed); later writes are refused. */
  close?(): Promise<void>;
}

/** Keeps every entry in `entries` (browser-safe; for tests, a page, or a later export). */
export function memorySink(): LogSink & { readonly entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return { entries, write: (e) => void entries.push(e) };
}

/** One sink writing to several. */
export function teeSink(sinks: readonly LogSink[]): LogSink {
  const all = [...sinks];
  return {
    write: (e) => {
      for (const s of all) s.write(e);
    },
    flush: async () => {
      await Promise.all(all.map((s) => s.flush?.()));
    },
    close: async () => {
      const results = await Promise.allSettled(all.map((s) => s.close?.()));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
