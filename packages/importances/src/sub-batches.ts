/**
 * Bounded memory whatever the batch size: every data-driven importance is a sum over examples (the
 * per-example statistics, SIG's signals, Taylor's gradient sums, the batched Fisher's gradient before
 * its square), so a batch too large for one forward and backward pass runs as sub-batches whose sums
 * are added. A pass holds the examples' layer outputs (and as much again in gradients): a sub-batch
 * takes ⌊maxBatchElements / e⌋ examples (at least one), e = one example's input and layer outputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Model, type ParamMap, addParams, disposeParams } from '@forgetless/core';

/** The default bound on the layer outputs one pass holds: 2²⁷ float32 values (512 MB). */
export const DEFAULT_MAX_BATCH_ELEMENTS = 2 ** 27;

/** `maxBatchElements` checked (≥ 1), or the default. */
export function checkMaxBatchElements(what: string, value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_BATCH_ELEMENTS;
  if (typeof value !== 'number' || !(value >= 1)) throw new Error(`${what}: maxBatchElements must be >= 1, got ${String(value)}`);
  return value;
}

/** One example's input and layer outputs, in elements (`model.layerShapes`; merge layers' outputs not counted). */
export function exampleElements(model: Model, exampleShape: readonly number[]): number {
  let e = tf.util.sizeFromShape([...exampleShape]);
  for (const s of Object.values(model.layerShapes(exampleShape))) e += tf.util.sizeFromShape(s.output);
  return Math.max(1, e);
}

/** The examples of `x` one pass takes under `maxBatch` elements of layer outputs (at least one). */
export function subBatchSize(model: Model, x: tf.Tensor, maxBatch: number): number {
  return Math.max(1, Math.floor(maxBatch / exampleElements(model, x.shape.slice(1))));
}

/** a + b per parameter (core's `addParams`); both are disposed. */
export function addMaps(a: ParamMap, b: ParamMap): ParamMap {
  const out = addParams(a, b);
  disposeParams(a);
  disposeParams(b);
  return out;
}

/**
 * `run` over the batch's sub-batches (`subBatchSize`), its results combined by `add` (which disposes
 * both); `rows` (the batch's x first, then any tensor with a row per example: labels, weights) sliced
 * to each sub-batch's rows. One call on the tensors themselves when the batch fits under `maxBatch`.
 * When a sub-batch fails, what the ones before it gave is `release`d.
 */
export function reduceSubBatches<T>(
  model: Model,
  rows: readonly [tf.Tensor, ...(tf.Tensor | undefined)[]],
  maxBatch: number,
  run: (rows: (tf.Tensor | undefined)[], begin: number) => T,
  add: (a: T, b: T) => T,
  release: (t: T) => void,
): T {
  const x = rows[0];
  const n = x.shape[0] as number;
  const sub = subBatchSize(model, x, maxBatch);
  if (sub >= n) return run([...rows], 0);
  let total: T | undefined;
  try {
    for (let begin = 0; begin < n; begin += sub) {
      const size = Math.min(sub, n - begin);
      const sliced = tf.tidy(() => rows.map((t) => (t ? tf.slice(t, begin, size) : undefined)));
      let part: T;
      try {
        part = run(sliced, begin);
      } finally {
        tf.dispose(sliced.filter((t): t is tf.Tensor => t !== undefined));
      }
      total = total === undefined ? part : add(total, part);
    }
  } catch (e) {
    // a failed sub-batch (out of memory, say) leaves nothing behind
    if (total !== undefined) release(total);
    throw e;
  }
  return total as T;
}

/**
 * Σ over sub-batches of `fn(x rows, y rows, first row)`, per parameter (`fn` returns new tensors,
 * sums over its examples); one call on the whole batch when it fits under `maxBatch`.
 */
export function sumOverSubBatches(
  model: Model,
  x: tf.Tensor,
  y: tf.Tensor | undefined,
  maxBatch: number,
  fn: (x: tf.Tensor, y: tf.Tensor | undefined, begin: number) => ParamMap,
): ParamMap {
  return reduceSubBatches(model, [x, y], maxBatch, ([xs, ys], begin) => fn(xs as tf.Tensor, ys, begin), addMaps, disposeParams);
}
