// Helpers of the structural-pruning tests: masking groups to zero, seeded inputs and BN statistics.
import * as tf from '@tensorflow/tfjs-core';
import { type GraphModel, Rng, type Sequential } from '@forgetless/core';
import type { DependencyGroups } from './groups.js';
import { removedIndices } from './remove.js';
import { forEachInSlice } from './score.js';

/** Zeroes every trainable slice of the groups `ids` in place (the masked model). */
export function maskGroups(model: GraphModel | Sequential, deps: DependencyGroups, ids: number[]): void {
  const gone = removedIndices(deps, ids);
  for (const [name, axes] of gone) {
    const v = model.params[name];
    if (!v) continue; // state (moving statistics) is not masked
    const values = Float32Array.from(v.dataSync() as Float32Array);
    for (const [axis, set] of axes) for (const i of set) forEachInSlice(v.shape, axis, i, (k) => (values[k] = 0));
    const t = tf.tensor(values, v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
}

export function randomBatch(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    shape,
  );
}

/** Seeded non-trivial weights and batch-norm statistics (variances positive). */
export function randomizeState(model: GraphModel | Sequential, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, v] of Object.entries({ ...model.params, ...model.state })) {
    const variance = name.endsWith('moving_variance');
    const t = tf.tensor(
      Float32Array.from({ length: v.size }, () => (variance ? 0.5 + rng.next() : rng.normal() * 0.3)),
      v.shape,
      'float32',
    );
    v.assign(t);
    t.dispose();
  }
}
