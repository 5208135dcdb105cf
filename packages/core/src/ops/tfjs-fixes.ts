/**
 * Gradients that tfjs 4.22 computes wrong without a word, found by checking every op forgetless's
 * models and users reach against directional finite differences of its own forward
 * (`gradient-audit.test.ts`), put right here and registered in every gradient mode (`gradients.ts`):
 *
 * - MirrorPad: tfjs's gradient slices the centre out of δ and drops what the reflected borders
 *   received. The derivative adds each border, reversed, onto the values it mirrors.
 * - ResizeNearestNeighbor on cpu: tfjs-backend-cpu's ResizeNearestNeighborGrad is wrong for a batch of
 *   more than one image (right for one). It runs image by image there.
 *
 * (AvgPool's, wrong where a window overlaps the padding, is in `max-pool.ts`.)
 */
import * as tf from '@tensorflow/tfjs-core';

/** One axis's slice [begin, begin + size) of t. */
function sliceAxis(t: tf.Tensor, axis: number, begin: number, size: number): tf.Tensor {
  const b = t.shape.map(() => 0);
  const s = t.shape.map((d) => d as number);
  b[axis] = begin;
  s[axis] = size;
  return tf.slice(t, b, s);
}

/** t padded with zeros on one axis, `before` and `after`. */
function padAxis(t: tf.Tensor, axis: number, before: number, after: number): tf.Tensor {
  return tf.pad(
    t,
    t.shape.map((_, i) => (i === axis ? [before, after] : [0, 0]) as [number, number]),
  );
}

/**
 * ∂x of `tf.mirrorPad(x, paddings, mode)` for δ = dy: per padded axis of length n (padded b before, a
 * after), the centre of δ, plus its first b values reversed onto x[off, off + b) and its last a values
 * reversed onto x[n − off − a, n − off), off = 1 for 'reflect' (the edge is not repeated), 0 for
 * 'symmetric'. The axes' pads compose, so their gradients do, in any order.
 */
export function mirrorPadGrad(dy: tf.Tensor, xShape: readonly number[], paddings: readonly (readonly [number, number])[], mode: 'reflect' | 'symmetric'): tf.Tensor {
  return tf.tidy(() => {
    const off = mode === 'reflect' ? 1 : 0;
    let g = dy;
    xShape.forEach((n, axis) => {
      const [b, a] = paddings[axis] ?? [0, 0];
      if (b === 0 && a === 0) return;
      let out = sliceAxis(g, axis, b, n);
      if (b > 0) out = tf.add(out, padAxis(tf.reverse(sliceAxis(g, axis, 0, b), axis), axis, off, n - off - b));
      if (a > 0) out = tf.add(out, padAxis(tf.reverse(sliceAxis(g, axis, b + n, a), axis), axis, n - off - a, off));
      g = out;
    });
    return g;
  });
}

/** ∂images of ResizeNearestNeighbor by the backend's ResizeNearestNeighborGrad kernel, image by image on cpu (whose kernel is wrong for a batch of more than one). */
export function resizeNearestGrad(dy: tf.Tensor4D, images: tf.Tensor4D, attrs: tf.NamedAttrMap): tf.Tensor4D {
  const grad = (d: tf.Tensor4D, x: tf.Tensor4D) => tf.engine().runKernel('ResizeNearestNeighborGrad', { dy: d, images: x }, attrs) as tf.Tensor4D;
  const n = images.shape[0];
  if (tf.getBackend() !== 'cpu' || n <= 1) return grad(dy, images);
  return tf.tidy(() =>
    tf.concat(
      Array.from({ length: n }, (_, i) => grad(tf.slice(dy, i, 1) as tf.Tensor4D, tf.slice(images, i, 1) as tf.Tensor4D)),
      0,
    ),
  );
}
