/**
 * runFinetune: fine-tuning one pretrained model on new data without forgetting its old data, with
 * several methods side by side. Every run starts from the pretrained weights:
 *
 *   1. consolidate on the old data: each plugin computes the importance of the pretrained weights on
 *      old training examples (no training first) and anchors at them (EWC, stabilised EWC) or
 *      attenuates by them (WVA); plain fine-tuning has no plugin;
 *   2. train on the new data (`trainContinual`, one task, same seed and data order for every run);
 *   3. measure old- and new-data accuracy and loss (and, with `recalibrate`, re-estimate the batch-norm
 *      statistics on old + new training images first).
 *
 * Accuracy is measured two ways: over all of the model's outputs (what the model predicts, the
 * number that matters when old and new classes share one head), and over the part's own classes only
 * (`oldOwn`, `newOwn`: which of its classes an image belongs to, given that it is an old or a new
 * image; the task-incremental reading, what the features still know). With the same classes in old
 * and new data they are equal.
 *
 * A run whose loss or weights turn NaN or infinite is marked diverged where it happened; its
 * metrics are NaN and it is never selected. The best λ per method follows a stated rule
 * (`FinetuneConfig.maxOldDrop`).
 *
 * Browser-safe: no node:* imports. The CLI and the page both drive it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type DataSource,
  type Divergence,
  type GraphModel,
  type ParamMap,
  type Plugin,
  type ProgressEvent,
  type Task,
  type TrainingWarning,
  consolidate,
  evaluate,
  kernelThreadsStatus,
  trainContinual,
  yieldToEventLoop,
} from '@forgetless/core';
import { createPlugins, variantLabel } from '@forgetless/experiments';
import { createOptimizer } from '@forgetless/experiments';
import { variantOptimizer } from '@forgetless/experiments';
import { type FinetuneConfig, finetuneKeys, matchLayers, validateFinetuneConfig } from './config.js';

/** Old or new data: training examples (importances / fine-tuning), test examples, and the model classes they use. */
export interface FinetunePart {
  train: DataSource;
  test: DataSource;
  /** The model's output indices of this part's classes. */
  classes: readonly number[];
  /** For reports: where the data came from. */
  description: string;
}

export interface FinetuneData {
  old: FinetunePart;
  new: FinetunePart;
  /** Names of the model's outputs (after any head change). */
  classNames: readonly string[];
  /**
   * With a replaced head: the pretrained model with its own head. The old data is consolidated and
   * measured through it, on the body being fine-tuned (its weights are copied over first); the old
   * part's classes are its outputs. The head layer's importances are left out of the plugins' state.
   */
  oldHead?: { model: GraphModel; layer: string };
}

export interface FinetuneMetrics {
  /** Accuracy over all outputs. */
  old: number;
  new: number;
  /** Accuracy over the part's own classes. */
  oldOwn: number;
  newOwn: number;
  /** Cross-entropy over all outputs. */
  oldLoss: number;
  newLoss: number;
}

export interface FinetuneRecord {
  /** Index in `finetuneKeys(config)`. */
  index: number;
  variant: string;
  method: string;
  lambda: number;
  after: FinetuneMetrics;
  /** With batch norm `recalibrate`: the metrics before the statistics were re-estimated. */
  afterTraining?: FinetuneMetrics;
  /** Seconds: consolidating on old data, fine-tuning, the whole run. */
  consolidateSeconds: number;
  trainSeconds: number;
  seconds: number;
  steps: number;
  /** The last training loss reported. */
  finalLoss?: number;
  diverged?: string;
  divergence?: Divergence | { reason: 'importance'; message: string };
  warnings?: TrainingWarning[];
  cancelled: boolean;
}

export interface FinetuneSelection {
  variant: string;
  /** The selected record's index, absent when every run of the variant diverged. */
  index?: number;
  /** True when the selected λ kept the old-data accuracy within maxOldDrop. */
  withinRule: boolean;
}

