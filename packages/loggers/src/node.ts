/**
 * Node-only (`@forgetless/loggers/node`): sinks that stream to files, append-only, written in the
 * background every `flushMs` (1 s by default) and on `flush()` / `close()`:
 * - `tensorboardSink(dir)`: `<dir>/events.out.tfevents.<seconds>.<hostname>`, a TensorBoard event
 *   file (scalars and histograms; `tensorboard --logdir` on `dir` or a folder above it);
 * - `csvSink(file)`, `jsonlSink(file)`: one line per progress event (a header first in a new CSV);
 * - `runLogSinks(dir, formats)`: those of `formats` in one folder (progress.csv, progress.jsonl).
 */
import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Appender, type AppenderOptions } from './appender.js';
import { fileVersionRecord, histogramRecord, scalarRecord } from './event.js';
import { csvHeader, csvLine, jsonLine } from './lines.js';
import { type LogSink, teeSink } from './sink.js';

export type { AppenderOptions as FileSinkOptions } from './appender.js';

export const LOG_FORMATS = ['tensorboard', 'csv', 'jsonl'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface FileSink extends LogSink {
  /** The file written. */
  readonly file: string;
  flush(): Promise<void>;
  close(): Promise<void>;
}

function fileSink(appender: Appender, write: LogSink['write']): FileSink {
  return { file: appender.file, write, flush: () => appender.flush(), close: () => appender.close() };
}

export interface TensorboardSinkOptions extends AppenderOptions {
  /** Wall time in seconds of the file's name and first event (default now). */
  wallTime?: number;
}

/** A TensorBoard event file in `dir` (created if missing); a name taken already gets a `.1`, `.2`, ... suffix. */
export function tensorboardSink(dir: string, options: TensorboardSinkOptions = {}): FileSink {
  const wallTime = options.wallTime ?? Date.now() / 1000;
  const base = join(dir, `events.out.tfevents.${Math.floor(wallTime)}.${hostname()}`);
  let file = base;
  for (let k = 1; existsSync(file); k++) file = `${base}.${k}`;
  const out = new Appender(file, options);
  out.push(fileVersionRecord(wallTime));
  return fileSink(out, (e) => {
    if (e.type === 'scalar') out.push(scalarRecord(e.tag, e.value, e.step, e.wallTime));
    else if (e.type === 'histogram') out.push(histogramRecord(e.tag, e.histogram, e.step, e.wallTime));
  });
}

/** CSV of every progress entry, appended to `file` (the header first when the file is new or empty). */
export function csvSink(file: string, options: AppenderOptions = {}): FileSink {
  const fresh = !existsSync(file) || statSync(file).size === 0;
  const out = new Appender(file, options);
  if (fresh) out.push(csvHeader());
  return fileSink(out, (e) => {
    if (e.type === 'progress') out.push(csvLine(e));
  });
}

/** JSON Lines of every progress entry, appended to `file`. */
export function jsonlSink(file: string, options: AppenderOptions = {}): FileSink {
  const out = new Appender(file, options);
  return fileSink(out, (e) => {
    if (e.type === 'progress') out.push(jsonLine(e));
  });
}

/** The sinks of `formats` in the folder `dir`: the event file, `progress.csv`, `progress.jsonl`. */
export function runLogSinks(dir: string, formats: readonly LogFormat[], options: AppenderOptions = {}): LogSink & { readonly files: string[] } {
  const sinks = [...new Set(formats)].map((f) => {
    if (f === 'tensorboard') return tensorboardSink(dir, options);
    if (f === 'csv') return csvSink(join(dir, 'progress.csv'), options);
    if (f === 'jsonl') return jsonlSink(join(dir, 'progress.jsonl'), options);
    throw new Error(`runLogSinks: unknown format '${String(f)}' (expected ${LOG_FORMATS.join(', ')})`);
  });
  return { ...teeSink(sinks), files: sinks.map((s) => s.file) };
}
