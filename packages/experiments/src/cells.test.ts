import * as tf from '@tensorflow/tfjs-core';
import { type Task, syntheticPermutedTasks } from '@forgetless/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Cell, canonicalJson, combineCells, completedSubset, runCell, sweepCells, sweepId } from './cells.js';
import type { ExperimentConfig } from './config.js';
import { type RunRecord, runExperiment } from './run.js';

let tasks: Task[];
beforeAll(() => {
  tasks = syntheticPermutedTasks({ numTasks: 2, features: 24, numClasses: 4, trainPerClass: 40, testPerClass: 20, seed: 5 });
});

const config = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({
  name: 'cells',
  data: { dataset: 'synthetic', sequence: 'permuted', numTasks: 2 },
  model: '24-16-4',
  optimizer: 'sgd',
  learningRate: 0.1,
  epochs: 1,
  batchSize: 16,
  seeds: [0, 1],
  variants: [
    { method: 'plain', lambdas: [0] },
    { method: 'ewc-mas', lambdas: [1, 10] },
  ],
  importanceLimit: 60,
  backend: 'cpu',
  ...over,
});

/** A record without its wall-clock fields (those differ between any two runs). */
const timeless = (r: RunRecord) => ({ ...r, seconds: 0, timings: r.timings.map((t) => ({ ...t, trainMs: 0, consolidateMs: 0, evalMs: 0 })) });

describe('sweepCells', () => {
  it('one cell per variant × λ × seed, in run order, with ids that depend on what runs and on the data only', async () => {
    const cells = await sweepCells(config(), 'data-a');
    expect(cells.map((c) => [c.label, c.key.lambda, c.key.seed, c.index])).toEqual([
      ['plain', 0, 0, 0],
      ['plain', 0, 1, 1],
      ['ewc-mas', 1, 0, 2],
      ['ewc-mas', 1, 1, 3],
      ['ewc-mas', 10, 0, 4],
      ['ewc-mas', 10, 1, 5],
    ]);
    expect(new Set(cells.map((c) => c.id)).size).toBe(6);
    for (const c of cells) expect(c.id).toMatch(/^[0-9a-f]{64}$/);
    // the same cell in another sweep (other grid, other name) has the same id
    const other = await sweepCells(config({ name: 'renamed', seeds: [1], variants: [{ method: 'ewc-mas', lambdas: [10] }] }), 'data-a');
    expect(other[0]?.id).toBe(cells[5]?.id);
    // other data, another learning rate: other ids
    expect((await sweepCells(config(), 'data-b')).map((c) => c.id).filter((id) => cells.some((c) => c.id === id))).toEqual([]);
    expect((await sweepCells(config({ learningRate: 0.05 }), 'data-a'))[0]?.id).not.toBe(cells[0]?.id);
    expect(await sweepId(cells)).toBe(await sweepId(await sweepCells(config(), 'data-a')));
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 0 }] } })).toBe('{"a":{"c":[3,{"e":0,"f":1}],"d":2},"b":1}');
  });

  it('refuses a sweep without a data fingerprint', async () => {
    await expect(sweepCells(config(), '')).rejects.toThrow(/fingerprint/);
  });
});

describe('runCell and combineCells', () => {
  it('cells run one by one, in reverse order, combine to what runExperiment gives for the whole sweep, leaking nothing', async () => {
    const whole = await runExperiment(config(), { tasks });
    const cells = await sweepCells(config(), 'data-a');
    const before = tf.memory().numTensors;
    const records: RunRecord[] = [];
    const events: number[] = [];
    for (const cell of [...cells].reverse() as Cell[]) {
      const out = await runCell(cell, { tasks, onEvent: (e) => e.kind === 'run-end' && events.push(e.record.index) });
      records.push(out.record);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(events).toEqual([5, 4, 3, 2, 1, 0]);
    const combined = combineCells(config(), tasks, tf.getBackend(), records);
    expect(combined.runs.map(timeless)).toEqual(whole.runs.map(timeless));
    expect(combined.tasks).toEqual(whole.tasks);
    expect(combined.config).toEqual(whole.config);
    expect(whole.runs[2]?.finalAverage).toBeGreaterThan(0.3); // learned something: the comparison is not of empty runs
  });

  it('refuses a missing or a doubled run', async () => {
    const cells = await sweepCells(config({ seeds: [0], variants: [{ method: 'plain', lambdas: [0] }] }), 'data-a');
    const { record } = await runCell(cells[0] as Cell, { tasks });
    expect(() => combineCells(config({ seeds: [0, 1], variants: [{ method: 'plain', lambdas: [0] }] }), tasks, 'cpu', [record])).toThrow(/1 of 2 runs have no result \(runs 1\)/);
    expect(() => combineCells(config({ seeds: [0], variants: [{ method: 'plain', lambdas: [0] }] }), tasks, 'cpu', [record, record])).toThrow(/run 0 is there twice/);
  });
});

describe('completedSubset', () => {
  it('keeps the variant × λ groups with every seed done, re-indexed: they combine to what runExperiment gives for that part of the sweep', async () => {
    const whole = await runExperiment(config(), { tasks });
    // done: plain (both seeds), ewc-mas λ 1 seed 0 only, ewc-mas λ 10 (both seeds)
    const done = whole.runs.filter((r) => r.index !== 3);
    const part = completedSubset(config(), done);
    expect(part.total).toBe(6);
    expect(part.done).toBe(5);
    expect(part.pending).toEqual([{ label: 'ewc-mas', lambda: 1, seedsDone: 1 }]);
    expect(part.config.variants.map((v) => [v.method, v.lambdas])).toEqual([
      ['plain', [0]],
      ['ewc-mas', [10]],
    ]);
    expect(part.records.map((r) => [r.variant, r.lambda, r.seed, r.index])).toEqual([
      ['plain', 0, 0, 0],
      ['plain', 0, 1, 1],
      ['ewc-mas', 10, 0, 2],
      ['ewc-mas', 10, 1, 3],
    ]);
    const combined = combineCells(part.config, tasks, tf.getBackend(), part.records);
    const direct = await runExperiment(part.config, { tasks });
    expect(combined.runs.map(timeless)).toEqual(direct.runs.map(timeless));
  });

  it('with no complete group keeps nothing; refuses a record outside the sweep', async () => {
    const whole = await runExperiment(config({ variants: [{ method: 'plain', lambdas: [0] }] }), { tasks });
    const part = completedSubset(config({ variants: [{ method: 'plain', lambdas: [0] }] }), whole.runs.slice(0, 1));
    expect(part.records).toEqual([]);
    expect(part.pending).toEqual([{ label: 'plain', lambda: 0, seedsDone: 1 }]);
    expect(() => completedSubset(config(), [{ ...(whole.runs[0] as RunRecord), index: 9 }])).toThrow(/index 9, the sweep has runs 0\.\.5/);
  });
});
