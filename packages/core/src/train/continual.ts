/**
 * trainContinual: trains a model on a sequence of tasks, evaluating after each task on the tasks seen
 * so far (or all tasks), with plugins for consolidation, attenuation, importance tracking and masks.
 * The result's accuracy matrix R[i][j] is the test accuracy on task j after training task i.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DataSource, Task } from '../data.js';
import { averageAccuracy } from '../metrics.js';
import { type Model, exampleShapeProblem } from '../contract.js';
import { type HeadGrowth, headWidth, widenHead } from '../head.js';
import { Sequential } from '../model.js';
import { isMultiHead } from '../multi-head.js';
import { sumEach } from '../ops/sum-each.js';
import type { ParamMap } from '../params.js';
import { Rng } from '../rng.js';
import { evaluate } from './evaluate.js';
import { findNonFiniteAsync, maxAbsPerParameter } from './health.js';
import { editOptimizerSlots, widenOptimizerSlots } from './optimizer-slots.js';
import type { Plugin, TrainContext } from './plugin.js';
import { prepareBatch, trainStep } from './step.js';
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
  /**
   * Finite blow-ups that get a 'warning' event (once per task and kind): a parameter whose max |θ|
   * exceeds `maxAbsParameter` (default 1e8; checked at each progress event), a step whose loss exceeds
   * `lossGrowth` (default 1e6) × max(1, the task's first loss). `false`: no warnings. A NaN or
   * infinite loss or parameter always ends the run (`ContinualResult.diverged`).
   */
  warnings?: false | { maxAbsParameter?: number; lossGrowth?: number };
  /**
   * Run the plugins' `afterTask` (importances, anchors) after the last task too (default true).
   * false skips it when nothing will follow, e.g. fine-tuning a consolidated pretrained model once.
   */
  consolidateLast?: boolean;
  /**
   * Class-incremental learning with an incremental head: before each task, the head of a
   * `Sequential` classifier widens in place (`widenHead`) to the classes seen so far (1 + the largest
   * of `Task.labels` of tasks 0..i), so the first task starts with its own classes. The old units
   * keep their weights bitwise; the new ones, the optimizer's slots for them (Adam's moments) and
   * the plugins' per-parameter state for them (importances, anchors, masks: state tensors named
   * `…<parameter>` of the parameter's old shape) start at zero. Earlier tasks are evaluated with the
   * grown head; a task whose classes have no units yet scores 0.
   */
  growHead?: boolean;
}

/**
 * Where training diverged: the first step whose loss was NaN or infinite, or whose update made a
 * parameter NaN or infinite. Every step's loss and a sum of every parameter are checked.
 */
export interface Divergence {
  taskIndex: number;
  task: string;
  /** The step over the run (as `ProgressEvent.step`) and within the task (1-based). */
  step: number;
  taskStep: number;
  /** 'loss': the step's loss was not finite; 'parameter': its loss was, its update made a parameter not finite. */
  reason: 'loss' | 'parameter';
  /** The first parameter (in model order) that was not finite after that step, if any. */
  parameter?: string;
  /** The value that was not finite: the loss (reason 'loss') or the parameter's (NaN, ±Infinity). */
  value: number;
  /** Reason 'loss' with a parameter: the parameter's value. */
  parameterValue?: number;
  /** `diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN)`. */
  message: string;
}

/** A finite blow-up: weights or loss growing by orders of magnitude (see `ContinualOptions.warnings`). */
export interface TrainingWarning {
  taskIndex: number;
  task: string;
  step: number;
  taskStep: number;
  reason: 'loss' | 'parameter';
  /** The parameter with the largest |θ| (reason 'parameter'). */
  parameter?: string;
  /** The loss, or the parameter's max |θ|. */
  value: number;
  message: string;
}

export interface ProgressEvent {
  /** 'warning': a finite blow-up (`warning`); 'diverged': the run stops (`diverged`), no 'task' event follows. */
  kind: 'step' | 'epoch' | 'task' | 'eval' | 'warning' | 'diverged';
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
  warning?: TrainingWarning;
  diverged?: Divergence;
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
  /**
   * Set when a loss or parameter became NaN or infinite: training stopped at that step, and the
   * task it happened in has no accuracy row (nor timing); rows of earlier tasks are kept.
   */
  diverged?: Divergence;
  /** Finite blow-ups seen (also sent as 'warning' progress events). */
  warnings: TrainingWarning[];
}