export interface FinetuneResult {
  config: FinetuneConfig;
  classNames: string[];
  /** The pretrained model (after any head change), before fine-tuning. */
  before: FinetuneMetrics;
  runs: FinetuneRecord[];
  selection: FinetuneSelection[];
  /** The rule the selection followed, in words. */
  rule: string;
  backend: string;
  /** Threads forgetless's kernels ran on (wasm on tfjs's threaded build: more than 1). */
  threads: number;
  cancelled: boolean;
  /** Layers frozen while fine-tuning (by --freeze and batch norm `frozen`). */
  frozen: string[];
}

export type FinetuneEvent =
  | { kind: 'measure'; what: 'before' | 'after'; run?: number }
  | { kind: 'run-start'; run: number; runs: number; label: string; lambda: number }
  | { kind: 'consolidate'; run: number; runs: number; label: string; lambda: number; seconds?: number }
  | { kind: 'progress'; run: number; runs: number; label: string; lambda: number; event: ProgressEvent }
  | { kind: 'run-end'; run: number; runs: number; record: FinetuneRecord; before: FinetuneMetrics };

export interface FinetuneRunOptions {
  onEvent?: (event: FinetuneEvent) => void;
  signal?: AbortSignal;
  /** Records of runs already finished (a resumed comparison skips them). */
  done?: readonly FinetuneRecord[];
  /** After each finished run, with the model holding its fine-tuned weights (save it here). */
  onRunEnd?: (record: FinetuneRecord, model: GraphModel) => Promise<void> | void;
  /** Steps between progress events (default 10). */
  progressEvery?: number;
}

const now = () => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/** Copies every weight of `from` but the head layer's into the old-head model (the body being fine-tuned). */
export function syncBody(from: GraphModel, oldHead: NonNullable<FinetuneData['oldHead']>): void {
  const skip = `${oldHead.layer}/`;
  const target = { ...oldHead.model.params, ...oldHead.model.state };
  const source = { ...from.params, ...from.state };
  for (const [name, v] of Object.entries(target)) {
    if (name.startsWith(skip)) continue;
    const w = source[name];
    if (!w) throw new Error(`finetune: the model has no weight '${name}' to copy into the old-head model`);
    v.assign(w);
  }
}

/** Old- and new-data accuracy and loss of the model as it is (old data through the old head, when replaced). */
export async function measureFinetune(model: GraphModel, data: FinetuneData, config: Pick<FinetuneConfig, 'evalLimit' | 'evalBatchSize'>): Promise<FinetuneMetrics> {
  const opts = { batchSize: config.evalBatchSize ?? 100, ...(config.evalLimit !== undefined ? { limit: config.evalLimit } : {}) };
  const oldModel = data.oldHead ? data.oldHead.model : model;
  if (data.oldHead) syncBody(model, data.oldHead);
  const oldAll = await evaluate(oldModel, data.old.test, opts);
  const newAll = await evaluate(model, data.new.test, opts);
  const own = async (m: GraphModel, src: DataSource, classes: readonly number[], whole: number) =>
    classes.length === m.numClasses ? whole : (await evaluate(m, src, { ...opts, classes })).accuracy;
  return {
    old: oldAll.accuracy,
    new: newAll.accuracy,
    oldOwn: await own(oldModel, data.old.test, data.old.classes, oldAll.accuracy),
    newOwn: await own(model, data.new.test, data.new.classes, newAll.accuracy),
    oldLoss: oldAll.loss,
    newLoss: newAll.loss,
  };
}

/**
 * Consolidates through the old head (a replaced head): the plugins compute importances and anchors
 * on the old-head model, then the head layer's entries are dropped from their state, so that the
 * new head trains freely and the body is held.
 */
