/**
 * An incremental classifier head (class-incremental learning): `growHead(model, units)` returns a
 * copy of a `Sequential` classifier whose last Dense layer has `units` outputs. The old units keep
 * their weights bitwise (so their logits are unchanged), the new ones start at zero (kernel columns
 * and bias), every other weight and state is copied. Train the grown model on the new classes: a
 * class-incremental sequence can grow the head task by task (`trainContinual` per task, with the
 * plugins' state carried over), or keep one head over every class from the start (docs/methods.md §10).
 * The caller disposes the old model (and makes a new optimizer: the parameter shapes changed).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Task } from './data.js';
import { toVariable } from './init.js';
import type { Dense } from './layers/dense.js';
import { type Sequential, modelFromConfig } from './model.js';
import type { ParamMap } from './params.js';

export function growHead(model: Sequential, units: number): Sequential {
  const config = model.config();
  let at = -1;
  config.layers.forEach((l, i) => {
    if (l.kind === 'dense') at = i;
  });
  if (at < 0) throw new Error('growHead: the model has no Dense layer to grow');
  const head = config.layers[at] as (typeof config.layers)[number] & { units: number };
  const before = head.units;
  if (!Number.isInteger(units) || units <= before) throw new Error(`growHead: units must be an integer above the head's ${before}, got ${units}`);
  config.layers[at] = { ...head, units };
  const grown = modelFromConfig(config);
  const name = (model.layers[at] as { name: string }).name;
  const old = model.getWeights({ state: true });
  const weights: ParamMap = { ...old };
  const extra: tf.Tensor[] = [];
  try {
    for (const local of ['kernel', 'bias']) {
      const key = `${name}/${local}`;
      const w = old[key];
      if (!w) continue;
      const pad = tf.zeros(local === 'kernel' ? [w.shape[0] as number, units - before] : [units - before]);
      const wide = tf.concat([w, pad], local === 'kernel' ? 1 : 0);
      extra.push(pad, wide);
      weights[key] = wide;
    }
    grown.setWeights(weights);
  } catch (e) {
    grown.dispose();
    throw e;
  } finally {
    tf.dispose([...Object.values(old), ...extra]);
  }
  return grown;
}

/** Index of the classifier head of a Sequential: its last Dense layer, followed only by activations. */
function headIndex(model: Sequential, what: string): number {
  let at = -1;
  model.layers.forEach((l, i) => {
    if (l.kind === 'dense') at = i;
  });
  if (at < 0) throw new Error(`${what}: the model has no Dense layer to grow`);
  const after = model.layers.slice(at + 1).find((l) => l.kind !== 'activation' && l.kind !== 'dropout');
  if (after) throw new Error(`${what}: the head '${model.layers[at]?.name}' is followed by '${after.name}' (${after.kind}); only activations may follow it`);
  return at;
}

/** What `widenHead` changed: the head's parameters, their old and new shapes (the last axis grew). */
export interface HeadGrowth {
  /** Parameter name → [old shape, new shape]. */
  params: Record<string, { before: number[]; after: number[] }>;
  from: number;
  to: number;
}

/**
 * `growHead` in place, for a model in training (`trainContinual({ growHead: true })`): the head's
 * kernel [in, k] and bias [k] variables are replaced by [in, units] and [units] ones whose first k
 * columns are the old values bitwise and whose new columns are zero; `model.params` keeps its order
 * (same names, new variables), `numClasses` becomes `units`. Whoever holds per-parameter state for
 * the head (optimizer slots, plugins' importances and anchors) must widen it too: trainContinual
 * does (zeros: the new units have no history).
 */
export function widenHead(model: Sequential, units: number): HeadGrowth {
  const at = headIndex(model, 'widenHead');
  const layer = model.layers[at] as Dense;
  const before = layer.options.units;
  if (!Number.isInteger(units) || units <= before) throw new Error(`widenHead: units must be an integer above the head's ${before}, got ${units}`);
  const growth: HeadGrowth = { params: {}, from: before, to: units };
  for (const local of ['kernel', 'bias'] as const) {
    const old = layer.params[local];
    if (!old) continue;
    const axis = old.rank - 1;
    const wide = tf.tidy(() => {
      const padShape = [...old.shape];
      padShape[axis] = units - before;
      return tf.concat([old, tf.zeros(padShape, old.dtype)], axis);
    });
    const v = toVariable(wide, true);
    const name = `${layer.name}/${local}`;
    growth.params[name] = { before: [...old.shape], after: [...v.shape] };
    layer.params[local] = v;
    (model.params as ParamMap<tf.Variable>)[name] = v;
    old.dispose();
  }
  (layer.options as { units: number }).units = units;
  const shape = model.shapes[layer.name];
  if (shape) shape.output = [units];
  for (const l of model.layers.slice(at + 1)) {
    const s = model.shapes[l.name];
    if (s) s.input = s.output = [units];
  }
  (model.outputShape as number[])[model.outputShape.length - 1] = units;
  return growth;
}

/**
 * The head width tasks 0..upTo need: 1 + their largest class (`Task.labels`); throws naming a task
 * that does not list its classes.
 */
export function headWidth(tasks: readonly Task[], upTo: number): number {
  let width = 0;
  for (const t of tasks.slice(0, upTo + 1)) {
    const labels = t.labels ?? t.classes;
    if (!labels || labels.length === 0)
      throw new Error(`growHead: task '${t.name}' does not list its classes (Task.labels); a growing head needs them (class-incremental split and permuted sequences set them)`);
    width = Math.max(width, ...labels.map((c) => c + 1));
  }
  return width;
}

/**
 * A fresh classifier like `model` (same config and seed) whose head has `units` outputs: the start of
 * a growing head, as wide as the first task's classes.
 */
export function withHeadWidth(model: Sequential, units: number): Sequential {
  const config = model.config();
  const at = headIndex(model, 'withHeadWidth');
  if (!Number.isInteger(units) || units < 1) throw new Error(`withHeadWidth: units must be a positive integer, got ${units}`);
  config.layers[at] = { ...(config.layers[at] as (typeof config.layers)[number]), units };
  return modelFromConfig(config);
}
