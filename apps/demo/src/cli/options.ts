/**
 * From `forgetless run` flags to an ExperimentConfig: a preset or the default run, with every flag
 * given on top. Each bad value is a one-line usage error naming the flag.
 */
import {
  type BackendChoice,
  type ExperimentConfig,
  type HeadChoice,
  type Scenario,
  type SequenceName,
  BACKENDS,
  HEADS,
  SCENARIOS,
  SEQUENCES,
  checkLambdas,
  effectiveScenario,
} from '@forgetless/experiments';
import { type OptimizerName, type VariantSpec, defaultLambda, hasLambda, parseVariant, variantLabel } from '@forgetless/experiments';
import { PRESETS, PRESET_NAMES, type Preset, defaultConfig, isPresetName } from '@forgetless/experiments';
import { usage } from './errors.js';

export interface RunFlags {
  preset?: string;
  quick?: boolean;
  dataset?: string;
  sequence?: string;
  scenario?: string;
  head?: string;
  tasks?: string;
  model?: string;
  methods?: string;
  optimizer?: string;
  lr?: string;
  epochs?: string;
  iterations?: string;
  batchSize?: string;
  lambda?: string[];
  seeds?: string;
  repeats?: string;
  backend?: string;
  threads?: string;
  importanceSamples?: string;
  evalLimit?: string;
  evaluateEvery?: string;
  evaluateOn?: string;
  trainLimit?: string;
}

/** A number from a flag, or a usage error naming the flag. */
export function number(flag: string, text: string, kind: 'int' | 'positive' | 'nonneg' = 'positive'): number {
  const v = Number(text);
  const ok = text.trim() !== '' && Number.isFinite(v) && (kind === 'int' ? Number.isInteger(v) && v >= 1 : kind === 'positive' ? v > 0 : v >= 0);
  if (!ok) {
    const want = kind === 'int' ? 'a positive integer' : kind === 'positive' ? 'a positive number' : 'a number ≥ 0';
    throw usage(`--${flag}: expected ${want}, got '${text}'`);
  }
  return v;
}

/** `0,1,2` → [0, 1, 2]. */
export function parseSeeds(text: string): number[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (parts.length === 0) throw usage(`--seeds: expected whole numbers like 0,1,2, got '${text}'`);
  return parts.map((p) => {
    const v = Number(p);
    if (!Number.isInteger(v) || v < 0) throw usage(`--seeds: '${p}' is not a whole number ≥ 0`);
    return v;
  });
}

/** One `--lambda` value: `41`, `1,10,100` (every method with a λ) or `ewc-fis=10,41,85` (one method). */
export function parseLambdaSpec(text: string): { target?: string; lambdas: number[] } {
  const eq = text.indexOf('=');
  const target = eq >= 0 ? text.slice(0, eq).trim() : undefined;
  const list = (eq >= 0 ? text.slice(eq + 1) : text).split(',').map((s) => s.trim());
  const lambdas = list.map((s) => {
    const v = Number(s);
    if (s === '' || !Number.isFinite(v)) throw usage(`--lambda: '${s}' is not a number (in '${text}')`);
    if (v < 0) throw usage(`--lambda: λ must be ≥ 0, got ${s}`);
    return v;
  });
  return target ? { target, lambdas } : { lambdas };
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw usage(`--${flag}: unknown value '${value}' (expected ${allowed.join(', ')})`);
  return value as T;
}

/** The preset named by --preset, or undefined for the default run. */
export function presetOf(flags: RunFlags): Preset | undefined {
  if (flags.preset === undefined) return undefined;
  if (!isPresetName(flags.preset)) throw usage(`--preset: unknown preset '${flags.preset}' (known: ${PRESET_NAMES.join(', ')})`);
  return PRESETS[flags.preset];
}

