/** Magnitude importance, the pruning baseline: I = |θ| for every trainable parameter. */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Model, mapParams } from '@forgetless/core';

export function magnitude(model: Model): ParamMap {
  return mapParams(model.params, (v) => tf.abs(v));
}
