/**
 * The configuration of a continual-learning experiment, and its validation. Every error names the
 * option and the value at fault (`ConfigError`), so the CLI can print it as one line.
 *
 * Browser-safe: no node:* imports.
 */
import { modelFromSpec } from '@forgetless/core';
import {
  type ApplyTo,
  type AttenuationName,
  type Convention,
  MethodError,
  type MethodFamily,
  type OptimizerName,
  type VariantSpec,
  hasLambda,
  methodDefinition,
} from './methods.js';

export type SequenceName = 'permuted' | 'split' | 'rotated' | 'queue';
export type Scenario = 'task' | 'domain' | 'class';
export const SCENARIOS: readonly Scenario[] = ['task', 'domain', 'class'];
/**
 * The output head: `shared` (one output layer over every class, masked to the task's classes in the
 * task-incremental scenario), `multi` (task-incremental: one head per task, added when its task
 * arrives), `grow` (class-incremental: the head starts with the first task's classes and grows as
 * classes arrive).
 */
export type HeadChoice = 'shared' | 'multi' | 'grow';
export const HEADS: readonly HeadChoice[] = ['shared', 'multi', 'grow'];
export type BackendChoice = 'cpu' | 'wasm' | 'tensorflow' | 'tensorflow-gpu';

export const SEQUENCES: readonly SequenceName[] = ['permuted', 'split', 'rotated', 'queue'];
export const BACKENDS: readonly BackendChoice[] = ['cpu', 'wasm', 'tensorflow', 'tensorflow-gpu'];
export const OPTIMIZERS: readonly OptimizerName[] = ['sgd', 'adam'];

/** Where the tasks come from. */
export interface DataConfig {
  /** `embedded` (the subset shipped with @forgetless/datasets), `fashion-mnist`, `mnist`, or a folder. */
  dataset: string;
  sequence: SequenceName;
  /**
   * The scenario (van de Ven & Tolias 2019): `task` (the task label is given at test: outputs masked
   * to the task's classes), `domain` (one shared head over the same labels), `class` (one head over
   * every class, no task label). Split: default task; permuted: default domain (task and class shift
   * task t's labels to 10t..10t+9: the model needs 10·tasks outputs). Rotated and queue: domain only.
   */
  scenario?: Scenario;
  /** Permuted: number of tasks. */
  numTasks?: number;
  /** Rotated and queue: angles in degrees. */
  angles?: number[];
  /** Queue: the datasets, in order (default: MNIST and Fashion-MNIST where available). */
  datasets?: string[];
  /** Seed of the permutations (default 0). */
  seed?: number;
  /** Closing set held out of each task's training examples: a count (default 1/12 of them). */
  validation?: number;
  /** Train on at most this many examples per task (a scale-down; default all). */
  trainLimit?: number;
}

/** A variant of the comparison: a method with modifiers and its λ grid. */
export interface VariantConfig extends VariantSpec {
  /** λ values to try (a grid when several); ignored by plain. */
  lambdas: number[];
}

export interface ExperimentConfig {
  /** Name shown in reports (`default`, `paper1`, `custom`, ...). */
  name: string;
  data: DataConfig;
  /** Model spec: `784-300-150-10:leakyrelu`, `784-100-10`, `paper2-conv`, `paper2-conv:0.25`. */
  model: string;
  optimizer: OptimizerName;
  learningRate: number;
  /** Epochs per task; ignored when `iterations` is set. */
  epochs?: number;
  /** Optimizer steps per task (paper 1: 2000). */
  iterations?: number;
  batchSize: number;
  /** One run per seed (model initialisation and shuffling). */
  seeds: number[];
  variants: VariantConfig[];
  /** Closing-set examples per task for importances (the papers: 5000). */
  importanceLimit: number;
  /** Evaluate on at most this many test examples per task (default all). */
  evalLimit?: number;
  /**
   * Evaluate after each task on the tasks seen so far (default) or on every task, the untrained model
   * included: then each run also has forward transfer (FWT, Lopez-Paz & Ranzato 2017).
   */
  evaluateOn?: 'seen' | 'all';
  /** The output head (default shared): `multi` needs the task-incremental scenario, `grow` the class-incremental one. */
  head?: HeadChoice;
  /** Also evaluate every N steps on the tasks seen so far: 'eval' progress events and `RunRecord.curves`. */
  evaluateEvery?: number;
  backend: BackendChoice;
  /** Also record the per-layer correlations of FIS, MAS, SI and SIG after each task (paper 3). */
  correlations?: boolean;
  /** Raised limits on what the config may ask for (`DEFAULT_LIMITS`); `FORGETLESS_LIMITS` raises them too. */
  limits?: Partial<ConfigLimits>;
}

