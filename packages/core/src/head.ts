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
