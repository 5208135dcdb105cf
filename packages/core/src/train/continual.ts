/**
 * trainContinual: trains a model on a sequence of tasks, evaluating after each task on the tasks seen
 * so far (or all tasks), with plugins for consolidation, attenuation, importance tracking and masks.
 * The result's accuracy matrix R[i][j] is the test accuracy on task j after training task i.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Task } from '../data.js';
import { averageAccuracy } from '../metrics.js';
import { type Model, exampleShapeProblem } from '../contract.js';
import { Rng } from '../rng.js';
import { evaluate } from './evaluate.js';
import type { Plugin, TrainContext } from './plugin.js';
import { trainStep } from './step.js';
import { yieldToEventLoop } from './yield.js';

export interface ContinualOptions {
  /** One optimizer for the whole run, or a factory called at the start of each task. */
  optimizer: tf.Optimizer | ((taskIndex: number) => tf.Optimizer);
  /** Epochs per task (default 1). Ignored when `iterations` is set. */
  epochs?: number;
  /** Optimizer steps per task (paper 1: 2000), cycling through reshuffled epochs as needed. */
  iterations?: number;
  /** Minibatch size (default 100, the papers'). */
  batchSize?: number;
  /** Seed of shuffling and dropout (default 0). */
  seed?: number;
  plugins?: Plugin[];
  /** The optimizer's learning rate, passed to plugins that need it (stabilised EWC). */
  learningRate?: number;
  /** Evaluate after each task on the tasks seen so far (default) or on all tasks (needed for FWT). */
  evaluateOn?: 'seen' | 'all';
  /** Also evaluate every N steps on the tasks seen so far (accuracy curves). */
  evaluateEvery?: number;
  evalBatchSize?: number;
  /** Evaluate on at most this many test examples per task. */
  evalLimit?: number;
  onProgress?: (event: ProgressEvent) => void;
  /** Steps between 'step' progress events (default 20). */
  progressEvery?: number;
  signal?: AbortSignal;
  /** Resume: the first task to train, and the accuracy rows already measured for earlier tasks. */
  startTask?: number;
  previous?: Pick<ContinualResult, 'accuracy' | 'timings' | 'baseline'>;
  /** Called after each task's evaluation (checkpoint here). */
  onTaskEnd?: (event: TaskEndEvent) => void | Promise<void>;
}

export interface ProgressEvent {
  kind: 'step' | 'epoch' | 'task' | 'eval';
  taskIndex: number;
  taskName: string;
  epoch: number;
  /** Steps over the run and within this task; `stepsInTask` is the task's planned total. */
  step: number;
  taskStep: number;
  stepsInTask: number;
  /** Mean total loss over the steps since the last event. */
  loss?: number;
  examplesPerSecond?: number;
  /** For 'eval' and 'task': accuracies on tasks 0..n. */
  accuracies?: number[];
  elapsedMs: number;
}

export interface TaskTiming {
  task: string;
  trainMs: number;
  /** Time in plugins' afterTask (importances). */
  consolidateMs: number;
  evalMs: number;
  steps: number;
}

export interface TaskEndEvent {
  taskIndex: number;
  result: ContinualResult;
}

export interface ContinualResult {
  /** R[i][j]; NaN where not evaluated. */
  accuracy: number[][];
  /** Mean of R[i][0..i] per task. */
  averageAccuracy: number[];
  /** Accuracy of the untrained model on each task (with evaluateOn 'all'). */
  baseline?: number[];
  timings: TaskTiming[];
  /** With `evaluateEvery`: accuracies on tasks seen so far, every N steps. */
  curves: { step: number; taskIndex: number; accuracies: number[] }[];
  /** Mean loss per progress interval. */
  losses: { step: number; loss: number }[];
  cancelled: boolean;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

export async function trainContinual(model: Model, tasks: readonly Task[], options: ContinualOptions): Promise<ContinualResult> {
  if (tasks.length === 0) throw new Error('trainContinual: no tasks');
  const batchSize = options.batchSize ?? 100;
  const epochs = options.epochs ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`trainContinual: batchSize must be a positive integer, got ${batchSize}`);
  if (options.iterations === undefined && (!Number.isInteger(epochs) || epochs < 1)) {
    throw new Error(`trainContinual: epochs must be a positive integer, got ${epochs}`);
  }
  if (options.iterations !== undefined && (!Number.isInteger(options.iterations) || options.iterations < 1)) {
    throw new Error(`trainContinual: iterations must be a positive integer, got ${options.iterations}`);
  }
  if (model.outputShape.length !== 1) {
    throw new Error(
      `trainContinual: the model outputs [${model.outputShape.map((d) => d ?? 'any')}] per example; training and evaluation use a classification loss and need one score per class ([classes])`,
    );
  }
  for (const t of tasks) {
    const problem = exampleShapeProblem(model.inputShape, t.train.exampleShape);
    if (problem) throw new Error(`trainContinual: task '${t.name}' has ${problem}`);
  }
  const plugins = options.plugins ?? [];
  const seed = options.seed ?? 0;
  const rng = new Rng(seed);
  const startTask = options.startTask ?? 0;
  const progressEvery = options.progressEvery ?? 20;
  const T = tasks.length;
  const evalAll = options.evaluateOn === 'all';
  const result: ContinualResult = {
    accuracy: (options.previous?.accuracy ?? []).slice(0, startTask).map((r) => [...r]),
    averageAccuracy: [],
    timings: (options.previous?.timings ?? []).slice(0, startTask),
    curves: [],
    losses: [],
    cancelled: false,
    ...(options.previous?.baseline ? { baseline: options.previous.baseline } : {}),
  };
  const t0 = now();
  const evalOpts = (task: Task) => ({
    ...(options.evalBatchSize ? { batchSize: options.evalBatchSize } : {}),
    ...(options.evalLimit !== undefined ? { limit: options.evalLimit } : {}),
    ...(task.classes ? { classes: task.classes } : {}),
  });
  const evalTasks = async (upTo: number): Promise<number[]> => {
    const row: number[] = [];
    for (let j = 0; j < T; j++) {
      const task = tasks[j] as Task;
      row.push(j <= upTo ? (await evaluate(model, task.test, evalOpts(task))).accuracy : Number.NaN);
    }
    return row;
  };
  if (evalAll && startTask === 0) result.baseline = await evalTasks(T - 1);