/**
 * The most a config may ask for, so that a slip (`--tasks 1000000`) is refused at validation rather
 * than growing memory past what the machine has before the first task ends. Each is far above what
 * the papers' protocols use; raise one with `limits` in the config or `FORGETLESS_LIMITS=tasks=5000,...`.
 */
export interface ConfigLimits {
  /** Tasks in the sequence: each keeps its data in memory and is evaluated after every later one. */
  tasks: number;
  /** Runs: every method × λ combination × seeds. */
  runs: number;
  /** Accuracies kept in the results: runs × tasks² (the accuracy matrices), and the evaluation curves' points. */
  results: number;
  /** Epochs per task. */
  epochs: number;
  /** Iterations (optimizer steps) per task. */
  iterations: number;
  /** Optimizer steps per task that epochs ask for (epochs × training examples / batch size). */
  steps: number;
  /** Examples per batch: a batch is one tensor of batch × input floats. */
  batchSize: number;
}

export const DEFAULT_LIMITS: Readonly<ConfigLimits> = {
  tasks: 1000,
  runs: 1000,
  results: 10_000_000,
  epochs: 1000,
  iterations: 10_000_000,
  steps: 10_000_000,
  batchSize: 65_536,
};

/** The environment variable raising limits: `tasks=5000,runs=2000`. */
export const LIMITS_ENV = 'FORGETLESS_LIMITS';

/** Training examples per task assumed when the config does not limit them (MNIST's training set). */
const ASSUMED_TRAIN_EXAMPLES = 60_000;

/** A bad option: `option` is its name as the CLI spells it. */
export class ConfigError extends Error {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`option '${option}': ${message}`);
  }
}

const isPositiveInt = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1;
const isFinitePositive = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n > 0;
const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? `[${v.join(', ')}]` : String(v));

function positiveInt(option: string, v: unknown): number {
  if (!isPositiveInt(v)) throw new ConfigError(option, `must be a positive integer, got ${show(v)}`);
  return v;
}

/** Checks a λ grid: finite numbers ≥ 0, at least one. */
export function checkLambdas(option: string, lambdas: unknown): number[] {
  if (!Array.isArray(lambdas) || lambdas.length === 0) throw new ConfigError(option, `needs at least one λ, got ${show(lambdas)}`);
  for (const l of lambdas) {
    if (typeof l !== 'number' || !Number.isFinite(l) || l < 0) throw new ConfigError(option, `λ must be a finite number ≥ 0, got ${show(l)}`);
  }
  return [...new Set(lambdas as number[])];
}