export async function consolidateThroughOldHead(
  model: GraphModel,
  oldHead: NonNullable<FinetuneData['oldHead']>,
  task: Task,
  plugins: readonly Plugin[],
  options: { learningRate: number; seed: number },
): Promise<number> {
  syncBody(model, oldHead);
  const ms = await consolidate(oldHead.model, task, plugins, options);
  const escaped = oldHead.layer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const headKey = new RegExp(`(^|/)${escaped}/`);
  for (const p of plugins) {
    if (!p.getState || !p.setState) throw new Error(`finetune: plugin '${p.name}' cannot leave the replaced head out of its state`);
    const state = p.getState();
    const kept: ParamMap = {};
    for (const [k, v] of Object.entries(state.tensors)) if (!headKey.test(k)) kept[k] = tf.clone(v);
    try {
      p.setState({ tensors: kept, meta: state.meta });
    } finally {
      tf.dispose(Object.values(kept));
    }
  }
  return ms;
}

/** The layers `config` freezes in `model` (patterns expanded), batch norm included when `frozen`; throws naming a pattern that matches nothing. */
export function layersToFreeze(model: GraphModel, config: Pick<FinetuneConfig, 'freeze' | 'batchNorm'>): string[] {
  const names = model.layers.map((l) => l.name);
  const out = new Set<string>();
  for (const p of config.freeze) {
    const hits = matchLayers(p, names);
    if (hits.length === 0) {
      const near = names.filter((n) => n.toLowerCase().includes(p.replace(/[*?]/g, '').toLowerCase())).slice(0, 5);
      throw new Error(
        `option '--freeze': '${p}' matches no layer${near.length ? ` (similar: ${near.join(', ')})` : ''}; layers: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', ...' : ''}`,
      );
    }
    for (const h of hits) out.add(h);
  }
  if (config.batchNorm === 'frozen') for (const l of model.layers) if (l.kind === 'batchNorm') out.add(l.name);
  return names.filter((n) => out.has(n));
}

/**
 * Re-estimates every batch norm's moving statistics: training-mode forward passes (each layer's own
 * momentum update) over batches of old and new training images side by side; no gradient.
 */
export async function recalibrateBatchNorm(model: GraphModel, data: FinetuneData, options: { steps?: number; batchSize?: number; seed?: number } = {}): Promise<void> {
  const steps = options.steps ?? 40;
  const bs = options.batchSize ?? 32;
  const take = (src: DataSource, seed: number) => [...src.batches(bs, { limit: steps * bs, shuffle: true, seed })];
  const olds = take(data.old.train, (options.seed ?? 0) + 3);
  const news = take(data.new.train, (options.seed ?? 0) + 4);
  try {
    for (let i = 0; i < steps; i++) {
      const o = olds[i % olds.length];
      const n = news[i % news.length];
      if (!o || !n) break;
      tf.tidy(() => {
        model.logits(tf.concat([o.x, n.x]), { training: true });
      });
      if (i % 8 === 7) await yieldToEventLoop();
    }
  } finally {
    tf.dispose([...olds, ...news].flatMap((b) => [b.x, b.y]));
  }
}

/** The errors forgetless raises when values blew up (NaN or infinite). */
function isDivergence(e: unknown): boolean {
  return e instanceof Error && /NaN|Infinity|infinite/.test(e.message);
}

/** The selection rule in words. */
export function selectionRule(maxOldDrop: number): string {
  return `per method, the λ with the best new-data accuracy among those whose old-data accuracy (over all outputs) fell by at most ${maxOldDrop}; when none did, the λ whose old-data accuracy fell least`;
}

