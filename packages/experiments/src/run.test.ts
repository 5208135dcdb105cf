import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Task, arraySource, averageAccuracy, averageForgetting, backwardTransfer, syntheticPermutedTasks } from '@forgetless/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentConfig } from './config.js';
import { type ExperimentEvent, type ExperimentResult, type RunState, type Snapshot, runExperiment } from './run.js';

let tasks: Task[];
beforeAll(() => {
  tasks = syntheticPermutedTasks({ numTasks: 3, features: 32, numClasses: 5, trainPerClass: 60, testPerClass: 30, seed: 3 });
});

const config = (over: Partial<ExperimentConfig> = {}): ExperimentConfig => ({
  name: 'test',
  data: { dataset: 'synthetic', sequence: 'permuted', numTasks: 3 },
  model: '32-24-5',
  optimizer: 'sgd',
  learningRate: 0.1,
  epochs: 2,
  batchSize: 20,
  seeds: [0, 1],
  variants: [
    { method: 'plain', lambdas: [0] },
    { method: 'ewc-mas', lambdas: [1, 10] },
  ],
  importanceLimit: 100,
  backend: 'cpu',
  ...over,
});

const cloneMap = (m: ParamMap): ParamMap => Object.fromEntries(Object.entries(m).map(([k, t]) => [k, tf.clone(t)]));
function cloneState(s: RunState): RunState {
  return {
    ...structuredClone({ ...s, weights: {}, plugins: [], optimizer: { iterations: 0, tensors: {} }, recorder: undefined }),
    weights: cloneMap(s.weights),
    plugins: s.plugins.map((p) => ({ name: p.name, meta: structuredClone(p.meta), tensors: cloneMap(p.tensors) })),
    optimizer: { iterations: s.optimizer.iterations, tensors: cloneMap(s.optimizer.tensors) },
    ...(s.recorder
      ? {
          recorder: {
            records: structuredClone(s.recorder.records),
            trackers: Object.fromEntries(Object.entries(s.recorder.trackers).map(([k, t]) => [k, { name: t.name, meta: structuredClone(t.meta), tensors: cloneMap(t.tensors) }])),
          },
        }
      : {}),
  };
}
function disposeState(s: RunState): void {
  const maps = [s.weights, s.optimizer.tensors, ...s.plugins.map((p) => p.tensors), ...Object.values(s.recorder?.trackers ?? {}).map((t) => t.tensors)];
  for (const m of maps) for (const t of Object.values(m)) t.dispose();
}

describe('runExperiment', () => {
  let result: ExperimentResult;
  const events: ExperimentEvent[] = [];
  let leaked = 0;
  beforeAll(async () => {
    const before = tf.memory().numTensors;
    result = await runExperiment(config(), { tasks, onEvent: (e) => events.push(e) });
    leaked = tf.memory().numTensors - before;
  });

  it('runs variants × λ × seeds and leaves no tensor behind', () => {
    expect(result.runs.map((r) => `${r.variant}/${r.lambda}/${r.seed}`)).toEqual(['plain/0/0', 'plain/0/1', 'ewc-mas/1/0', 'ewc-mas/1/1', 'ewc-mas/10/0', 'ewc-mas/10/1']);
    expect(leaked).toBe(0);
    expect(events.filter((e) => e.kind === 'run-start')).toHaveLength(6);
    expect(events.filter((e) => e.kind === 'progress' && e.event.kind === 'task')).toHaveLength(18);
    // no evaluateEvery: no mid-task evaluations
    expect(events.some((e) => e.kind === 'progress' && e.event.kind === 'eval')).toBe(false);
    expect(result.runs.every((r) => r.curves === undefined)).toBe(true);
  });

  it('records R lower-triangular and the metrics of core on it', () => {
    for (const r of result.runs) {
      expect(r.accuracy).toHaveLength(3);
      r.accuracy.forEach((row, i) => row.forEach((a, j) => (j <= i ? expect(a).toBeGreaterThan(0.2) : expect(a).toBeNaN())));
      expect(r.averageAccuracy).toEqual(averageAccuracy(r.accuracy));
      expect(r.finalAverage).toBe(averageAccuracy(r.accuracy)[2]);
      expect(r.forgetting).toBe(averageForgetting(r.accuracy));
      expect(r.bwt).toBe(backwardTransfer(r.accuracy));
      expect(r.timings.map((t) => t.steps)).toEqual([30, 30, 30]);
    }
    // same seed, same first task: every method sees the same model until the first consolidation
    const firsts = result.runs.filter((r) => r.seed === 0).map((r) => r.accuracy[0]?.[0]);
    expect(new Set(firsts).size).toBe(1);
    // different seeds differ
    expect(result.runs[0]?.accuracy).not.toEqual(result.runs[1]?.accuracy);
  });

  it('EWC keeps more of the first task than plain training at the same seeds', () => {
    const task0AtEnd = (variant: string, lambda: number) =>
      result.runs.filter((r) => r.variant === variant && r.lambda === lambda).reduce((a, r) => a + (r.accuracy[2]?.[0] ?? 0), 0) / 2;
    expect(task0AtEnd('ewc-mas', 10)).toBeGreaterThan(task0AtEnd('plain', 0));
  });
});