function checkVariant(v: VariantConfig, i: number): VariantConfig {
  const where = `methods[${i}]`;
  let family: MethodFamily;
  try {
    family = methodDefinition(v.method).family;
  } catch (e) {
    if (e instanceof MethodError) throw new ConfigError('methods', e.message);
    throw e;
  }
  if (v.attenuation !== undefined && !(['hyperbolic', 'exponential'] as AttenuationName[]).includes(v.attenuation)) {
    throw new ConfigError(`${where}.attenuation`, `expected hyperbolic or exponential, got ${show(v.attenuation)}`);
  }
  if (v.applyTo !== undefined && !(['gradients', 'steps'] as ApplyTo[]).includes(v.applyTo)) {
    throw new ConfigError(`${where}.applyTo`, `expected gradients or steps, got ${show(v.applyTo)}`);
  }
  if (v.convention !== undefined && !(['lambda', 'half-lambda'] as Convention[]).includes(v.convention)) {
    throw new ConfigError(`${where}.convention`, `expected lambda or half-lambda, got ${show(v.convention)}`);
  }
  if (v.mode !== undefined && !['online', 'separate', 'decay'].includes(v.mode)) throw new ConfigError(`${where}.mode`, `expected online, separate or decay, got ${show(v.mode)}`);
  if (v.mode !== undefined && family !== 'ewc') throw new ConfigError(`${where}`, `mode is an EWC option, not ${v.method}'s`);
  if ((v.attenuation || v.applyTo) && family !== 'wva') throw new ConfigError(`${where}`, `attenuation and applyTo are WVA options, not ${v.method}'s`);
  if (v.optimizer !== undefined && !OPTIMIZERS.includes(v.optimizer)) throw new ConfigError(`${where}.optimizer`, `expected sgd or adam, got ${show(v.optimizer)}`);
  if (v.learningRate !== undefined && !isFinitePositive(v.learningRate)) throw new ConfigError('lr', `must be a positive number, got ${show(v.learningRate)}`);
  const lambdas = hasLambda(v.method) ? checkLambdas('lambda', v.lambdas) : [0];
  return { ...v, lambdas };
}

function limitsOf(c: ExperimentConfig, env: Readonly<Record<string, string | undefined>>): ConfigLimits {
  const limits: ConfigLimits = { ...DEFAULT_LIMITS };
  const known = Object.keys(DEFAULT_LIMITS) as (keyof ConfigLimits)[];
  const set = (where: string, key: string, value: unknown) => {
    if (!(known as string[]).includes(key)) throw new ConfigError('limits', `${where}: unknown limit '${key}' (known: ${known.join(', ')})`);
    if (!isPositiveInt(value))
      throw new ConfigError('limits', `${where === LIMITS_ENV ? `${LIMITS_ENV}: ${key}` : `limits.${key}`} must be a positive integer, got ${show(value)}`);
    limits[key as keyof ConfigLimits] = value;
  };
  const text = env[LIMITS_ENV];
  if (text !== undefined && text.trim() !== '') {
    for (const item of text.split(',').filter((t) => t.trim() !== '')) {
      const [key = '', value] = item.split('=').map((t) => t.trim());
      set(LIMITS_ENV, key, value === undefined || value === '' ? value : Number(value));
    }
  }
  if (c.limits !== undefined) {
    if (!c.limits || typeof c.limits !== 'object') throw new ConfigError('limits', `must be an object of limits, got ${show(c.limits)}`);
    for (const [key, value] of Object.entries(c.limits)) set('limits', key, value);
  }
  return limits;
}

/** Throws a ConfigError when `value` passes `limit`: the message gives the limit and how to raise it. */
function checkLimit(option: string, limits: ConfigLimits, key: keyof ConfigLimits, value: number, what: string, why: string): void {
  const max = limits[key];
  if (value <= max) return;
  const needed = Math.ceil(value);
  throw new ConfigError(
    option,
    `${what} more than the limit of ${max} (${why}); to allow it, set ${LIMITS_ENV}=${key}=${needed} in the environment, or limits: { ${key}: ${needed} } in the config`,
  );
}

