/**
 * Taps: the per-example gradients δ at a layer's pre-activation come from adding a tap tensor t to it
 * (z + t) and differentiating with respect to t (`ApplyContext.taps`, @forgetless/importances). A
 * tap made by `zeroTap` is all zeros, so z + t is z: `addTap` then returns z unchanged as a new
 * tensor on the same memory (no kernel pass over the data) whose gradient is the upstream gradient
 * for both z and t, where an Add reads both and writes their sum. Any other tap is added.
 */
import * as tf from '@tensorflow/tfjs-core';

const zeroTaps = new WeakSet<tf.Tensor>();
let light = true;

/**
 * Turns light taps off (false: `zeroTap` makes its zeros as `tf.zeros` does and `addTap` always
 * adds, as before them) or back on; for same-process before/after benchmarks and tests.
 */
export function setLightTaps(on: boolean): void {
  light = on;
}

/**
 * A tap of zeros of this shape for `ApplyContext.taps` (filled by the backend's Fill kernel, no
 * JavaScript array made and copied), known to `addTap` as zeros.
 */
export function zeroTap(shape: readonly number[]): tf.Tensor {
  if (!light) return tf.zeros([...shape]);
  const t = tf.fill([...shape], 0);
  zeroTaps.add(t);
  return t;
}

const tapPoint = tf.customGrad(((z: tf.Tensor, t: tf.Tensor) => ({
  // a reshape to the same shape: a new tensor on z's memory on every backend
  value: tf.reshape(z, z.shape),
  gradFunc: (dy: tf.Tensor) => [dy, tf.clone(dy)],
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/** z + tap: z itself (as a new tensor on its memory) for a `zeroTap` of z's shape, else their sum. */
export function addTap(z: tf.Tensor, tap: tf.Tensor): tf.Tensor {
  if (light && zeroTaps.has(tap) && !tap.isDisposed && tf.util.arraysEqual(tap.shape, z.shape) && tap.dtype === z.dtype) return tapPoint(z, tap) as tf.Tensor;
  return tf.add(z, tap);
}