/** NaN, Infinity, 1.23e+9, 4.489. */
function fmt(x: number): string {
  return Number.isFinite(x) ? (Math.abs(x) >= 1e6 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : String(Number(x.toPrecision(4)))) : String(x);
}

function divergenceMessage(d: Omit<Divergence, 'message'>): string {
  const where = `diverged at task ${d.taskIndex + 1} step ${d.taskStep}`;
  if (d.reason === 'parameter') return `${where} (parameter '${d.parameter}' = ${fmt(d.value)})`;
  return `${where} (loss = ${fmt(d.value)}${d.parameter !== undefined ? `; parameter '${d.parameter}' = ${fmt(d.parameterValue ?? Number.NaN)}` : ''})`;
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
  if (options.growHead && !(model instanceof Sequential)) throw new Error('trainContinual: growHead needs a Sequential classifier (its last Dense layer grows)');
  if (options.growHead && isMultiHead(model)) throw new Error('trainContinual: growHead and a multi-head model exclude each other');
  // a growing head ends as wide as every task's classes need
  const width = options.growHead ? Math.max(model.numClasses, headWidth(tasks, tasks.length - 1)) : model.numClasses;
  if (isMultiHead(model))
    for (const t of tasks)
      if (!t.classes) throw new Error(`trainContinual: task '${t.name}' has no classes (Task.classes); a multi-head model selects its head by them (task-incremental scenario)`);
  for (const t of tasks) {
    const problem = exampleShapeProblem(model.inputShape, t.train.exampleShape);
    if (problem) throw new Error(`trainContinual: task '${t.name}' has ${problem}`);
    for (const source of [t.train, t.test, t.validation]) {
      if (source && source.numClasses > width) {
        throw new Error(
          `trainContinual: task '${t.name}' has labels up to ${source.numClasses - 1} (numClasses ${source.numClasses}), but the model outputs ${width} classes (labels 0..${width - 1})`,
        );
      }
    }
    for (const c of t.classes ?? []) {
      if (!Number.isInteger(c) || c < 0 || c >= width)
        throw new Error(`trainContinual: task '${t.name}' masks class ${c}, but the model outputs ${width} classes (labels 0..${width - 1})`);
    }
  }
  const warnAt = options.warnings === false ? undefined : { maxAbsParameter: options.warnings?.maxAbsParameter ?? 1e8, lossGrowth: options.warnings?.lossGrowth ?? 1e6 };
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
    warnings: [],
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
      if (j > upTo) {
        row.push(Number.NaN);
        continue;
      }
      // a multi-head model evaluates a task not yet trained with its head's initial weights
      if (isMultiHead(model)) model.ensureHead(j, task.classes);
      for (const p of plugins) p.beforeEvaluate?.(j, task);
      try {
        row.push((await evaluate(model, task.test, evalOpts(task))).accuracy);
      } finally {
        for (const p of plugins) p.afterEvaluate?.(j, task);
      }
    }
    return row;
  };
  if (evalAll && startTask === 0) result.baseline = await evalTasks(T - 1);

  // the parameters change between tasks with a growing head or a multi-head model
  let paramNames = Object.keys(model.params);
  let paramVars = Object.values(model.params) as tf.Tensor[];
  let optimizer = typeof options.optimizer === 'function' ? undefined : options.optimizer;
  let step = 0;
  for (let i = startTask; i < T; i++) {
    const task = tasks[i] as Task;
    await adaptHead(model, tasks, i, options.growHead === true, optimizer, plugins, paramVars.length);
    paramNames = Object.keys(model.params);
    paramVars = Object.values(model.params) as tf.Tensor[];
    if (typeof options.optimizer === 'function') {
      optimizer?.dispose();
      optimizer = options.optimizer(i);
    }
    const ctx: TrainContext = {
      model,
      optimizer: optimizer as tf.Optimizer,
      tasks,
      taskIndex: i,
      // a growing head: the plugins see the task's sources as having the head's classes (its labels are among them)
      task: options.growHead ? narrowTask(task, model.numClasses) : task,
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
    // per step, one kept vector [loss, Σθ of each parameter]: NaN or ±∞ in it marks the step that
    // diverged; read back in one go at each progress event (the losses are reported there anyway)
    let pending: { row: tf.Tensor1D; step: number; taskStep: number }[] = [];
    let lastT = now();
    let lastStep = 0;
    let taskStartLoss: number | undefined;
    const warned = new Set<TrainingWarning['reason']>();
    const event = (kind: ProgressEvent['kind'], extra: Partial<ProgressEvent> = {}): ProgressEvent => ({
      kind,
      taskIndex: i,
      taskName: task.name,
      epoch: ctx.epoch,
      step: ctx.step,
      taskStep: ctx.taskStep,
      stepsInTask,
      elapsedMs: now() - t0,
      ...extra,
    });
    const warn = (w: Omit<TrainingWarning, 'taskIndex' | 'task' | 'message'>) => {
      if (warned.has(w.reason)) return;
      warned.add(w.reason);
      const message =
        w.reason === 'loss'
          ? `task ${i + 1} step ${w.taskStep}: the loss reached ${fmt(w.value)}, ${fmt(w.value / (taskStartLoss ?? 1))}× its value at the task's first step (blowing up)`
          : `task ${i + 1} step ${w.taskStep}: parameter '${w.parameter}' reached |θ| = ${fmt(w.value)} (blowing up)`;
      const full: TrainingWarning = { taskIndex: i, task: task.name, ...w, message };
      result.warnings.push(full);
      options.onProgress?.(event('warning', { step: w.step, taskStep: w.taskStep, warning: full }));
    };
    /** Ends the run at step `at`; `parameter`: the first whose Σθ after that step was not finite, and that sum (NaN or ±∞). */
    const diverge = (at: { step: number; taskStep: number }, reason: Divergence['reason'], value: number, parameter?: { name: string; value: number }) => {
      const d: Omit<Divergence, 'message'> = {
        taskIndex: i,
        task: task.name,
        step: at.step,
        taskStep: at.taskStep,
        reason,
        ...(parameter ? { parameter: parameter.name } : {}),
        value,
        ...(reason === 'loss' && parameter ? { parameterValue: parameter.value } : {}),
      };
      result.diverged = { ...d, message: divergenceMessage(d) };
      options.onProgress?.(event('diverged', { step: at.step, taskStep: at.taskStep, diverged: result.diverged }));
    };
    /** Reads the pending steps' losses and sums; returns true when the run diverged. */
    const drain = async (): Promise<boolean> => {
      if (pending.length === 0) return false;
      const rows = pending;
      pending = [];
      const P = paramNames.length;
      const all = tf.tidy(() => tf.concat([...rows.map((r) => r.row), ...(warnAt && P ? [maxAbsPerParameter(model.params)] : [])]));
      let v: Float32Array;
      try {
        v = (await all.data()) as Float32Array;
      } finally {
        all.dispose();
        for (const r of rows) r.row.dispose();
      }
      for (let k = 0; k < rows.length; k++) {
        const at = rows[k] as (typeof rows)[number];
        const off = k * (P + 1);
        const loss = v[off] as number;
        let bad = -1;
        for (let p = 0; p < P; p++) {
          if (!Number.isFinite(v[off + 1 + p] as number)) {
            bad = p;
            break;
          }
        }
        const param = bad >= 0 ? { name: paramNames[bad] as string, value: v[off + 1 + bad] as number } : undefined;
        if (!Number.isFinite(loss)) {
          diverge(at, 'loss', loss, param);
          return true;
        }
        if (param) {
          // a NaN sum means a NaN (or +∞ beside −∞); an infinite one may be a sum past float32's range
          // with every value finite (|θ| ~ 1e38 / size): a blow-up, warned below, unless a value is infinite
          // (a non-finite value stays so under every later update)
          if (Number.isNaN(param.value) || (await findNonFiniteAsync({ [param.name]: model.params[param.name] as tf.Tensor }))) {
            diverge(at, 'parameter', param.value, param);
            return true;
          }
        }
        lossSum += loss;
        lossCount++;
        taskStartLoss ??= loss;
        if (warnAt && loss > warnAt.lossGrowth * Math.max(1, Math.abs(taskStartLoss))) warn({ step: at.step, taskStep: at.taskStep, reason: 'loss', value: loss });
      }
      if (warnAt && P) {
        let worst = -1;
        for (let p = 0; p < P; p++) if (worst < 0 || (v[rows.length * (P + 1) + p] as number) > (v[rows.length * (P + 1) + worst] as number)) worst = p;
        const max = v[rows.length * (P + 1) + worst] as number;
        const last = rows[rows.length - 1] as (typeof rows)[number];
        if (max > warnAt.maxAbsParameter) warn({ step: last.step, taskStep: last.taskStep, reason: 'parameter', parameter: paramNames[worst] as string, value: max });
      }
      return false;
    };
    /** Drains, then reports the mean loss since the last event; returns true when the run diverged. */
    const flush = async (kind: ProgressEvent['kind']): Promise<boolean> => {
      if (await drain()) return true;
      const t = now();
      const ev = event(kind, {
        elapsedMs: t - t0,
        ...(lossCount ? { loss: lossSum / lossCount } : {}),
        ...(t > lastT ? { examplesPerSecond: ((ctx.taskStep - lastStep) * batchSize * 1000) / (t - lastT) } : {}),
      });
      if (lossCount) result.losses.push({ step: ctx.step, loss: lossSum / lossCount });
      lossSum = 0;
      lossCount = 0;
      lastT = t;
      lastStep = ctx.taskStep;
      options.onProgress?.(ev);
      return false;
    };
    try {
      outer: for (let epoch = 0; ctx.taskStep < stepsInTask; epoch++) {
        ctx.epoch = epoch;
        const seedE = rng.fork(`shuffle/${i}/${epoch}`).seedInt();
        for (const batch of task.train.batches(batchSize, { shuffle: true, seed: seedE })) {
          let loss: tf.Scalar;
          let created: tf.Tensor[] = [];
          try {
            const prepared = prepareBatch(batch, ctx, plugins);
            created = prepared.created;
            loss = trainStep(prepared.batch, ctx, plugins);
          } finally {
            tf.dispose([batch.x, batch.y, ...(batch.logitMask ? [batch.logitMask] : []), ...created]);
          }
          ctx.step = ++step;
          ctx.taskStep++;
          const l = loss;
          // one reduction per parameter: its sum is NaN or infinite when a value is (or, past |θ| ~ 1e38 / size, overflows)
          const row = tf.tidy(() => {
            const lossRow = tf.reshape(tf.cast(l, 'float32'), [1]);
            // (on wasm the sums in one kernel call: `sum-each.ts`)
            return paramVars.length ? tf.concat([lossRow, sumEach(paramVars)]) : lossRow;
          }) as tf.Tensor1D;
          loss.dispose();
          pending.push({ row, step: ctx.step, taskStep: ctx.taskStep });
          if (ctx.taskStep % progressEvery === 0) {
            if (await flush('step')) break outer;
            await yieldToEventLoop();
          }
          if (options.signal?.aborted) {
            result.cancelled = true;
            break outer;
          }
          if (options.evaluateEvery && ctx.taskStep % options.evaluateEvery === 0) {
            // never evaluate a model that diverged since the last check
            if (await drain()) break outer;
            const accs = (await evalTasks(i)).slice(0, i + 1);
            result.curves.push({ step: ctx.step, taskIndex: i, accuracies: accs });
            options.onProgress?.({
              kind: 'eval',
              taskIndex: i,
              taskName: task.name,
              epoch,
              step: ctx.step,
              taskStep: ctx.taskStep,
              stepsInTask,
              accuracies: accs,
              elapsedMs: now() - t0,
            });
          }
          if (ctx.taskStep >= stepsInTask) break;
        }
        if (await flush('epoch')) break;
      }
    } finally {
      for (const p of pending) p.row.dispose();
    }
    if (result.cancelled || result.diverged) break;
    const trainMs = now() - tTrain;
    const tCons = now();
    if (i < T - 1 || options.consolidateLast !== false) for (const p of plugins) await p.afterTask?.(ctx);
    const consolidateMs = now() - tCons;
    const tEval = now();
    const row = await evalTasks(evalAll ? T - 1 : i);
    result.accuracy.push(row);
    result.timings.push({ task: task.name, trainMs, consolidateMs, evalMs: now() - tEval, steps: ctx.taskStep });
    result.averageAccuracy = averageAccuracy(result.accuracy);
    options.onProgress?.({
      kind: 'task',
      taskIndex: i,
      taskName: task.name,
      epoch: ctx.epoch,
      step: ctx.step,
      taskStep: ctx.taskStep,
      stepsInTask,
      accuracies: row.slice(0, i + 1),
      elapsedMs: now() - t0,
    });
    await options.onTaskEnd?.({ taskIndex: i, result });
  }
  if (typeof options.optimizer === 'function') optimizer?.dispose();
  result.averageAccuracy = result.accuracy.length ? averageAccuracy(result.accuracy) : [];
  return result;
}