/** What the config asks for, against the limits: tasks, runs, kept accuracies, epochs, steps, batch size. */
function checkLimits(c: ExperimentConfig, variants: readonly VariantConfig[], seeds: readonly number[], limits: ConfigLimits): void {
  const d = c.data;
  if (d.numTasks !== undefined)
    checkLimit('tasks', limits, 'tasks', d.numTasks, `${d.numTasks} tasks is`, 'each task keeps its data in memory and is evaluated after every later one');
  if (d.angles !== undefined)
    checkLimit('angles', limits, 'tasks', d.angles.length, `${d.angles.length} angles (tasks) is`, 'each task keeps its data in memory and is evaluated after every later one');
  const cells = variants.reduce((n, v) => n + v.lambdas.length, 0);
  const runs = cells * seeds.length;
  const widestGrid = Math.max(...variants.map((v) => v.lambdas.length));
  checkLimit(
    seeds.length >= widestGrid ? 'seeds' : 'lambda',
    limits,
    'runs',
    runs,
    `${runs} runs (${cells} method × λ combinations × ${seeds.length} seeds) is`,
    'each run trains every task and keeps its results',
  );
  const tasks = Math.min(d.numTasks ?? d.angles?.length ?? 10, d.sequence === 'split' ? 5 : Number.POSITIVE_INFINITY);
  const kept = runs * tasks * tasks;
  checkLimit('tasks', limits, 'results', kept, `${tasks} tasks × ${runs} runs keep ${kept} accuracies (runs × tasks²),`, 'the results hold every accuracy matrix');
  checkLimit('batch-size', limits, 'batchSize', c.batchSize, `${c.batchSize} examples per batch is`, 'a batch is one tensor of batch size × input values');
  let steps: number;
  if (c.iterations !== undefined) {
    checkLimit('iterations', limits, 'iterations', c.iterations, `${c.iterations} iterations per task is`, 'training time grows with them');
    steps = c.iterations;
  } else {
    const epochs = c.epochs ?? 1;
    checkLimit('epochs', limits, 'epochs', epochs, `${epochs} epochs per task is`, 'training time grows with them');
    const examples = d.trainLimit ?? ASSUMED_TRAIN_EXAMPLES;
    steps = epochs * Math.ceil(examples / c.batchSize);
    checkLimit(
      'epochs',
      limits,
      'steps',
      steps,
      `about ${steps} steps per task (${epochs} epochs × ${examples} examples / batch size ${c.batchSize}) is`,
      'training time grows with them',
    );
  }
  if (c.evaluateEvery !== undefined) {
    const points = Math.ceil(steps / c.evaluateEvery);
    const recorded = runs * points * ((tasks * (tasks + 1)) / 2);
    checkLimit(
      'evaluate-every',
      limits,
      'results',
      recorded,
      `evaluating every ${c.evaluateEvery} steps records about ${recorded} accuracies (${runs} runs × ${points} points per task × the tasks seen so far),`,
      'the results hold every curve',
    );
  }
}

export interface ValidateOptions {
  /** Where `FORGETLESS_LIMITS` is read (default `process.env` where there is one). */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Validates a config (throws `ConfigError` naming the option) and returns it normalised: λ grids
 * deduplicated, plain's λ set to [0], the model spec checked by building it (so a tfjs backend
 * must be active). What it asks for is checked against `ConfigLimits` (raised by `limits` or the
 * `FORGETLESS_LIMITS` environment variable) before anything is built.
 */
