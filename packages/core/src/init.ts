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
  return tensorFrom(shape, (v) => fill(v, name, fanIn, fanOut, rng));
}

function fill(v: Float32Array, name: InitializerName, fanIn: number, fanOut: number, rng: Rng): void {
  const size = v.length;
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
}

/**
 * A float32 tensor of `shape` whose values `fill` writes. Under `withShapeOnlyVariables` nothing is
 * allocated or drawn: the result only carries the shape.
 */
export function tensorFrom(shape: number[], fill: (values: Float32Array) => void): tf.Tensor {
  if (shapeOnly > 0) return placeholder(shape, 'float32');
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(v);
  return tf.tensor(v, shape, 'float32');
}

/** Wraps a fresh tensor in a tf.Variable and disposes the tensor (no leak of the initial value). */
export function toVariable(t: tf.Tensor, trainable: boolean): tf.Variable {
  if (shapeOnly > 0) {
    const p = placeholder(t.shape, t.dtype, trainable);
    if (!isPlaceholder(t)) t.dispose();
    return p as unknown as tf.Variable;
  }
  const v = tf.variable(t, trainable);
  t.dispose();
  return v;
}

let shapeOnly = 0;
const PLACEHOLDER = Symbol('shape-only placeholder');

/**
 * Runs `build` (a model's construction) with shape-only variables: layers' initial values are not
 * allocated nor drawn, and every variable made is a placeholder holding only its shape and dtype
 * (`shape`, `dtype`, `size`, `trainable`, and a `dispose` that does nothing). This learns the weights a
 * model would make, to check them against a file before allocating gigabytes for a wrong one. What
 * `build` returns must only be read for shapes, then disposed; it cannot run.
 */
export function withShapeOnlyVariables<T>(build: () => T): T {
  shapeOnly++;
  try {
    return build();
  } finally {
    shapeOnly--;
  }
}

/** True for a variable (or tensor) made under `withShapeOnlyVariables`. */
export function isPlaceholder(t: unknown): boolean {
  return typeof t === 'object' && t !== null && (t as { [PLACEHOLDER]?: true })[PLACEHOLDER] === true;
}

function placeholder(shape: readonly number[], dtype: tf.DataType, trainable = false): tf.Tensor {
  const p = {
    [PLACEHOLDER]: true,
    shape: [...shape],
    dtype,
    size: shape.reduce((a, b) => a * b, 1),
    rank: shape.length,
    trainable,
    isDisposed: false,
    dispose() {},
  };
  return p as unknown as tf.Tensor;
}