/**
 * Before task i: a multi-head model gets task i's head, and the optimizer's slots of its other heads
 * are zeroed (their gradients are exactly zero under the task's mask, so they stay bitwise unchanged,
 * Adam included); a growing head widens to the classes of tasks 0..i, with the optimizer's slots and
 * the plugins' state for the new units at zero.
 */
async function adaptHead(
  model: Model,
  tasks: readonly Task[],
  i: number,
  grow: boolean,
  optimizer: tf.Optimizer | undefined,
  plugins: readonly Plugin[],
  stepped: number,
): Promise<void> {
  const task = tasks[i] as Task;
  if (isMultiHead(model)) {
    model.ensureHead(i, task.classes);
    if (!optimizer || i === 0) return;
    const own = new Set(model.headParams(i));
    const others = new Set(model.headTasks.filter((h) => h.task !== i).flatMap((h) => model.headParams(h.task)));
    const names = Object.keys(model.params);
    await editOptimizerSlots(
      optimizer,
      Object.values(model.params),
      (k, slot) => {
        const name = names[k] as string;
        return others.has(name) && !own.has(name) ? tf.zerosLike(slot) : undefined;
      },
      stepped,
    );
    return;
  }
  if (!grow) return;
  const need = headWidth(tasks, i);
  if (need <= model.numClasses) return;
  const growth = widenHead(model as Sequential, need);
  const names = Object.keys(model.params);
  if (optimizer) {
    const grown = new Set(Object.keys(growth.params).map((n) => names.indexOf(n)));
    await widenOptimizerSlots(optimizer, Object.values(model.params), grown, stepped);
  }
  for (const p of plugins) widenPluginState(p, growth);
}

