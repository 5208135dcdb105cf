/**
 * runExperiment: the comparison loop of the demo. For every variant × λ × seed it builds the model
 * from its spec and seed, the optimizer and the variant's plugins, and trains the tasks with core's
 * `trainContinual`, recording the accuracy matrix R[i][j] (test accuracy on task j after task i),
 * per-task timings, and the metrics of docs/methods.md. After each task it can hand a snapshot of the
 * whole state (weights, plugin state, optimizer state, accuracies so far, finished runs) to a
 * checkpoint sink, and it resumes from such a snapshot to the same result as an uninterrupted run.
 *
 * Browser-safe: no node:* imports. The CLI and the browser page both drive it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type ContinualResult,
  type Divergence,
  type ParamMap,
  type Plugin,
  type ProgressEvent,
  type Task,
  type TaskTiming,
  type TrainingWarning,
  type Model,
  Sequential,
  averageForgetting,
  backwardTransfer,
  forwardTransfer,
  headWidth,
  isMultiHead,
  modelFromSpec,
  multiHead,
  trainContinual,
  widenHead,
  withHeadWidth,
} from '@forgetless/core';
import { cumulativeTasks } from '@forgetless/datasets';
import { type CorrelationRecord, type CorrelationRecorder, correlationRecorder } from '@forgetless/importances';
import { type ExperimentConfig, type RunKey, runKeys, validateConfig } from './config.js';
import { type OptimizerName, createPlugins, methodDefinition, variantLabel } from './methods.js';
import { type OptimizerState, createOptimizer, optimizerState, restoreOptimizer } from './optimizer.js';

/** One finished (or cancelled) run: one variant at one λ and one seed. */
export interface RunRecord {
  /** Index in `runKeys(config)`. */
  index: number;
  variant: string;
  method: string;
  lambda: number;
  seed: number;
  optimizer: OptimizerName;
  learningRate: number;
  /** R[i][j]; NaN where not evaluated (j > i). */
  accuracy: number[][];
  /** Mean of R[i][0..i] after each task. */
  averageAccuracy: number[];
  timings: TaskTiming[];
  /** Average accuracy after the last task trained. */
  finalAverage: number;
  /** Chaudhry et al. 2018 (0 with one task). */
  forgetting: number;
  /** Lopez-Paz & Ranzato 2017 (0 with one task). */
  bwt: number;
  /** Forward transfer (Lopez-Paz & Ranzato 2017), with `evaluateOn: 'all'`: mean over j ≥ 1 of R[j−1][j] − R₀[j]. */
  fwt?: number;
  /** With `evaluateOn: 'all'`: the untrained model's accuracy on each task. */
  baseline?: number[];
  /**
   * With `evaluateEvery`: accuracies on the tasks seen so far every N steps of each task (after a
   * resume, of the tasks trained since).
   */
  curves?: ContinualResult['curves'];
  /** Paper 3: per-layer correlations between importances after each task (with `correlations`). */
  correlations?: CorrelationRecord[];
  cancelled: boolean;
  /**
   * Training diverged (a NaN or infinite loss, weight or importance, e.g. plain EWC with η·λ·I > 1
   * under SGD, paper 2, or too large a learning rate): `diverged at task T step S (parameter P = NaN)`.
   * `accuracy` then holds only the rows measured before (none of the diverged model), and
   * `finalAverage`, `forgetting` and `bwt` are NaN: the run is never ranked.
   */
  diverged?: string;
  /** Where and why it diverged (with `diverged`). */
  divergence?: RunDivergence;
  /** Finite blow-ups the training loop warned of (weights or loss growing by orders of magnitude). */
  warnings?: TrainingWarning[];
  seconds: number;
}

/**
 * Where a run diverged: core's `Divergence` (a step's loss or update), or `reason: 'importance'` when
 * the importances at a task's end were NaN or infinite with finite weights (no step then).
 */
export type RunDivergence = Divergence | { taskIndex: number; task: string; reason: 'importance'; message: string };

export interface ExperimentResult {
  config: ExperimentConfig;
  tasks: string[];
  runs: RunRecord[];
  /** The tfjs backend the runs used. */
  backend: string;
  cancelled: boolean;
}

/** What the runner reports while it works. */
export type ExperimentEvent =
  | { kind: 'run-start'; run: number; runs: number; label: string; lambda: number; seed: number; tasks: number; resumedAt?: number }
  | { kind: 'progress'; run: number; runs: number; label: string; lambda: number; seed: number; event: ProgressEvent }
  | { kind: 'run-end'; run: number; runs: number; record: RunRecord };