describe('evaluateEvery', () => {
  it('forwards eval progress events every N steps of each task and keeps the curves in the record', async () => {
    // 3 tasks × 1 epoch of 300 examples / batch 20 = 15 steps per task; every 4 steps: 4, 8, 12
    const c = config({ epochs: 1, seeds: [0], variants: [{ method: 'plain', lambdas: [0] }], evaluateEvery: 4, evalLimit: 50 });
    const evals: Extract<ExperimentEvent, { kind: 'progress' }>['event'][] = [];
    const before = tf.memory().numTensors;
    const result = await runExperiment(c, { tasks, onEvent: (e) => e.kind === 'progress' && e.event.kind === 'eval' && evals.push(e.event) });
    expect(tf.memory().numTensors, 'no tensor left behind').toBe(before);
    expect(evals.map((e) => [e.taskIndex, e.taskStep, e.step])).toEqual([
      [0, 4, 4],
      [0, 8, 8],
      [0, 12, 12],
      [1, 4, 19],
      [1, 8, 23],
      [1, 12, 27],
      [2, 4, 34],
      [2, 8, 38],
      [2, 12, 42],
    ]);
    for (const e of evals) {
      expect(e.accuracies).toHaveLength(e.taskIndex + 1);
      for (const a of e.accuracies ?? []) {
        expect(a).toBeGreaterThanOrEqual(0);
        expect(a).toBeLessThanOrEqual(1);
      }
    }
    expect(result.runs[0]?.curves).toEqual(evals.map((e) => ({ step: e.step, taskIndex: e.taskIndex, accuracies: e.accuracies })));
  });
});

