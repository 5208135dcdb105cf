/**
 * Updates written into a variable's own memory on wasm, where nothing else can see it.
 *
 * A training step replaces every trainable variable (the optimizer's update), Adam's two moments per
 * variable, and every batch norm's two moving statistics. tfjs does that with a new buffer per value
 * and `Variable.assign`: one heap allocation, one tensor, one assign and one disposal each (on
 * MobileNetV2: 262 of each per SGD step, 578 per Adam step), and the model's size again in peak
 * memory while both buffers live.
 *
 * forgetless's one-call update kernels (`sgd-wasm.ts`, `adam-wasm.ts`) and its batch norm kernel
 * (`norm-simd.ts`) instead overwrite the old buffer when `overwritable` says no other tensor refers to
 * it: tfjs-backend-wasm counts, per buffer, the tensors on it (a clone, a reshape, a variable made
 * from a tensor still alive, a copy saved for a gradient each add one), so a count of one means the
 * variable alone holds it. The values are computed exactly as before (each element read before its
 * own result is written), so they are the same bit for bit; a buffer shared with any other tensor is
 * never written, and that variable gets a new buffer as before.
 *
 * tfjs-backend-wasm's XNNPACK kernels (Conv2D, MatMul, …) keep operators built from a weight tensor,
 * its values packed, until that tensor is disposed. A buffer written in place is therefore announced
 * with `rewritten`, which drops those operators as a disposal would (tfjs-wasm's `dispose_data`) and
 * registers the same memory again under the same id; without that, a Dense layer run by tfjs's own
 * MatMul would go on multiplying by the weights of before the update.
 */
import * as tf from '@tensorflow/tfjs-core';

let enabled = true;

/** Turns in-place updates on (the default) or off (a new buffer per value, as tfjs does), for A/B comparisons. */
export function setInPlaceUpdates(on: boolean): void {
  enabled = on;
}

/** Whether in-place updates are on (`setInPlaceUpdates`). */
export function inPlaceUpdatesOn(): boolean {
  return enabled;
}

/** The parts of tfjs-backend-wasm (4.x) this relies on. */
interface WasmInternals {
  refCount?: (dataId: unknown) => number;
  dataIdMap?: { get(dataId: unknown): { id: number; memoryOffset: number } | undefined };
  wasm?: { tfjs?: { disposeData?: (id: number) => void; registerTensor?: (id: number, size: number, offset: number) => void } };
}

/**
 * Whether the kernel running on `backend` may overwrite `t`'s memory: in-place updates on, `t` the
 * only tensor on its buffer (tfjs-backend-wasm's reference count is 1), and the backend's internals
 * that `rewritten` needs present.
 */
export function overwritable(backend: unknown, t: tf.TensorInfo): boolean {
  if (!enabled) return false;
  const b = backend as WasmInternals;
  const tfjs = b.wasm?.tfjs;
  if (typeof b.refCount !== 'function' || typeof tfjs?.disposeData !== 'function' || typeof tfjs.registerTensor !== 'function') return false;
  return b.refCount(t.dataId) === 1 && b.dataIdMap?.get(t.dataId) !== undefined;
}

/**
 * Whether a batch norm kernel may write the updated moving statistics over `movingMean` and
 * `movingVariance` themselves: variables (tfjs keeps plain tensors immutable), two buffers, each
 * `overwritable` (held by nothing else).
 */
export function movingStatsInPlace(backend: unknown, movingMean: tf.Tensor, movingVariance: tf.Tensor): boolean {
  return (
    movingMean instanceof tf.Variable &&
    movingVariance instanceof tf.Variable &&
    movingMean.dataId !== movingVariance.dataId &&
    overwritable(backend, movingMean) &&
    overwritable(backend, movingVariance)
  );
}

/**
 * Tells tfjs-backend-wasm that `t`'s values were overwritten (after `overwritable` said they could
 * be): the XNNPACK operators built from them are dropped, as when a tensor is disposed, and the same
 * memory is registered again under the same id.
 */
export function rewritten(backend: unknown, t: tf.TensorInfo): void {
  const b = backend as Required<WasmInternals>;
  const d = b.dataIdMap.get(t.dataId);
  const tfjs = b.wasm.tfjs as Required<NonNullable<Required<WasmInternals>['wasm']['tfjs']>>;
  if (!d) throw new Error('forgetless: a tensor written in place is not on the wasm backend');
  tfjs.disposeData(d.id);
  tfjs.registerTensor(
    d.id,
    t.shape.reduce((a, x) => a * x, 1),
    d.memoryOffset,
  );
}
