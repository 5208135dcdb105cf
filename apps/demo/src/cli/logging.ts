/**
 * `forgetless run --log tensorboard,csv,jsonl`: each run (method × λ × seed) streams its progress
 * events into its own folder `<out>/logs/<method>_lambda<λ>_seed<s>/` (a TensorBoard event file,
 * progress.csv, progress.jsonl), so `tensorboard --logdir <out>/logs` shows the runs side by side.
 * A run's logger is a plugin after the method's own (importance histograms after each task); its
 * progress events come from the runner's events.
 */
import { join } from 'node:path';
import type { Plugin } from '@forgetless/core';
import { type LoggerPlugin, loggerPlugin } from '@forgetless/loggers';
import { LOG_FORMATS, type LogFormat, runLogSinks } from '@forgetless/loggers/node';
import type { ExperimentEvent, RunOptions, RunState } from '@forgetless/experiments';
import { usage } from './errors.js';

/** `tensorboard,csv` → the formats, or a usage error naming the bad value. */
export function parseLogFormats(text: string): LogFormat[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw usage(`--log: expected formats like ${LOG_FORMATS.join(',')}, got '${text}'`);
  for (const p of parts) if (!(LOG_FORMATS as readonly string[]).includes(p)) throw usage(`--log: unknown format '${p}' (expected ${LOG_FORMATS.join(', ')})`);
  return [...new Set(parts)] as LogFormat[];
}

/** A run's folder name: `ewc-fis_lambda41_seed0` (characters other than letters, digits and . _ @ + - become -). */
export function runLogName(run: { label: string; lambda: number; seed: number }): string {
  return `${run.label}_lambda${run.lambda}_seed${run.seed}`.replace(/[^A-Za-z0-9._@+-]/g, '-');
}

export interface ExperimentLogs {
  /** The folder holding one folder per run. */
  readonly dir: string;
  /** Route the runner's events here. */
  onEvent(e: ExperimentEvent): void;
  /** `RunOptions.observers`: the run's logger plugin. */
  observers: NonNullable<RunOptions['observers']>;
  /** Flushes and closes every run's files. */
  close(): Promise<void>;
}

/**
 * The logs of an experiment's runs under `dir`. `resumed`: the run a `--resume` continues (the
 * checkpoint's), whose logger counts on from the steps it trained before (the files are appended to)
 * and knows the accuracy rows measured before, for forgetting and BWT.
 */
export function experimentLogs(dir: string, formats: readonly LogFormat[], resumed?: Pick<RunState, 'run' | 'taskIndex' | 'previous'>): ExperimentLogs {
  const loggers = new Map<number, LoggerPlugin>();
  const continued = (run: number) =>
    resumed && resumed.run === run
      ? {
          stepOffset: resumed.previous.timings.slice(0, resumed.taskIndex + 1).reduce((n, t) => n + t.steps, 0),
          accuracy: resumed.previous.accuracy.slice(0, resumed.taskIndex + 1),
        }
      : {};
  const closing: Promise<void>[] = [];
  const loggerFor = (run: { run: number; label: string; lambda: number; seed: number }, plugins: readonly Plugin[] = []) => {
    let logger = loggers.get(run.run);
    if (!logger) {
      logger = loggerPlugin(runLogSinks(join(dir, runLogName(run)), formats), { importances: plugins, ...continued(run.run) });
      loggers.set(run.run, logger);
    }
    return logger;
  };
  return {
    dir,
    onEvent(e) {
      if (e.kind === 'progress') loggerFor(e).onProgress(e.event);
      else if (e.kind === 'run-end') {
        const logger = loggers.get(e.run);
        loggers.delete(e.run);
        if (logger) closing.push(logger.close());
      }
    },
    observers: (run, plugins) => [loggerFor(run, plugins)],
    async close() {
      for (const logger of loggers.values()) closing.push(logger.close());
      loggers.clear();
      await Promise.all(closing);
    },
  };
}
