import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressEvent } from '@forgetless/core';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { CSV_COLUMNS } from './lines.js';
import { csvSink, jsonlSink, runLogSinks } from './node.js';
import type { ProgressEntry } from './sink.js';

const dir = mkdtempSync(join(tmpdir(), 'forgetless-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { taskIndex: 0, taskName: 'permuted 1, "a"', epoch: 0, stepsInTask: 40, elapsedMs: 12.5 };
const events: ProgressEvent[] = [
  { ...base, kind: 'step', step: 20, taskStep: 20, loss: 1.2345678901234567, examplesPerSecond: 1000.5 },
  {
    ...base,
    kind: 'warning',
    step: 25,
    taskStep: 25,
    warning: { taskIndex: 0, task: 't', step: 25, taskStep: 25, reason: 'loss', value: 1e9, message: 'task 1 step 25: the loss reached 1.00e+9,\nblowing up' },
  },
  { ...base, kind: 'task', step: 40, taskStep: 40, accuracies: [0.91] },
  { ...base, taskIndex: 1, kind: 'task', step: 80, taskStep: 40, accuracies: [0.8, 0.95] },
  { ...base, kind: 'step', step: 81, taskStep: 1, loss: Number.NaN },
];
const entries: ProgressEntry[] = events.map((event, k) => ({
  type: 'progress',
  wallTime: 1_700_000_000 + k / 3,
  event,
  ...(k === 3 ? { averageAccuracy: 0.875, forgetting: 0.11, bwt: -0.11 } : {}),
}));

describe('CSV and JSON Lines sinks', () => {
  it('write one line per progress event that parses back to it', async () => {
    const csv = csvSink(join(dir, 'a', 'progress.csv'), { flushMs: 5 });
    const jsonl = jsonlSink(join(dir, 'a', 'progress.jsonl'), { flushMs: 5 });
    for (const e of entries) {
      csv.write(e);
      jsonl.write(e);
      csv.write({ type: 'scalar', tag: 'loss', step: 1, value: 1, wallTime: 1 }); // not a line
    }
    await new Promise((r) => setTimeout(r, 30)); // written in the background already
    expect(readFileSync(jsonl.file, 'utf8').split('\n')).toHaveLength(entries.length + 1);
    await Promise.all([csv.close(), jsonl.close()]);

    const rows = parse(readFileSync(csv.file, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0] ?? {})).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(entries.length);
    rows.forEach((r, k) => {
      const { event: e, wallTime } = entries[k] as ProgressEntry;
      const num = (s: string | undefined) => (s === '' || s === undefined ? undefined : Number(s));
      expect(Number(r.wall_time)).toBe(wallTime);
      expect(r.kind).toBe(e.kind);
      expect(r.task_name).toBe(e.taskName);
      expect([num(r.task_index), num(r.epoch), num(r.step), num(r.task_step), num(r.steps_in_task), num(r.elapsed_ms)]).toEqual([
        e.taskIndex,
        e.epoch,
        e.step,
        e.taskStep,
        e.stepsInTask,
        e.elapsedMs,
      ]);
      expect(num(r.loss)).toEqual(e.loss);
      expect(num(r.examples_per_second)).toBe(e.examplesPerSecond);
      expect(r.accuracies === '' ? undefined : r.accuracies?.split(' ').map(Number)).toEqual(e.accuracies);
      expect(r.message === '' ? undefined : r.message).toBe(e.warning?.message);
    });
    expect([rows[3]?.average_accuracy, rows[3]?.forgetting, rows[3]?.bwt].map(Number)).toEqual([0.875, 0.11, -0.11]);

    const lines = readFileSync(jsonl.file, 'utf8').trimEnd().split('\n');
    const parsed = lines.map((l) => JSON.parse(l));
    parsed.forEach((p, k) => {
      const { type: _, event, ...rest } = entries[k] as ProgressEntry;
      expect(p).toEqual(JSON.parse(JSON.stringify({ ...event, ...rest })));
    });
    expect(parsed[0]).toEqual({ wallTime: entries[0]?.wallTime, ...events[0] });
    expect(parsed[4].loss).toBeNull(); // NaN is not JSON
  });

  it('append to an existing CSV without a second header; runLogSinks makes the three files', async () => {
    const file = join(dir, 'b.csv');
    for (let round = 0; round < 2; round++) {
      const s = csvSink(file);
      s.write(entries[0] as ProgressEntry);
      await s.close();
    }
    expect(parse(readFileSync(file, 'utf8'), { columns: true })).toHaveLength(2);
    const run = runLogSinks(join(dir, 'run'), ['tensorboard', 'csv', 'jsonl']);
    run.write(entries[0] as ProgressEntry);
    await run.close?.();
    expect(run.files.map((f) => f.slice(join(dir, 'run').length + 1).replace(/\.\d+\..*$/, ''))).toEqual(['events.out.tfevents', 'progress.csv', 'progress.jsonl']);
    expect(() => run.write(entries[0] as ProgressEntry)).toThrow(/closed/);
  });
});
