/**
 * Activation functions by name, used fused inside dense/conv2d layers or as their own layer. Each
 * computes what tfjs-layers / Keras compute, from ops every tfjs backend has (so gradients are
 * tfjs's autodiff of the same formula, on cpu and wasm alike).
 */
import * as tf from '@tensorflow/tfjs-core';

export type ActivationName =
  | 'linear'
  | 'relu'
  | 'leakyRelu'
  | 'tanh'
  | 'sigmoid'
  | 'softmax'
  | 'relu6'
  | 'cappedRelu'
  | 'elu'
  | 'selu'
  | 'gelu'
  | 'geluNew'
  | 'swish'
  | 'mish'
  | 'hardSigmoid'
  | 'softplus'
  | 'softsign'
  | 'exponential'
  | 'logSoftmax';

export interface ActivationSpec {
  name: ActivationName;
  /** leakyRelu: negative slope (default 0.01, paper 2). elu: α of α·(eˣ − 1) for x ≤ 0 (default 1). */
  alpha?: number;
  /** cappedRelu (Keras `ReLU` layer): outputs above it are clipped to it (default: no cap). */
  maxValue?: number;
  /** cappedRelu: slope below `threshold` (default 0). */
  negativeSlope?: number;
  /** cappedRelu: values at or below it are 0 (or follow `negativeSlope`) (default 0). */
  threshold?: number;
}

export type ActivationLike = ActivationName | ActivationSpec;

export const ACTIVATION_NAMES: readonly ActivationName[] = [
  'linear',
  'relu',
  'leakyRelu',
  'tanh',
  'sigmoid',
  'softmax',
  'relu6',
  'cappedRelu',
  'elu',
  'selu',
  'gelu',
  'geluNew',
  'swish',
  'mish',
  'hardSigmoid',
  'softplus',
  'softsign',
  'exponential',
  'logSoftmax',
];

function finite(name: string, key: string, v: unknown, min = -Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new Error(`activation ${name}: ${key} must be a finite number${min > -Infinity ? ` >= ${min}` : ''}, got ${String(v)}`);
  }
  return v;
}

/**
 * The canonical spec of an activation: defaults filled in, and a cappedRelu that is a plain relu,
 * relu6 or leakyRelu turned into that (the same function).
 */
export function toActivationSpec(a: ActivationLike | undefined): ActivationSpec {
  if (a === undefined) return { name: 'linear' };
  const spec: ActivationSpec = typeof a === 'string' ? { name: a } : a;
  if (!ACTIVATION_NAMES.includes(spec.name)) {
    throw new Error(`unknown activation '${String(spec.name)}' (expected one of ${ACTIVATION_NAMES.join(', ')})`);
  }
  switch (spec.name) {
    case 'leakyRelu':
      return { name: 'leakyRelu', alpha: spec.alpha === undefined ? 0.01 : finite('leakyRelu', 'alpha', spec.alpha) };
    case 'elu':
      return { name: 'elu', alpha: spec.alpha === undefined ? 1 : finite('elu', 'alpha', spec.alpha) };
    case 'cappedRelu': {
      const maxValue = spec.maxValue === undefined || spec.maxValue === null ? undefined : finite('cappedRelu', 'maxValue', spec.maxValue, 0);
      const negativeSlope = finite('cappedRelu', 'negativeSlope', spec.negativeSlope ?? 0, 0);
      const threshold = finite('cappedRelu', 'threshold', spec.threshold ?? 0);
      if (threshold === 0 && maxValue === undefined) return negativeSlope === 0 ? { name: 'relu' } : { name: 'leakyRelu', alpha: negativeSlope };
      if (threshold === 0 && negativeSlope === 0 && maxValue === 6) return { name: 'relu6' };
      return { name: 'cappedRelu', ...(maxValue === undefined ? {} : { maxValue }), negativeSlope, threshold };
    }
    default:
      return { name: spec.name };
  }
}

/** √(2/π), of the tanh form of GELU. */
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * Keras's `relu(x, negative_slope, max_value, threshold)`:
 *   y = x·[x > θ] (as x·step(x − θ), which has a gradient), clipped to [0, max_value] if capped, minus slope·relu(θ − x).
 * With θ ≥ 0 that is: slope·(x − θ) for x ≤ θ, min(x, max_value) above.
 */
function cappedRelu(x: tf.Tensor, spec: ActivationSpec): tf.Tensor {
  const slope = spec.negativeSlope ?? 0;
  const t = spec.threshold ?? 0;
  let y = t !== 0 ? tf.mul(x, tf.step(tf.sub(x, t))) : tf.relu(x);
  if (spec.maxValue !== undefined) y = tf.clipByValue(y, 0, spec.maxValue);
  if (slope !== 0) y = tf.sub(y, tf.mul(slope, tf.relu(t !== 0 ? tf.sub(t, x) : tf.neg(x))));
  return y;
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
    case 'relu6':
      return tf.relu6(x);
    case 'cappedRelu':
      return cappedRelu(x, spec);
    case 'elu': {
      // α·(eˣ − 1) for x ≤ 0 is α·elu(min(x, 0))
      const a = spec.alpha ?? 1;
      return a === 1 ? tf.elu(x) : tf.add(tf.relu(x), tf.mul(a, tf.elu(tf.minimum(x, 0))));
    }
    case 'selu':
      return tf.selu(x);
    case 'gelu':
      // x·Φ(x) = x · ½(1 + erf(x/√2))
      return tf.mul(x, tf.mul(0.5, tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))));
    case 'geluNew':
      // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
      return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x)))))));
    case 'swish':
      // x·σ(x)
      return tf.mul(x, tf.sigmoid(x));
    case 'mish':
      // x·tanh(softplus(x))
      return tf.mul(x, tf.tanh(tf.softplus(x)));
    case 'hardSigmoid':
      // clip(0.2x + 0.5, 0, 1)
      return tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1);
    case 'softplus':
      return tf.softplus(x);
    case 'softsign':
      // x / (|x| + 1)
      return tf.div(x, tf.add(tf.abs(x), 1));
    case 'exponential':
      return tf.exp(x);
    case 'logSoftmax':
      return tf.logSoftmax(x);
  }
}
