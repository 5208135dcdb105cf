/**
 * One line of text per progress entry: JSON Lines (the event's own fields, `wallTime` and the task
 * metrics; non-finite numbers are `null`, as in JSON) and CSV (RFC 4180 quoting; a fixed header;
 * accuracies in one cell separated by spaces; numbers written in full, NaN as `NaN`).
 */
import type { ProgressEntry } from './sink.js';

/** The JSON Lines line of a progress entry (with its trailing newline). */
export function jsonLine(entry: ProgressEntry): string {
  const { type: _, wallTime, event, ...metrics } = entry;
  return `${JSON.stringify({ wallTime, ...event, ...metrics })}\n`;
}

export const CSV_COLUMNS = [
  'wall_time',
  'kind',
  'task_index',
  'task_name',
  'epoch',
  'step',
  'task_step',
  'steps_in_task',
  'loss',
  'examples_per_second',
  'elapsed_ms',
  'accuracies',
  'average_accuracy',
  'forgetting',
  'bwt',
  'message',
] as const;

/** The CSV header line. */
export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\n`;
}

/** A cell, quoted when it holds a comma, a quote or a line break (quotes doubled). */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The CSV line of a progress entry, in `CSV_COLUMNS` order (with its trailing newline). */
export function csvLine(entry: ProgressEntry): string {
  const e = entry.event;
  const cells = [
    entry.wallTime,
    e.kind,
    e.taskIndex,
    e.taskName,
    e.epoch,
    e.step,
    e.taskStep,
    e.stepsInTask,
    e.loss,
    e.examplesPerSecond,
    e.elapsedMs,
    e.accuracies?.join(' '),
    entry.averageAccuracy,
    entry.forgetting,
    entry.bwt,
    e.warning?.message ?? e.diverged?.message,
  ];
  return `${cells.map(csvCell).join(',')}\n`;
}