/** A plugin's checkpointable state. */
export interface PluginState {
  name: string;
  tensors: ParamMap;
  meta: Record<string, unknown>;
}

/** The state of the run in progress after one of its tasks. */
export interface RunState {
  run: number;
  key: RunKey;
  /** The last task finished. */
  taskIndex: number;
  previous: Pick<ContinualResult, 'accuracy' | 'timings' | 'baseline'>;
  /** Model parameters and batch-norm statistics. */
  weights: ParamMap;
  plugins: PluginState[];
  optimizer: OptimizerState;
  recorder?: { records: CorrelationRecord[]; trackers: Record<string, PluginState> };
  seconds: number;
}

/**
 * A snapshot handed to the checkpoint sink. The tensors belong to the live run: write them before
 * the promise resolves, and do not dispose them.
 */
export interface Snapshot {
  completed: RunRecord[];
  current?: RunState;
}

export interface CheckpointSink {
  save(snapshot: Snapshot): Promise<void>;
}

export interface RunOptions {
  tasks: readonly Task[];
  onEvent?: (event: ExperimentEvent) => void;
  signal?: AbortSignal;
  checkpoint?: CheckpointSink;
  /** A snapshot to continue from (its tensors are read, not kept). */
  resume?: Snapshot;
  /** Steps between progress events (default 10). */
  progressEvery?: number;
  /**
   * Plugins to add to a run after its method's own (a logger, which reads their importances after
   * each task): not checkpointed, disposed with the run. `run` names the run as its 'run-start' event.
   */
  observers?: (run: { run: number; label: string; lambda: number; seed: number }, plugins: readonly Plugin[]) => Plugin[];
}

const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : Number.NaN);

function recordOf(
  index: number,
  config: ExperimentConfig,
  key: RunKey,
  result: Pick<ContinualResult, 'accuracy' | 'timings' | 'cancelled'> & { baseline?: number[] },
  seconds: number,
): RunRecord {
  const v = config.variants[key.variant] as ExperimentConfig['variants'][number];
  const R = result.accuracy;
  const avg = R.map((row, i) => row.slice(0, i + 1).reduce((a, b) => a + b, 0) / (i + 1));
  return {
    index,
    variant: variantLabel(v),
    method: v.method,
    lambda: key.lambda,
    seed: key.seed,
    ...variantOptimizer(config, v),
    accuracy: R.map((r) => [...r]),
    averageAccuracy: avg,
    timings: [...result.timings],
    finalAverage: finite(avg[avg.length - 1]),
    forgetting: R.length > 1 ? averageForgetting(R) : 0,
    bwt: R.length > 1 ? backwardTransfer(R) : 0,
    ...(result.baseline && R.length > 1 && R.every((row) => row.length === result.baseline?.length)
      ? { fwt: forwardTransfer(R, result.baseline), baseline: [...result.baseline] }
      : {}),
    cancelled: result.cancelled,
    seconds,
  };
}

/** The usual learning rate of an optimizer when a variant switches to it without naming one. */
export function defaultLearningRate(optimizer: OptimizerName): number {
  return optimizer === 'sgd' ? 0.1 : 1e-3;
}

