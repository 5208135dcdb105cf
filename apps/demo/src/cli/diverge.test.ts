// A run whose loss or weights became NaN is marked diverged at the step it happened, never shown as an
// accuracy, never ranked: in the runner's record, the summary, the stdout table, report.md, the charts,
// the progress lines and the page's summary cells.
import * as tf from '@tensorflow/tfjs-core';
import { type Task, syntheticPermutedTasks } from '@forgetless/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { summaryTable } from './run-command.js';
import { progressReporter } from './progress.js';
import { reportMarkdown } from '../report/markdown.js';
import { averageAccuracySpec, matrixSpec } from '@forgetless/experiments';
import type { ExperimentConfig } from '@forgetless/experiments';
import { type ExperimentEvent, type ExperimentResult, runExperiment } from '@forgetless/experiments';
import { recordCells, summarize } from '@forgetless/experiments';

let tasks: Task[];
beforeAll(() => {
  tasks = syntheticPermutedTasks({ numTasks: 2, features: 32, numClasses: 5, trainPerClass: 60, testPerClass: 30, seed: 3 });
});

const config = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({
  name: 'test',
  data: { dataset: 'synthetic', sequence: 'permuted', numTasks: 2 },
  model: '32-24-5',
  optimizer: 'sgd',
  learningRate: 0.1,
  iterations: 12,
  batchSize: 20,
  seeds: [0],
  variants: [{ method: 'plain', lambdas: [0] }],
  importanceLimit: 100,
  backend: 'cpu',
  ...over,
});

describe('a run that diverges', () => {
  let result: ExperimentResult;
  const events: ExperimentEvent[] = [];
  let leaked = 0;
  beforeAll(async () => {
    const before = tf.memory().numTensors;
    // plain at lr 1e30 diverges in task 1; l2 at λ 1e30 trains task 1 normally (no anchor yet), then diverges in task 2
    result = await runExperiment(config({ learningRate: 1e30, variants: [{ method: 'plain', lambdas: [0] }] }), { tasks, onEvent: (e) => events.push(e) });
    const l2 = await runExperiment(
      config({
        variants: [
          { method: 'plain', lambdas: [0] },
          { method: 'l2', lambdas: [1e30, 0.01] },
        ],
      }),
      { tasks, onEvent: (e) => events.push(e) },
    );
    result = { ...l2, runs: [{ ...(result.runs[0] as ExperimentResult['runs'][number]), index: 99, variant: 'plain@1e30' }, ...l2.runs] };
    leaked = tf.memory().numTensors - before;
  });

  it('is marked at the step, with the parameter, and no accuracy of the NaN model is recorded', () => {
    expect(leaked).toBe(0);
    const plain = result.runs[0];
    expect(plain?.diverged).toBe("diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN)");
    expect(plain?.divergence).toMatchObject({ taskIndex: 0, task: tasks[0]?.name, step: 2, taskStep: 2, reason: 'loss', parameter: 'dense_0/kernel' });
    expect(plain?.accuracy).toEqual([]);
    expect(plain?.finalAverage).toBeNaN();
    expect(plain?.forgetting).toBeNaN();
    expect(plain?.bwt).toBeNaN();
    const l2 = result.runs.find((r) => r.variant === 'l2' && r.lambda === 1e30);
    expect(l2?.divergence).toMatchObject({ taskIndex: 1, reason: 'loss' });
    expect(l2?.diverged).toMatch(/^diverged at task 2 step \d+ \(loss = (NaN|Infinity)/);
    // the row measured before the divergence is kept, as a real accuracy
    expect(l2?.accuracy).toHaveLength(1);
    expect(l2?.accuracy[0]?.[0]).toBeGreaterThan(0.3);
    expect(l2?.finalAverage).toBeNaN();
    expect(result.runs.find((r) => r.variant === 'l2' && r.lambda === 0.01)?.diverged).toBeUndefined();
    // the runner forwards the loop's 'diverged' event
    expect(events.some((e) => e.kind === 'progress' && e.event.kind === 'diverged' && e.event.diverged?.step === 2)).toBe(true);
  });

  it('the summary never ranks it and shows no accuracy for it', () => {
    const summaries = summarize(result);
    const plain = summaries.find((s) => s.variant === 'plain@1e30');
    expect(plain?.best.diverged).toBe(1);
    expect(plain?.best.curve.every((s) => Number.isNaN(s.mean))).toBe(true);
    expect(plain?.best.matrix.flat().every((a) => Number.isNaN(a))).toBe(true);
    expect(plain?.best.divergence?.message).toBe("diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN)");
    const l2 = summaries.find((s) => s.variant === 'l2');
    expect(l2?.best.lambda).toBe(0.01);

    const table = summaryTable(summaries, 2);
    const line = table.split('\n').find((l) => l.startsWith('plain@1e30')) ?? '';
    expect(line).not.toMatch(/\d\.\d{3}/);
    expect(line).toMatch(/—/);
    expect(line).toContain("diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN)");
    expect(table).not.toContain('NaN  ');
  });

  it('report.md and the charts say diverged, with — for accuracies', () => {
    const summaries = summarize(result);
    const md = reportMarkdown({ result, summaries, data: 'synthetic', seconds: 1 });
    const row = md.split('\n').find((l) => l.startsWith('| plain@1e30 |')) ?? '';
    expect(row).toContain("diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN)");
    expect(row).not.toMatch(/\d\.\d{3}/);
    expect(md).toContain('## Diverged runs');
    expect(md).toMatch(/\| plain@1e30 \| 0 \| diverged at task 1 step 2 \(loss = NaN; parameter 'dense_0\/kernel' = NaN\) \|/);
    expect(md).not.toMatch(/NaN \|/);
    const plain = summaries.find((s) => s.variant === 'plain@1e30');
    const avg = averageAccuracySpec(summaries) as { data: { values: { method: string; mean: number | null }[] } };
    expect(avg.data.values.filter((v) => v.method.startsWith('plain@1e30')).every((v) => v.mean === null && v.method.endsWith('(diverged)'))).toBe(true);
    expect(String((matrixSpec(plain?.best as NonNullable<typeof plain>['best']) as { title: string }).title)).toContain('diverged at task 1 step 2');
  });

  it('progress says where it diverged, and warns of blow-ups', () => {
    const lines: string[] = [];
    const p = progressReporter({ bars: false, write: (l) => lines.push(l) });
    for (const e of events) p.onEvent(e);
    p.stop();
    expect(lines.some((l) => l.startsWith("  diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN): no accuracy is reported for this run ("))).toBe(true);
    // l2 at λ 1e30: the penalty's loss blows up at task 2's second step, then is NaN at its third
    expect(lines.some((l) => /^ {2}warning: task 2 step 2: the loss reached [\d.]+e\+\d+, [\d.]+e\+\d+× its value at the task's first step \(blowing up\)$/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith("  diverged at task 2 step 3 (loss = NaN; parameter 'dense_0/kernel' = NaN)"))).toBe(true);
    expect(lines.some((l) => /^ {2}done: average accuracy/.test(l) && l.includes('NaN'))).toBe(false);
  });

  it('the page shows "diverged" and "—" for it', () => {
    const plain = result.runs[0] as ExperimentResult['runs'][number];
    expect(recordCells(plain)).toEqual({ final: 'diverged', forgetting: '—', bwt: '—', title: "diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN)" });
    const ok = result.runs.find((r) => r.variant === 'l2' && r.lambda === 0.01) as ExperimentResult['runs'][number];
    expect(recordCells(ok).final).toMatch(/^0\.\d{3}$/);
  });
});
