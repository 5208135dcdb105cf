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

/** Whether light taps are on (`setLightTaps`). */
export function lightTapsOn(): boolean {
  return light;
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

const recorders = new WeakMap<tf.Tensor, { delta?: tf.Tensor }>();

/** A recording tap: `tap` (a scalar, for `ApplyContext.taps` and as an input of `tf.grads`), and the gradient it recorded. */
export interface TapRecord {
  readonly tap: tf.Scalar;
  /**
   * The upstream gradient at the tapped pre-activation, recorded by the backward pass through
   * `addTap(z, tap)` (δ, z's shape); the caller owns it. Throws when no backward pass went through it.
   */
  delta(): tf.Tensor;
  /** Releases the tap and whatever it recorded and was not taken. */
  dispose(): void;
}

/**
 * A tap for a layer whose δ is wanted but whose tap tensor need not exist (see the module comment):
 * pass `record.tap` in `ApplyContext.taps` and among `tf.grads`' inputs, then take `record.delta()`.
 * One backward pass records once; a second one replaces what the first recorded.
 */
export function recordingTap(): TapRecord {
  const tap = tf.scalar(0);
  const slot: { delta?: tf.Tensor } = {};
  recorders.set(tap, slot);
  return {
    tap,
    delta() {
      const d = slot.delta;
      if (!d || d.isDisposed) throw new Error('recordingTap: no gradient was recorded (the tapped layer is not on the path to the differentiated value)');
      slot.delta = undefined;
      return d;
    },
    dispose() {
      slot.delta?.dispose();
      slot.delta = undefined;
      tap.dispose();
    },
  };
}

const recordPoint = (slot: { delta?: tf.Tensor }) =>
  tf.customGrad(((z: tf.Tensor, t: tf.Tensor) => ({
    value: tf.reshape(z, z.shape),
    gradFunc: (dy: tf.Tensor) => {
      slot.delta?.dispose();
      // a clone shares dy's memory; kept, it outlives the backward pass's scopes
      slot.delta = tf.keep(tf.clone(dy));
      return [dy, tf.zerosLike(t)];
    },
  })) as unknown as Parameters<typeof tf.customGrad>[0]);

/** z + tap: z itself (as a new tensor on its memory) for a `zeroTap` of z's shape or a `recordingTap`'s tap, else their sum. */
export function addTap(z: tf.Tensor, tap: tf.Tensor): tf.Tensor {
  const slot = recorders.get(tap);
  if (slot && !tap.isDisposed) return recordPoint(slot)(z, tap) as tf.Tensor;
  if (light && zeroTaps.has(tap) && !tap.isDisposed && tf.util.arraysEqual(tap.shape, z.shape) && tap.dtype === z.dtype) return tapPoint(z, tap) as tf.Tensor;
  return tf.add(z, tap);
}