/** Zero-pads, along the grown axis, every plugin state tensor named after a grown parameter with its old shape. */
function widenPluginState(plugin: Plugin, growth: HeadGrowth): void {
  if (!plugin.getState || !plugin.setState) return;
  // tensors a getState made for the call (replay's memory) are ours to free; those it keeps are its own
  const mark = tf.scalar(0);
  const made = mark.id;
  mark.dispose();
  const state = plugin.getState();
  const fresh = Object.values(state.tensors).filter((t) => t.id > made);
  // copies throughout: a plugin's setState may dispose its own tensors (what getState returned) first
  const tensors: ParamMap = {};
  let changed = false;
  for (const [key, t] of Object.entries(state.tensors)) {
    const hit = Object.entries(growth.params).find(
      ([name, g]) => (key === name || key.endsWith(`/${name}`)) && t.shape.length === g.before.length && t.shape.every((d, k) => d === g.before[k]),
    );
    if (!hit) {
      tensors[key] = tf.clone(t);
      continue;
    }
    changed = true;
    const after = hit[1].after;
    const axis = after.length - 1;
    tensors[key] = tf.tidy(() => {
      const shape = [...t.shape];
      shape[axis] = (after[axis] as number) - (t.shape[axis] as number);
      return tf.concat([t, tf.zeros(shape, t.dtype)], axis);
    });
  }
  try {
    if (changed) plugin.setState({ tensors, meta: state.meta });
  } finally {
    tf.dispose([...Object.values(tensors), ...fresh]);
  }
}

/** The task with sources that declare `numClasses` classes (their labels are below it). */
function narrowTask(task: Task, numClasses: number): Task {
  const narrow = (source: DataSource): DataSource =>
    source.numClasses <= numClasses
      ? source
      : { size: source.size, exampleShape: source.exampleShape, numClasses, batches: (batchSize, options) => source.batches(batchSize, options) };
  return { ...task, train: narrow(task.train), test: narrow(task.test), ...(task.validation ? { validation: narrow(task.validation) } : {}) };
}
