/**
 * Optimizers by name, and their state as a checkpoint can hold it: the step count and the slot
 * tensors of `optimizer.getWeights()` (Adam's first and second moments), in order, plus Adam's
 * running β₁ᵗ, β₂ᵗ, which tfjs's `setWeights` would otherwise recompute as pow(β, t + 1), a float32
 * value that can differ in the last bit from the product the optimizer accumulated. With them, a
 * resumed run takes bit-identical steps.
 *
 * Browser-safe: no node:* imports.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamMap } from '@forgetless/core';
import type { OptimizerName } from './methods.js';

export function createOptimizer(name: OptimizerName, learningRate: number): tf.Optimizer {
  if (name === 'sgd') return tf.train.sgd(learningRate);
  if (name === 'adam') return tf.train.adam(learningRate);
  throw new Error(`unknown optimizer '${String(name)}' (expected sgd or adam)`);
}

export interface OptimizerState {
  iterations: number;
  /** `slot/<i>` in getWeights order (after the step count), and `accBeta1` / `accBeta2` for Adam. */
  tensors: ParamMap;
}

interface AdamInternals {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

/**
 * The optimizer's state. The tensors are the optimizer's own (not copies): read or write them
 * before the next step, and do not dispose them.
 */
export async function optimizerState(optimizer: tf.Optimizer): Promise<OptimizerState> {
  const weights = await optimizer.getWeights();
  const [iter, ...slots] = weights;
  let iterations = 0;
  if (iter) {
    iterations = (await iter.tensor.data())[0] as number;
    iter.tensor.dispose(); // a fresh scalar made by saveIterations
  }
  const tensors: ParamMap = {};
  slots.forEach((s, i) => {
    tensors[`slot/${i}`] = s.tensor;
  });
  const adam = optimizer as unknown as AdamInternals;
  if (adam.accBeta1 && adam.accBeta2) {
    tensors.accBeta1 = adam.accBeta1;
    tensors.accBeta2 = adam.accBeta2;
  }
  return { iterations, tensors };
}

/** Restores a state taken from an optimizer of the same kind over the same parameters. */
export async function restoreOptimizer(optimizer: tf.Optimizer, state: OptimizerState): Promise<void> {
  const slotNames = Object.keys(state.tensors)
    .filter((k) => k.startsWith('slot/'))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const iter = tf.scalar(state.iterations, 'int32');
  try {
    await optimizer.setWeights([{ name: 'iter', tensor: iter }, ...slotNames.map((name) => ({ name, tensor: state.tensors[name] as tf.Tensor }))]);
  } finally {
    iter.dispose();
  }
  const adam = optimizer as unknown as AdamInternals;
  if (state.tensors.accBeta1 && adam.accBeta1) adam.accBeta1.assign(state.tensors.accBeta1);
  if (state.tensors.accBeta2 && adam.accBeta2) adam.accBeta2.assign(state.tensors.accBeta2);
}