/** Applies the rule to the records of each variant. */
export function selectBest(config: FinetuneConfig, runs: readonly FinetuneRecord[], before: FinetuneMetrics): FinetuneSelection[] {
  return config.variants.map((v) => {
    const label = variantLabel(v);
    const mine = runs.filter((r) => r.variant === label && !r.diverged && !r.cancelled);
    if (mine.length === 0) return { variant: label, withinRule: false };
    const drop = (r: FinetuneRecord) => before.old - r.after.old;
    const within = mine.filter((r) => drop(r) <= config.maxOldDrop + 1e-12);
    if (within.length) {
      const best = within.reduce((a, b) => (b.after.new > a.after.new || (b.after.new === a.after.new && drop(b) < drop(a)) ? b : a));
      return { variant: label, index: best.index, withinRule: true };
    }
    const least = mine.reduce((a, b) => (drop(b) < drop(a) || (drop(b) === drop(a) && b.after.new > a.after.new) ? b : a));
    return { variant: label, index: least.index, withinRule: false };
  });
}

/**
 * Fine-tunes `model` (the pretrained model, its head already as it should be) with every method ×
 * λ of `config`; the model holds its pretrained weights again when this returns.
 */
export async function runFinetune(model: GraphModel, data: FinetuneData, rawConfig: FinetuneConfig, options: FinetuneRunOptions = {}): Promise<FinetuneResult> {
  const config = validateFinetuneConfig(rawConfig);
  if (data.classNames.length !== model.numClasses) {
    throw new Error(`runFinetune: ${data.classNames.length} class names for a model with ${model.numClasses} outputs`);
  }
  for (const [part, p, m] of [
    ['old', data.old, data.oldHead?.model ?? model],
    ['new', data.new, model],
  ] as const) {
    const bad = p.classes.find((c) => !(Number.isInteger(c) && c >= 0 && c < m.numClasses));
    if (bad !== undefined) throw new Error(`runFinetune: ${part} data uses class ${bad}, beyond the model's ${m.numClasses} outputs`);
    if (p.train.size === 0 || p.test.size === 0) throw new Error(`runFinetune: the ${part} data (${p.description}) has no ${p.train.size === 0 ? 'training' : 'test'} examples`);
  }
  const keys = finetuneKeys(config);
  const frozen = layersToFreeze(model, config);
  const changed = model.setTrainable(frozen, false);
  // the old-head model holds the same body: the same layers frozen, so its importances cover what trains
  const oldHeadChanged = data.oldHead
    ? data.oldHead.model.setTrainable(
        frozen.filter((n) => n !== data.oldHead?.layer),
        false,
      )
    : [];
  const start: ParamMap = model.getWeights();
  const runs: FinetuneRecord[] = [...(options.done ?? [])];
  const done = new Set(runs.map((r) => r.index));
  let cancelled = false;
  try {
    options.onEvent?.({ kind: 'measure', what: 'before' });
    const before = await measureFinetune(model, data, config);
    const oldTask: Task = { name: 'old (pretrained)', train: data.old.train, test: data.old.test };
    const newTask: Task = { name: 'new', train: data.new.train, test: data.new.test };
    for (let index = 0; index < keys.length; index++) {
      if (done.has(index)) continue;
      if (options.signal?.aborted) {
        cancelled = true;
        break;
      }
      const key = keys[index] as (typeof keys)[number];
      const variant = config.variants[key.variant] as FinetuneConfig['variants'][number];
      const label = variantLabel(variant);
      const { optimizer: optName, learningRate } = variantOptimizer({ ...config, name: 'finetune' } as never, variant);
      const t0 = now();
      model.setWeights(start);
      const plugins: Plugin[] = createPlugins(variant, key.lambda, { learningRate, importanceLimit: config.importanceLimit, importanceBatchSize: config.evalBatchSize ?? 100 });
      const optimizer = createOptimizer(optName, learningRate);
      const base = { run: index, runs: keys.length, label, lambda: key.lambda };
      options.onEvent?.({ kind: 'run-start', ...base });
      const record: FinetuneRecord = {
        index,
        variant: label,
        method: variant.method,
        lambda: key.lambda,
        after: nanMetrics(),
        consolidateSeconds: 0,
        trainSeconds: 0,
        seconds: 0,
        steps: 0,
        cancelled: false,
      };
      try {
        if (plugins.length) {
          options.onEvent?.({ kind: 'consolidate', ...base });
          const ms = data.oldHead
            ? await consolidateThroughOldHead(model, data.oldHead, oldTask, plugins, { learningRate, seed: config.seed })
            : await consolidate(model, oldTask, plugins, { learningRate, seed: config.seed });
          record.consolidateSeconds = ms / 1000;
          options.onEvent?.({ kind: 'consolidate', ...base, seconds: record.consolidateSeconds });
        }
        const result = await trainContinual(model, [newTask], {
          optimizer,
          plugins,
          epochs: config.epochs,
          batchSize: config.batchSize,
          seed: config.seed,
          learningRate,
          consolidateLast: false,
          evalBatchSize: config.evalBatchSize ?? 100,
          ...(config.evalLimit !== undefined ? { evalLimit: config.evalLimit } : {}),
          progressEvery: options.progressEvery ?? 10,
          ...(options.signal ? { signal: options.signal } : {}),
          onProgress: (event) => {
            if (event.loss !== undefined) record.finalLoss = event.loss;
            options.onEvent?.({ kind: 'progress', ...base, event });
          },
        });
        record.trainSeconds = (result.timings[0]?.trainMs ?? 0) / 1000;
        record.steps = result.timings[0]?.steps ?? 0;
        if (result.warnings.length) record.warnings = result.warnings.map((w) => ({ ...w }));
        if (result.cancelled) {
          record.cancelled = true;
        } else if (result.diverged) {
          record.diverged = result.diverged.message;
          record.divergence = { ...result.diverged };
        } else {
          options.onEvent?.({ kind: 'measure', what: 'after', run: index });
          record.after = await measureFinetune(model, data, config);
          if (config.batchNorm === 'recalibrate') {
            record.afterTraining = record.after;
            await recalibrateBatchNorm(model, data, { seed: config.seed });
            record.after = await measureFinetune(model, data, config);
          }
          const bad = Object.entries(record.after).find(([, v]) => !Number.isFinite(v));
          if (bad) {
            record.diverged = `diverged: the fine-tuned model's ${bad[0]} is ${bad[1]}`;
            record.divergence = { reason: 'importance', message: record.diverged };
            record.after = nanMetrics();
          }
        }
      } catch (e) {
        if (!isDivergence(e)) throw e;
        record.diverged = `diverged while consolidating on the old data (${(e as Error).message})`;
        record.divergence = { reason: 'importance', message: record.diverged };
      } finally {
        for (const p of plugins) p.dispose?.();
        optimizer.dispose();
      }
      record.seconds = (now() - t0) / 1000;
      if (!record.cancelled && !record.diverged) await options.onRunEnd?.(record, model);
      if (record.cancelled) {
        cancelled = true;
        break;
      }
      runs.push(record);
      options.onEvent?.({ kind: 'run-end', run: index, runs: keys.length, record, before });
    }
    runs.sort((a, b) => a.index - b.index);
    return {
      config,
      classNames: [...data.classNames],
      before,
      runs,
      selection: selectBest(config, runs, before),
      rule: selectionRule(config.maxOldDrop),
      backend: tf.getBackend(),
      threads: tf.getBackend() === 'wasm' ? kernelThreadsStatus().threads : 1,
      cancelled,
      frozen,
    };
  } finally {
    model.setWeights(start);
    tf.dispose(Object.values(start));
    model.setTrainable(changed, true);
    if (data.oldHead) {
      syncBody(model, data.oldHead);
      data.oldHead.model.setTrainable(oldHeadChanged, true);
    }
  }
}

function nanMetrics(): FinetuneMetrics {
  return { old: Number.NaN, new: Number.NaN, oldOwn: Number.NaN, newOwn: Number.NaN, oldLoss: Number.NaN, newLoss: Number.NaN };
}
