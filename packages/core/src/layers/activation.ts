/** Activation functions by name, used fused inside dense/conv2d layers or as their own layer. */
import * as tf from '@tensorflow/tfjs-core';

export type ActivationName = 'linear' | 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'softmax';

export interface ActivationSpec {
  name: ActivationName;
  /** Negative slope of leakyRelu (paper 2: 0.01). */
  alpha?: number;
}

export type ActivationLike = ActivationName | ActivationSpec;

export function toActivationSpec(a: ActivationLike | undefined): ActivationSpec {
  if (a === undefined) return { name: 'linear' };
  const spec = typeof a === 'string' ? { name: a } : a;
  const known: ActivationName[] = ['linear', 'relu', 'leakyRelu', 'tanh', 'sigmoid', 'softmax'];
  if (!known.includes(spec.name)) {
    throw new Error(`unknown activation '${String(spec.name)}' (expected one of ${known.join(', ')})`);
  }
  if (spec.name === 'leakyRelu') return { name: 'leakyRelu', alpha: spec.alpha ?? 0.01 };
  return { name: spec.name };
}

export function applyActivation(x: tf.Tensor, spec: ActivationSpec): tf.Tensor {
  switch (spec.name) {
    case 'linear':
      return x;
    case 'relu':
      return tf.relu(x);
    case 'leakyRelu':
      return tf.leakyRelu(x, spec.alpha ?? 0.01);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'softmax':
      return tf.softmax(x);
  }
}
