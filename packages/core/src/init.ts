/**
 * Seeded weight initializers. Values are drawn in JavaScript from `Rng`, so a seed gives the same
 * weights on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from './rng.js';

/**
 * - `he`: normal(0, √(2/fan_in)) (He et al. 2015), for ReLU-family nets.
 * - `glorot`: uniform(±√(6/(fan_in+fan_out))) (Glorot & Bengio 2010).
 * - `paper`: normal(0, 2/√fan_in), the initialisation of Kutalev's papers (paper 1).
 * - `zeros`, `ones`.
 */
export type InitializerName = 'he' | 'glorot' | 'paper' | 'zeros' | 'ones';

export function initialize(name: InitializerName, shape: number[], fanIn: number, fanOut: number, rng: Rng): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(size);
  switch (name) {
    case 'zeros':
      break;
    case 'ones':
      v.fill(1);
      break;
    case 'he': {
      const std = Math.sqrt(2 / fanIn);
      for (let i = 0; i < size; i++) v[i] = rng.normal() * std;
      break;
    }
    case 'paper': {
      const std = 2 / Math.sqrt(fanIn);
      for (let i = 0; i < size; i++) v[i] = rng.normal() * std;
      break;
    }
    case 'glorot': {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < size; i++) v[i] = (rng.next() * 2 - 1) * limit;
      break;
    }
    default:
      throw new Error(`unknown initializer '${String(name)}' (expected he, glorot, paper, zeros or ones)`);
  }
  return tf.tensor(v, shape, 'float32');
}

/** Wraps a fresh tensor in a tf.Variable and disposes the tensor (no leak of the initial value). */
export function toVariable(t: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}