export function validateConfig(config: ExperimentConfig, options: ValidateOptions = {}): ExperimentConfig {
  const c = config;
  if (!c || typeof c !== 'object') throw new ConfigError('config', 'must be an object');
  const env = options.env ?? (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  const limits = limitsOf(c, env);
  if (typeof c.data?.dataset !== 'string' || c.data.dataset.length === 0) throw new ConfigError('dataset', `must name a dataset or folder, got ${show(c.data?.dataset)}`);
  if (!SEQUENCES.includes(c.data.sequence)) throw new ConfigError('sequence', `unknown sequence ${show(c.data.sequence)} (known: ${SEQUENCES.join(', ')})`);
  if (c.data.scenario !== undefined) {
    if (!SCENARIOS.includes(c.data.scenario)) throw new ConfigError('scenario', `unknown scenario ${show(c.data.scenario)} (known: ${SCENARIOS.join(', ')})`);
    if (c.data.sequence !== 'split' && c.data.sequence !== 'permuted' && c.data.scenario !== 'domain') {
      throw new ConfigError(
        'scenario',
        `the ${c.data.sequence} sequence is domain-incremental only (its tasks share labels); --scenario task and class are for split and permuted`,
      );
    }
  }
  if (c.data.numTasks !== undefined) positiveInt('tasks', c.data.numTasks);
  if (c.data.trainLimit !== undefined) positiveInt('train-limit', c.data.trainLimit);
  if (c.data.validation !== undefined && !(Number.isInteger(c.data.validation) && c.data.validation >= 0)) {
    throw new ConfigError('validation', `must be a whole number of examples ≥ 0, got ${show(c.data.validation)}`);
  }
  if (c.data.angles !== undefined && (!Array.isArray(c.data.angles) || c.data.angles.some((a) => !Number.isFinite(a)))) {
    throw new ConfigError('angles', `must be numbers (degrees), got ${show(c.data.angles)}`);
  }
  if (typeof c.model !== 'string') throw new ConfigError('model', `must be a model spec, got ${show(c.model)}`);
  try {
    modelFromSpec(c.model, { seed: 0 }).dispose();
  } catch (e) {
    throw new ConfigError('model', (e as Error).message);
  }
  if (!OPTIMIZERS.includes(c.optimizer)) throw new ConfigError('optimizer', `expected sgd or adam, got ${show(c.optimizer)}`);
  if (!isFinitePositive(c.learningRate)) throw new ConfigError('lr', `must be a positive number, got ${show(c.learningRate)}`);
  if (c.iterations !== undefined) positiveInt('iterations', c.iterations);
  else positiveInt('epochs', c.epochs ?? 1);
  positiveInt('batch-size', c.batchSize);
  if (!Array.isArray(c.seeds) || c.seeds.length === 0 || c.seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new ConfigError('seeds', `must be whole numbers ≥ 0, at least one, got ${show(c.seeds)}`);
  }
  positiveInt('importance-limit', c.importanceLimit);
  if (c.evalLimit !== undefined) positiveInt('eval-limit', c.evalLimit);
  if (c.evaluateEvery !== undefined) positiveInt('evaluate-every', c.evaluateEvery);
  if (c.evaluateOn !== undefined && c.evaluateOn !== 'seen' && c.evaluateOn !== 'all') throw new ConfigError('evaluate-on', `expected seen or all, got ${show(c.evaluateOn)}`);
  if (c.head !== undefined) {
    if (!HEADS.includes(c.head)) throw new ConfigError('head', `expected ${HEADS.join(', ')}, got ${show(c.head)}`);
    const scenario = effectiveScenario(c.data);
    if (c.head === 'multi' && scenario !== 'task')
      throw new ConfigError('head', `multi (one head per task) needs the task-incremental scenario (--scenario task), got ${scenario}`);
    if (c.head === 'grow' && scenario !== 'class')
      throw new ConfigError('head', `grow (a head that grows with the classes) needs the class-incremental scenario (--scenario class), got ${scenario}`);
  }
  if (!BACKENDS.includes(c.backend)) throw new ConfigError('backend', `unknown backend ${show(c.backend)} (known: ${BACKENDS.join(', ')})`);
  if (!Array.isArray(c.variants) || c.variants.length === 0) throw new ConfigError('methods', 'needs at least one method');
  const variants = c.variants.map(checkVariant);
  const seeds = [...new Set(c.seeds)];
  checkLimits(c, variants, seeds, limits);
  return { ...c, seeds, variants };
}

/** The scenario a data config runs: its own, else the sequence's default (split: task; the others: domain). */
export function effectiveScenario(data: DataConfig): Scenario {
  return data.scenario ?? (data.sequence === 'split' ? 'task' : 'domain');
}

/** Runs in the experiment: variants × λ × seeds, in that order. */
export interface RunKey {
  variant: number;
  lambda: number;
  seed: number;
}

export function runKeys(config: ExperimentConfig): RunKey[] {
  const out: RunKey[] = [];
  config.variants.forEach((v, variant) => {
    for (const lambda of v.lambdas) for (const seed of config.seeds) out.push({ variant, lambda, seed });
  });
  return out;
}