/** The experiment the flags describe (the pruning preset has no ExperimentConfig: see prune-preset). */
export function configFromFlags(flags: RunFlags): ExperimentConfig {
  const preset = presetOf(flags);
  if (preset && !preset.config) throw usage(`--preset ${preset.name} is not a continual-learning experiment`);
  const base: ExperimentConfig = preset?.config ? preset.config({ quick: !!flags.quick }) : quickDefault(flags);
  const c: ExperimentConfig = { ...base, data: { ...base.data } };
  if (flags.dataset !== undefined) {
    const names = flags.dataset
      .split(',')
      .map((d) => d.trim())
      .filter(Boolean);
    if (names.length === 0) throw usage(`--dataset: expected a dataset name or folder, got '${flags.dataset}'`);
    c.data.dataset = names[0] as string;
    if (names.length > 1)
      c.data.datasets = names; // the queue's datasets, in order
    else delete c.data.datasets;
  }
  if (flags.sequence !== undefined) c.data.sequence = oneOf<SequenceName>('sequence', flags.sequence, SEQUENCES);
  if (flags.scenario !== undefined) c.data.scenario = oneOf<Scenario>('scenario', flags.scenario, SCENARIOS);
  if (flags.head !== undefined) c.head = oneOf<HeadChoice>('head', flags.head, HEADS);
  else if (preset?.heads) {
    // the preset's head for the scenario run (three-scenarios: multi-head task-IL, growing class-IL)
    const head = preset.heads[effectiveScenario(c.data)];
    if (head) c.head = head;
    else delete c.head;
  }
  if (flags.tasks !== undefined) c.data.numTasks = number('tasks', flags.tasks, 'int');
  if (c.data.datasets && c.data.sequence !== 'queue') throw usage(`--dataset: several datasets (${c.data.datasets.join(', ')}) make a queue: add --sequence queue`);
  if (flags.trainLimit !== undefined) c.data.trainLimit = number('train-limit', flags.trainLimit, 'int');
  if (flags.model !== undefined) c.model = flags.model;
  if (flags.optimizer !== undefined) {
    const opt = oneOf<OptimizerName>('optimizer', flags.optimizer, ['sgd', 'adam']);
    if (opt !== c.optimizer && flags.lr === undefined) c.learningRate = opt === 'sgd' ? 0.1 : 1e-3;
    c.optimizer = opt;
  }
  if (flags.lr !== undefined) c.learningRate = number('lr', flags.lr);
  if (flags.epochs !== undefined && flags.iterations !== undefined) throw usage('--epochs and --iterations exclude each other: pass one');
  if (flags.epochs !== undefined) {
    c.epochs = number('epochs', flags.epochs, 'int');
    delete c.iterations;
  }
  if (flags.iterations !== undefined) {
    c.iterations = number('iterations', flags.iterations, 'int');
    delete c.epochs;
  }
  if (flags.batchSize !== undefined) c.batchSize = number('batch-size', flags.batchSize, 'int');
  if (flags.seeds !== undefined && flags.repeats !== undefined) throw usage('--seeds and --repeats exclude each other: pass one');
  if (flags.seeds !== undefined) c.seeds = parseSeeds(flags.seeds);
  if (flags.repeats !== undefined) c.seeds = Array.from({ length: number('repeats', flags.repeats, 'int') }, (_, i) => i);
  if (flags.backend !== undefined) c.backend = oneOf<BackendChoice>('backend', flags.backend, BACKENDS);
  if (flags.importanceSamples !== undefined) c.importanceLimit = number('importance-samples', flags.importanceSamples, 'int');
  if (flags.evalLimit !== undefined) c.evalLimit = number('eval-limit', flags.evalLimit, 'int');
  if (flags.evaluateEvery !== undefined) c.evaluateEvery = number('evaluate-every', flags.evaluateEvery, 'int');
  if (flags.evaluateOn !== undefined) c.evaluateOn = oneOf<'seen' | 'all'>('evaluate-on', flags.evaluateOn, ['seen', 'all']);
  if (flags.methods !== undefined) {
    const specs = flags.methods
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (specs.length === 0) throw usage(`--methods: expected method names like plain,ewc-fis,wva-sig, got '${flags.methods}'`);
    c.variants = specs.map((s) => {
      const v: VariantSpec = parseVariant(s);
      return { ...v, lambdas: hasLambda(v.method) ? [defaultLambda(v.method, v.optimizer ?? c.optimizer)] : [0] };
    });
    if (!preset && flags.preset === undefined) c.name = 'custom';
  }
  applyLambdas(c, flags.lambda ?? []);
  return c;
}

/** The default run, named `custom` as soon as a flag changes what it trains. */
function quickDefault(flags: RunFlags): ExperimentConfig {
  const c = defaultConfig();
  const inert = ['backend', 'threads', 'quick', 'out', 'resume', 'progress', 'quiet', 'download', 'force'];
  const changed = Object.entries(flags).some(([k, v]) => v !== undefined && !inert.includes(k));
  return changed ? { ...c, name: 'custom' } : c;
}

function applyLambdas(c: ExperimentConfig, specs: string[]): void {
  for (const text of specs) {
    const { target, lambdas } = parseLambdaSpec(text);
    checkLambdas('lambda', lambdas);
    const hits = c.variants.filter((v) => hasLambda(v.method) && (target === undefined || v.method === target || variantLabel(v) === target));
    if (target !== undefined && hits.length === 0) {
      throw usage(`--lambda: '${target}' is not among the methods run (${c.variants.map(variantLabel).join(', ')})`);
    }
    for (const v of hits) v.lambdas = [...lambdas];
  }
}