describe('resume', () => {
  /** Runs uninterrupted while copying the snapshot after `task` of run `run`, then resumes from the copy. */
  async function interruptAndResume(
    c: ExperimentConfig,
    run: number,
    task: number,
    sequence: Task[] = tasks,
  ): Promise<{ full: ExperimentResult; resumed: ExperimentResult; starts: ExperimentEvent[] }> {
    let copy: Snapshot | undefined;
    const full = await runExperiment(c, {
      tasks: sequence,
      checkpoint: {
        save: async (s) => {
          if (s.current?.run === run && s.current.taskIndex === task) copy = { completed: structuredClone(s.completed), current: cloneState(s.current) };
        },
      },
    });
    expect(copy, 'the checkpoint sink saw the snapshot').toBeDefined();
    const starts: ExperimentEvent[] = [];
    const before = tf.memory().numTensors;
    const resumed = await runExperiment(c, { tasks: sequence, resume: copy as Snapshot, onEvent: (e) => e.kind === 'run-start' && starts.push(e) });
    expect(tf.memory().numTensors, 'the resumed run leaves no tensor behind').toBe(before);
    disposeState((copy as Snapshot).current as RunState);
    return { full, resumed, starts };
  }

  it('SGD + EWC (Fisher) and L2: the same accuracy matrices as the uninterrupted run, exactly', async () => {
    const c = config({
      seeds: [4],
      variants: [
        { method: 'ewc-fis', lambdas: [5] },
        { method: 'l2', lambdas: [0.01] },
      ],
    });
    const { full, resumed, starts } = await interruptAndResume(c, 0, 0);
    expect(starts).toEqual([expect.objectContaining({ run: 0, resumedAt: 1 }), expect.objectContaining({ run: 1 })]);
    expect(resumed.runs.map((r) => r.accuracy)).toEqual(full.runs.map((r) => r.accuracy));
  });

  it('Adam + WVA (steps, SIG), stabilised EWC with SI and paper 3 correlations: exactly the same', async () => {
    const c = config({
      optimizer: 'adam',
      learningRate: 0.01,
      seeds: [2],
      correlations: true,
      variants: [
        { method: 'wva-sig', applyTo: 'steps', lambdas: [50] },
        { method: 'sewc-si', lambdas: [0.5] },
      ],
    });
    const { full, resumed } = await interruptAndResume(c, 1, 1);
    expect(resumed.runs.map((r) => r.accuracy)).toEqual(full.runs.map((r) => r.accuracy));
    expect(resumed.runs[1]?.correlations).toEqual(full.runs[1]?.correlations);
    expect(full.runs[1]?.correlations?.length).toBeGreaterThan(0);
  });

  it('LwF with a class-balanced replay memory (snapshot, memory and generator) and PackNet (ownership): exactly the same', async () => {
    const c = config({
      epochs: 1,
      seeds: [3],
      variants: [
        { method: 'lwf', lambdas: [1], replay: { budget: 30, selection: 'class-balanced' } },
        { method: 'packnet', lambdas: [0] },
      ],
    });
    for (const run of [0, 1]) {
      const { full, resumed } = await interruptAndResume(c, run, 1);
      expect(resumed.runs.map((r) => r.accuracy)).toEqual(full.runs.map((r) => r.accuracy));
    }
  });

  /** Three split tasks of two classes (Gaussian clusters), task- or class-incremental. */
  const split = (scenario: 'task' | 'class'): Task[] => {
    const means = Array.from({ length: 6 }, (_, c) => Array.from({ length: 32 }, (_, f) => Math.sin(7 * c + 3 * f)));
    let u = 12345;
    const noise = () => {
      u = (u * 1103515245 + 12345) % 2147483648;
      return u / 2147483648 - 0.5;
    };
    const source = (group: number[], n: number) => {
      const x = new Float32Array(2 * n * 32);
      const y = new Int32Array(2 * n);
      for (let k = 0; k < 2 * n; k++) {
        const c = group[k % 2] as number;
        y[k] = c;
        for (let f = 0; f < 32; f++) x[k * 32 + f] = (means[c]?.[f] as number) + noise();
      }
      return arraySource({ x, y, exampleShape: [32], numClasses: 6 });
    };
    return [
      [0, 1],
      [2, 3],
      [4, 5],
    ].map((g) => ({
      name: `split-${g.join('-')}`,
      train: source(g, 40),
      test: source(g, 15),
      validation: source(g, 15),
      labels: g,
      ...(scenario === 'task' ? { classes: g } : {}),
    }));
  };

  it('a growing head (class-incremental, Adam, EWC and replay) resumes exactly across a growth', async () => {
    const c = config({
      data: { dataset: 'synthetic', sequence: 'split', scenario: 'class' },
      model: '32-24-6',
      head: 'grow',
      optimizer: 'adam',
      learningRate: 0.01,
      epochs: 1,
      seeds: [1],
      evaluateOn: 'all',
      variants: [{ method: 'ewc-fis', lambdas: [5], replay: { budget: 20 } }],
    });
    const { full, resumed } = await interruptAndResume(c, 0, 0, split('class'));
    expect(resumed.runs.map((r) => r.accuracy)).toEqual(full.runs.map((r) => r.accuracy));
    // the earlier tasks are evaluated with the grown head, and replay keeps them above chance
    expect(full.runs[0]?.accuracy[2]?.[0]).toBeGreaterThan(0.3);
    expect(full.runs[0]?.fwt).toBe(0); // a task's classes have no units before it
  });

  it('a multi-head model (task-incremental, Adam, LwF and SI) resumes exactly, its heads rebuilt', async () => {
    const c = config({
      data: { dataset: 'synthetic', sequence: 'split', scenario: 'task' },
      model: '32-24-6',
      head: 'multi',
      optimizer: 'adam',
      learningRate: 0.01,
      epochs: 1,
      seeds: [1],
      variants: [
        { method: 'lwf', lambdas: [1] },
        { method: 'ewc-si', lambdas: [0.1] },
      ],
    });
    for (const run of [0, 1]) {
      const { full, resumed } = await interruptAndResume(c, run, 1, split('task'));
      expect(resumed.runs.map((r) => r.accuracy)).toEqual(full.runs.map((r) => r.accuracy));
      expect(full.runs[run]?.accuracy[2]?.[0]).toBeGreaterThan(0.9);
    }
  });

  it('a resume that skipped the optimizer state would not match (the test can fail)', async () => {
    const c = config({ optimizer: 'adam', learningRate: 0.01, seeds: [2], variants: [{ method: 'plain', lambdas: [0] }] });
    let copy: Snapshot | undefined;
    const full = await runExperiment(c, {
      tasks,
      checkpoint: { save: async (s) => void (s.current?.taskIndex === 0 && (copy = { completed: [], current: cloneState(s.current) })) },
    });
    const cur = (copy as Snapshot).current as RunState;
    for (const t of Object.values(cur.optimizer.tensors)) t.dispose();
    cur.optimizer = { iterations: 0, tensors: {} };
    const resumed = await runExperiment(c, { tasks, resume: copy as Snapshot });
    disposeState(cur);
    expect(resumed.runs[0]?.accuracy[0]).toEqual(full.runs[0]?.accuracy[0]);
    expect(resumed.runs[0]?.accuracy[2]).not.toEqual(full.runs[0]?.accuracy[2]);
  });
});
