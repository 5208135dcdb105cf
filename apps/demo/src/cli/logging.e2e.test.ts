// `forgetless run --log`: one folder of logs per run (method × λ × seed) under <out>/logs, each with a
// TensorBoard event file, progress.csv and progress.jsonl holding every progress event; a bad value
// is a one-line usage error before any work. (The event files' format is checked by
// @forgetless/loggers' tests, which read them back with protobufjs.)
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBuilt, runCli, startCli, tinyRun, waitFor } from './cli-process.test-util.js';

let dir: string;
beforeAll(async () => {
  checkBuilt();
  dir = await mkdtemp(join(tmpdir(), 'forgetless-log-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('forgetless run --log', () => {
  it('writes the three logs per run, every progress event streamed, the accuracies those of results.json', async () => {
    const out = join(dir, 'run');
    const args = tinyRun(out, ['--methods', 'plain,ewc-mas', '--lambda', '3', '--importance-samples', '50', '--log', 'tensorboard,csv,jsonl']);
    const r = await runCli(args, dir);
    expect(r.code, r.stderr).toBe(0);
    const logs = join(out, 'logs');
    expect((await readdir(logs)).sort()).toEqual(['ewc-mas_lambda3_seed0', 'plain_lambda0_seed0']);
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as { runs: { variant: string; accuracy: number[][] }[] };
    for (const run of results.runs) {
      const folder = join(logs, run.variant === 'plain' ? 'plain_lambda0_seed0' : 'ewc-mas_lambda3_seed0');
      const files = await readdir(folder);
      expect(files.filter((f) => f.startsWith('events.out.tfevents.'))).toHaveLength(1);
      const jsonl = (await readFile(join(folder, 'progress.jsonl'), 'utf8'))
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      const tasks = jsonl.filter((e) => e.kind === 'task');
      expect(tasks.map((e) => e.accuracies)).toEqual(run.accuracy.map((row, i) => row.slice(0, i + 1)));
      expect(tasks[1].forgetting).toBeCloseTo(run.accuracy[0]![0]! - run.accuracy[1]![0]!, 12);
      expect(jsonl.filter((e) => typeof e.loss === 'number').map((e) => e.kind)).toEqual(['epoch', 'epoch']); // 5 steps a task, events every 10
      const csv = (await readFile(join(folder, 'progress.csv'), 'utf8')).trimEnd().split('\n');
      expect(csv).toHaveLength(jsonl.length + 1);
      const events = await readFile(join(folder, files.find((f) => f.startsWith('events.out.tfevents.')) as string));
      const text = events.toString('latin1');
      expect(text).toContain('brain.Event:2');
      for (const tag of ['loss', 'accuracy/task_1', 'accuracy/task_2', 'accuracy/average', 'forgetting', 'bwt']) expect(text).toContain(tag);
      expect(text.includes('importance/dense_0/kernel')).toBe(run.variant !== 'plain');
    }
  });

  it('refuses a bad --log value in one line naming it, before the folder is made', async () => {
    const out = join(dir, 'bad');
    const r = await runCli(tinyRun(out, ['--log', 'tensorboard,xml']), dir);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("forgetless: --log: unknown format 'xml' (expected tensorboard, csv, jsonl)");
    expect(existsSync(out)).toBe(false);
  });

  it('continues the logged steps after --resume (a run killed after its first task): each task ends at its own step, as in one go', async () => {
    const out = join(dir, 'resumed');
    const iterations = 60;
    const args = ['run', '--backend', 'cpu', '--dataset', 'embedded', '--tasks', '3', '--model', '784-16-10', '--methods', 'plain', '--iterations', String(iterations)];
    const more = ['--train-limit', '500', '--eval-limit', '100', '--seeds', '0', '--out', out, '--quiet', '--log', 'jsonl,csv'];
    const child = startCli([...args, ...more], dir);
    const state = join(out, 'checkpoint', 'state.json');
    const hasCurrent = () => {
      try {
        return existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).current !== undefined;
      } catch {
        return false; // being written
      }
    };
    await waitFor(hasCurrent, child, 'a checkpoint after the first task');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('close', resolve));
    expect(existsSync(join(out, 'results.json')), 'killed before the end').toBe(false);
    const r = await runCli(['run', '--resume', out, '--quiet', '--log', 'jsonl,csv'], dir);
    expect(r.code, r.stderr).toBe(0);
    const folder = join(out, 'logs', 'plain_lambda0_seed0');
    const lines = (await readFile(join(folder, 'progress.jsonl'), 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; step: number; taskIndex: number; taskStep: number });
    // every event's step is the run's: the steps of the tasks before plus the step within the task
    for (const e of lines) expect(e.step, `${e.kind} of task ${e.taskIndex + 1}`).toBe(e.taskIndex * iterations + e.taskStep);
    const ends = lines.filter((e) => e.kind === 'task');
    expect(ends.at(-1)?.step).toBe(3 * iterations);
    // (what the killed process buffered in its last second is lost; the resumed tasks are all there)
    expect(ends.at(-1)?.taskIndex).toBe(2);
    const csv = (await readFile(join(folder, 'progress.csv'), 'utf8')).trimEnd().split('\n');
    const stepColumn = (csv[0] as string).split(',').indexOf('step');
    expect(csv.slice(1).map((l) => Number(l.split(',')[stepColumn]))).toEqual(lines.map((e) => e.step));
  });
});
