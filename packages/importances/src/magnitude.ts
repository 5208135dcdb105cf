/** Magnitude importance, the pruning baseline: I = |θ| for every trainable parameter. */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Model, assertFiniteModel, mapParams } from '@forgetless/core';

/** |θ| per parameter. Throws, naming the parameter, when a weight is NaN or infinite (training diverged). */
export function magnitude(model: Model): ParamMap {
  assertFiniteModel(model.params, 'magnitude');
  return mapParams(model.params, (v) => tf.abs(v));
}