  let optimizer = typeof options.optimizer === 'function' ? undefined : options.optimizer;
  let step = 0;
  for (let i = startTask; i < T; i++) {
    const task = tasks[i] as Task;
    if (typeof options.optimizer === 'function') {
      optimizer?.dispose();
      optimizer = options.optimizer(i);
    }
    const ctx: TrainContext = {
      model,
      optimizer: optimizer as tf.Optimizer,
      tasks,
      taskIndex: i,
      task,
      step,
      taskStep: 0,
      epoch: 0,
      rng: rng.fork(`task${i}`),
      ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}),
    };
    for (const p of plugins) await p.beforeTask?.(ctx);
    const stepsPerEpoch = Math.ceil(task.train.size / batchSize);
    const stepsInTask = options.iterations ?? stepsPerEpoch * epochs;
    const tTrain = now();
    let lossSum = 0;
    let lossCount = 0;
    let pending: tf.Scalar[] = [];
    let lastT = now();
    let lastStep = 0;
    const flush = async (kind: ProgressEvent['kind']) => {
      for (const l of pending) {
        lossSum += (await l.data())[0] as number;
        lossCount++;
        l.dispose();
      }
      pending = [];
      const t = now();
      const ev: ProgressEvent = {
        kind,
        taskIndex: i,
        taskName: task.name,
        epoch: ctx.epoch,
        step: ctx.step,
        taskStep: ctx.taskStep,
        stepsInTask,
        elapsedMs: t - t0,
        ...(lossCount ? { loss: lossSum / lossCount } : {}),
        ...(t > lastT ? { examplesPerSecond: ((ctx.taskStep - lastStep) * batchSize * 1000) / (t - lastT) } : {}),
      };
      if (lossCount) result.losses.push({ step: ctx.step, loss: lossSum / lossCount });
      lossSum = 0;
      lossCount = 0;
      lastT = t;
      lastStep = ctx.taskStep;
      options.onProgress?.(ev);
    };
    try {
      outer: for (let epoch = 0; ctx.taskStep < stepsInTask; epoch++) {
        ctx.epoch = epoch;
        const seedE = rng.fork(`shuffle/${i}/${epoch}`).seedInt();
        for (const batch of task.train.batches(batchSize, { shuffle: true, seed: seedE })) {
          try {
            pending.push(trainStep(batch, ctx, plugins));
          } finally {
            batch.x.dispose();
            batch.y.dispose();
          }
          ctx.step = ++step;
          ctx.taskStep++;
          if (ctx.taskStep % progressEvery === 0) {
            await flush('step');
            await yieldToEventLoop();
          }
          if (options.signal?.aborted) {
            result.cancelled = true;
            break outer;
          }
          if (options.evaluateEvery && ctx.taskStep % options.evaluateEvery === 0) {
            const accs = (await evalTasks(i)).slice(0, i + 1);
            result.curves.push({ step: ctx.step, taskIndex: i, accuracies: accs });
            options.onProgress?.({ kind: 'eval', taskIndex: i, taskName: task.name, epoch, step: ctx.step, taskStep: ctx.taskStep, stepsInTask, accuracies: accs, elapsedMs: now() - t0 });
          }
          if (ctx.taskStep >= stepsInTask) break;
        }
        await flush('epoch');
      }
    } finally {
      for (const l of pending) l.dispose();
    }
    if (result.cancelled) break;
    const trainMs = now() - tTrain;
    const tCons = now();
    for (const p of plugins) await p.afterTask?.(ctx);
    const consolidateMs = now() - tCons;
    const tEval = now();
    const row = await evalTasks(evalAll ? T - 1 : i);
    result.accuracy.push(row);
    result.timings.push({ task: task.name, trainMs, consolidateMs, evalMs: now() - tEval, steps: ctx.taskStep });
    result.averageAccuracy = averageAccuracy(result.accuracy);
    options.onProgress?.({ kind: 'task', taskIndex: i, taskName: task.name, epoch: ctx.epoch, step: ctx.step, taskStep: ctx.taskStep, stepsInTask, accuracies: row.slice(0, i + 1), elapsedMs: now() - t0 });
    await options.onTaskEnd?.({ taskIndex: i, result });
  }
  if (typeof options.optimizer === 'function') optimizer?.dispose();
  result.averageAccuracy = result.accuracy.length ? averageAccuracy(result.accuracy) : [];
  return result;
}
