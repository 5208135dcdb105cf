/**
 * The gradient of GatherV2 (`tf.gather`, embedding lookups) without UnsortedSegmentSum, which
 * tfjs's own gradient uses and tfjs-backend-wasm lacks. For y = gather(x, idx, axis):
 *   ∂x[.., r, ..] = Σ_{k : idx_k = r} dy[.., k, ..]
 * as a ScatterNd of dy's slices into x's shape (ScatterNd sums duplicate indices, on cpu and wasm).
 *
 * Used where the backend has no UnsortedSegmentSum kernel in gradient mode 'auto' (see
 * `ops/gradients.ts`), everywhere in 'custom', never in 'stock'.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getGradientMode } from './gradients.js';

function useOurs(): boolean {
  const mode = getGradientMode();
  return mode === 'custom' || (mode === 'auto' && tf.getKernel('UnsortedSegmentSum', tf.getBackend()) === undefined);
}

/**
 * ∂L/∂x of y = gather(x, indices, axis) (batchDims 0) given dy = ∂L/∂y: dy reshaped to
 * [outer…, n, inner…], its n slices moved first and scattered (summed) into rows of [N, outer…, inner…],
 * then moved back to x's layout.
 */
export function gatherGrad(xShape: readonly number[], indices: tf.Tensor, dy: tf.Tensor, axis: number): tf.Tensor {
  return tf.tidy(() => {
    const n = indices.size;
    const outer = xShape.slice(0, axis);
    const inner = xShape.slice(axis + 1);
    let values = tf.reshape(dy, [...outer, n, ...inner]);
    const perm = [axis, ...outer.map((_, i) => i), ...inner.map((_, i) => axis + 1 + i)];
    if (axis > 0) values = tf.transpose(values, perm);
    const ids = tf.reshape(indices.dtype === 'int32' ? indices : tf.cast(indices, 'int32'), [n, 1]);
    const rows = tf.scatterND(ids, values, [xShape[axis] as number, ...outer, ...inner]);
    if (axis === 0) return rows;
    const undo = perm.map((_, i) => perm.indexOf(i));
    return tf.transpose(rows, undo);
  });
}

type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => Record<string, () => tf.Tensor>;

let registered = false;

/** Registers the GatherV2 gradient above over tfjs's (idempotent; called when @forgetless/core is imported). */
export function registerGatherGradient(): void {
  if (registered) return;
  const stock = tf.getGradient('GatherV2');
  if (!stock) throw new Error('@forgetless/core: tfjs gradients are not registered (GatherV2 missing)');
  registered = true;
  const sg = stock.gradFunc as unknown as GradFunc;
  tf.registerGradient({
    ...stock,
    gradFunc: ((dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      if (!useOurs()) return sg(dy, saved, attrs);
      const [x, indices] = saved as [tf.Tensor, tf.Tensor];
      const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0] as number;
      const batchDims = (attrs.batchDims as number | undefined) ?? 0;
      const indicesGrad = () => tf.zerosLike(indices);
      if (batchDims === 0) return { x: () => gatherGrad(x.shape, indices, dy, axis), indices: indicesGrad };
      if (batchDims !== 1) return sg(dy, saved, attrs);
      // batchDims 1 (as tfjs's own): one gather per batch entry, stacked
      return {
        x: () =>
          tf.tidy(() => {
            const b = x.shape[0] as number;
            const sliceShape = [1, ...x.shape.slice(1)];
            const parts = Array.from({ length: b }, (_, i) => gatherGrad(sliceShape, tf.slice(indices, i, 1), tf.slice(dy, i, 1), axis));
            return tf.reshape(tf.stack(parts), x.shape);
          }),
        indices: indicesGrad,
      };
    }) as never,
  });
}
