/**
 * An optimizer's step, in one kernel call where that gives the same values: tfjs's plain SGD and Adam
 * on wasm (`sgd-wasm.ts`, `adam-wasm.ts`: bit for bit what their `applyGradients` leaves, weights,
 * moments, β powers and iteration count); any other optimizer, backend or list of gradients its own
 * `applyGradients`. `trainStep` applies its gradients through it, and `@forgetless/optimizers`'
 * wrappers (`withTransforms`, `wva`) their base optimizer's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { adamUpdateInOne } from '../ops/adam-wasm.js';
import { sgdUpdateInOne } from '../ops/sgd-wasm.js';

/** A gradient by the name of its tf.Variable (tfjs's NamedTensor). */
export interface VariableGradient {
  name: string;
  tensor: tf.Tensor;
}

/** Applies the gradients (keyed or listed by tf.Variable name, in the order the optimizer expects) as `optimizer.applyGradients` would. */
export function applyGradientsInOne(optimizer: tf.Optimizer, variableGradients: tf.NamedTensorMap | VariableGradient[]): void {
  const list = Array.isArray(variableGradients) ? variableGradients : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name] as tf.Tensor }));
  const registered = tf.engine().registeredVariables;
  const vars: tf.Variable[] = [];
  const grads: tf.Tensor[] = [];
  for (const g of list) {
    const v = registered[g.name];
    // a missing gradient or an unregistered name: tfjs's own rules (skip, or its error)
    if (!v || g.tensor == null) {
      optimizer.applyGradients(variableGradients);
      return;
    }
    vars.push(v);
    grads.push(g.tensor);
  }
  if (sgdUpdateInOne(optimizer, vars, grads) || adamUpdateInOne(optimizer, vars, grads)) return;
  optimizer.applyGradients(variableGradients);
}