/** A variant's optimizer and learning rate: its own, else the experiment's (a switched optimizer without a rate gets its usual one). */
export function variantOptimizer(config: ExperimentConfig, v: ExperimentConfig['variants'][number]): { optimizer: OptimizerName; learningRate: number } {
  const optimizer = v.optimizer ?? config.optimizer;
  const learningRate = v.learningRate ?? (optimizer !== config.optimizer ? defaultLearningRate(optimizer) : config.learningRate);
  return { optimizer, learningRate };
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** Runs every variant × λ × seed of `config` on `options.tasks`. */
export async function runExperiment(rawConfig: ExperimentConfig, options: RunOptions): Promise<ExperimentResult> {
  const config = validateConfig(rawConfig);
  const { tasks } = options;
  if (tasks.length === 0) throw new Error('runExperiment: no tasks');
  const keys = runKeys(config);
  const completed: RunRecord[] = [...(options.resume?.completed ?? [])];
  const done = new Set(completed.map((r) => r.index));
  const resumeRun = options.resume?.current;
  let cancelled = false;
  for (let index = 0; index < keys.length; index++) {
    if (done.has(index)) continue;
    const key = keys[index] as RunKey;
    const state = resumeRun && resumeRun.run === index ? resumeRun : undefined;
    if (state && (state.key.variant !== key.variant || state.key.lambda !== key.lambda || state.key.seed !== key.seed)) {
      throw new Error(`resume: run ${index} of the checkpoint is not the run the config describes (variant, λ or seed differ)`);
    }
    const record = await runOne(config, index, key, keys.length, options, completed, state);
    completed.push(record);
    options.onEvent?.({ kind: 'run-end', run: index, runs: keys.length, record });
    if (record.cancelled) {
      cancelled = true;
      break;
    }
    await options.checkpoint?.save({ completed });
  }
  completed.sort((a, b) => a.index - b.index);
  return { config, tasks: tasks.map((t) => t.name), runs: completed, backend: tf.getBackend(), cancelled };
}

async function runOne(
  config: ExperimentConfig,
  index: number,
  key: RunKey,
  runs: number,
  options: RunOptions,
  completed: RunRecord[],
  state: RunState | undefined,
): Promise<RunRecord> {
  const variant = config.variants[key.variant] as ExperimentConfig['variants'][number];
  const label = variantLabel(variant);
  const { optimizer: optName, learningRate } = variantOptimizer(config, variant);
  const t0 = now() - (state?.seconds ?? 0) * 1000;
  const model = buildModel(config, key.seed, options.tasks);
  const optimizer = createOptimizer(optName, learningRate);
  const plugins: Plugin[] = createPlugins(variant, key.lambda, { learningRate, importanceLimit: config.importanceLimit, seed: key.seed });
  // joint training: task i trains on tasks 0..i together
  const tasks = methodDefinition(variant.method).family === 'joint' ? cumulativeTasks(options.tasks) : options.tasks;
  let recorder: CorrelationRecorder | undefined;
  if (config.correlations) {
    recorder = correlationRecorder({ limit: config.importanceLimit });
    plugins.push(recorder);
  }
  const observers = options.observers?.({ run: index, label, lambda: key.lambda, seed: key.seed }, plugins) ?? [];
  const startTask = state ? state.taskIndex + 1 : 0;
  let partial: Pick<ContinualResult, 'accuracy' | 'timings'> = state ? { accuracy: state.previous.accuracy, timings: state.previous.timings } : { accuracy: [], timings: [] };
  options.onEvent?.({ kind: 'run-start', run: index, runs, label, lambda: key.lambda, seed: key.seed, tasks: options.tasks.length, ...(state ? { resumedAt: startTask } : {}) });
  try {
    if (state) await restore(model, optimizer, plugins, recorder, state, options.tasks);
    const result = await trainContinual(model, tasks, {
      optimizer,
      ...(config.iterations !== undefined ? { iterations: config.iterations } : { epochs: config.epochs ?? 1 }),
      batchSize: config.batchSize,
      seed: key.seed,
      plugins: [...plugins, ...observers],
      learningRate,
      ...(config.evalLimit !== undefined ? { evalLimit: config.evalLimit } : {}),
      ...(config.evaluateEvery !== undefined ? { evaluateEvery: config.evaluateEvery } : {}),
      ...(config.evaluateOn !== undefined ? { evaluateOn: config.evaluateOn } : {}),
      ...(config.head === 'grow' ? { growHead: true } : {}),
      progressEvery: options.progressEvery ?? 10,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(state ? { startTask, previous: state.previous } : {}),
      onProgress: (event) => options.onEvent?.({ kind: 'progress', run: index, runs, label, lambda: key.lambda, seed: key.seed, event }),
      onTaskEnd: async ({ taskIndex, result: sofar }) => {
        partial = { accuracy: sofar.accuracy.map((r) => [...r]), timings: [...sofar.timings] };
        if (!options.checkpoint) return;
        const current: RunState = {
          run: index,
          key,
          taskIndex,
          previous: { accuracy: sofar.accuracy, timings: sofar.timings, ...(sofar.baseline ? { baseline: sofar.baseline } : {}) },
          weights: { ...model.params, ...model.state },
          plugins: plugins.filter((p) => p !== recorder).map((p) => ({ name: p.name, ...(p.getState?.() ?? { tensors: {}, meta: {} }) })),
          optimizer: await optimizerState(optimizer),
          ...(recorder ? { recorder: recorderState(recorder) } : {}),
          seconds: (now() - t0) / 1000,
        };
        await options.checkpoint.save({ completed, current });
      },
    });
    const record = recordOf(index, config, key, result, (now() - t0) / 1000);
    if (config.evaluateEvery !== undefined) record.curves = result.curves.map((c) => ({ ...c, accuracies: [...c.accuracies] }));
    if (recorder) record.correlations = [...recorder.records];
    if (result.warnings.length) record.warnings = result.warnings.map((w) => ({ ...w }));
    if (result.diverged) markDiverged(record, { ...result.diverged });
    return record;
  } catch (e) {
    if (!isDivergence(e)) throw e;
    // an importance (or a plugin's check) at a task's end found NaN or infinite values
    const record = recordOf(index, config, key, { ...partial, cancelled: false }, (now() - t0) / 1000);
    const taskIndex = partial.accuracy.length;
    const task = options.tasks[taskIndex]?.name ?? String(taskIndex);
    markDiverged(record, { taskIndex, task, reason: 'importance', message: `diverged at task ${taskIndex + 1}, end (${(e as Error).message})` });
    if (recorder) record.correlations = [...recorder.records];
    return record;
  } finally {
    for (const p of [...plugins, ...observers]) p.dispose?.();
    optimizer.dispose();
    model.dispose();
  }
}

/** Marks a record diverged: its message and details, and no metric that could pass for a result. */
function markDiverged(record: RunRecord, divergence: RunDivergence): void {
  record.diverged = divergence.message;
  record.divergence = divergence;
  record.finalAverage = Number.NaN;
  record.forgetting = Number.NaN;
  record.bwt = Number.NaN;
}

/** The errors forgetless raises when training blew up (NaN or infinite values). */
function isDivergence(e: unknown): boolean {
  return e instanceof Error && /NaN|Infinity|infinite/.test(e.message);
}

function recorderState(recorder: CorrelationRecorder): NonNullable<RunState['recorder']> {
  const trackers: Record<string, PluginState> = {};
  for (const [label, t] of Object.entries(recorder.trackers)) trackers[label] = { name: t.name, ...t.getState() };
  return { records: [...recorder.records], trackers };
}

/**
 * The run's model from the config's spec: as it is (`head: 'shared'`), as a multi-head model whose
 * heads come with their tasks (`multi`), or narrowed to the first task's classes (`grow`).
 */
export function buildModel(config: ExperimentConfig, seed: number, tasks: readonly Task[]): Model {
  const model = modelFromSpec(config.model, { seed });
  if (config.head !== 'multi' && config.head !== 'grow') return model;
  try {
    if (config.head === 'multi') return multiHead(model);
    const width = headWidth(tasks, 0);
    return width < model.numClasses ? withHeadWidth(model, width) : modelFromSpec(config.model, { seed });
  } finally {
    model.dispose();
  }
}

/** Gives a fresh model the heads (multi-head) or the head width (growing head) of a checkpoint's weights. */
function shapeLike(model: Model, weights: ParamMap, tasks: readonly Task[]): void {
  if (isMultiHead(model)) {
    const heads = new Set<number>();
    for (const name of Object.keys(weights)) {
      const m = /_task(\d+)\//.exec(name);
      if (m) heads.add(Number(m[1]));
    }
    // in task order: the order they were added in, which is the optimizer's slot order
    for (const k of [...heads].sort((a, b) => a - b)) model.ensureHead(k, tasks[k]?.classes);
    return;
  }
  const head = model.parametricLayers.at(-1);
  const kernel = head ? weights[`${head.name}/kernel`] : undefined;
  const width = kernel?.shape[kernel.rank - 1];
  if (width !== undefined && width > model.numClasses && model instanceof Sequential) widenHead(model, width);
}

async function restore(
  model: Model,
  optimizer: tf.Optimizer,
  plugins: Plugin[],
  recorder: CorrelationRecorder | undefined,
  state: RunState,
  tasks: readonly Task[],
): Promise<void> {
  shapeLike(model, state.weights, tasks);
  model.setWeights(state.weights);
  const own = plugins.filter((p) => p !== recorder);
  if (own.length !== state.plugins.length) throw new Error(`resume: the checkpoint holds ${state.plugins.length} plugin states, the run has ${own.length} plugins`);
  own.forEach((p, i) => {
    const s = state.plugins[i] as PluginState;
    if (s.name !== p.name) throw new Error(`resume: plugin ${i} of the checkpoint is '${s.name}', the run's is '${p.name}'`);
    p.setState?.({ tensors: s.tensors, meta: s.meta });
  });
  await restoreOptimizer(optimizer, state.optimizer);
  if (recorder && state.recorder) {
    for (const [label, t] of Object.entries(recorder.trackers)) {
      const s = state.recorder.trackers[label];
      if (s) t.setState({ tensors: s.tensors, meta: s.meta });
    }
    recorder.records.push(...state.recorder.records);
  }
}
