/**
 * What a kernel tap or a pooling window position sees, as rank-4 slices. For an NHWC tensor xp
 * (already padded), tap offset (top, left) and strides (sh, sw), the view is
 *   v[n, i, j, c] = xp[n, top + i·sh, left + j·sw, c],  i < outH, j < outW.
 * With unit strides this is one `tf.slice`. With strides it is a crop at (top, left), padded up to
 * [outH·sh, outW·sw], reshaped to [N·outH, sh, outW, sw·C] and sliced at [0, 0, 0, 0] — two slices of
 * rank 4, because tfjs-backend-wasm's StridedSlice kernel is about 40× slower than that (50 ms for
 * one 2×2 view of a [32, 24, 24, 64] tensor) and its Slice falls back to plain JavaScript above rank 4.
 */
import * as tf from '@tensorflow/tfjs-core';

export function strideView(xp: tf.Tensor4D, top: number, left: number, sh: number, sw: number, outH: number, outW: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, hp, wp, c] = xp.shape;
    if (sh === 1 && sw === 1) {
      if (top === 0 && left === 0 && outH === hp && outW === wp) return tf.clone(xp);
      return tf.slice(xp, [0, top, left, 0], [n, outH, outW, c]);
    }
    const needH = outH * sh;
    const needW = outW * sw;
    const h = Math.min(needH, hp - top);
    const w = Math.min(needW, wp - left);
    let crop: tf.Tensor4D = top === 0 && left === 0 && h === hp && w === wp ? xp : tf.slice(xp, [0, top, left, 0], [n, h, w, c]);
    if (h < needH || w < needW) {
      crop = tf.pad(crop, [
        [0, 0],
        [0, needH - h],
        [0, needW - w],
        [0, 0],
      ]);
    }
    const grid = tf.reshape(crop, [n * outH, sh, outW, sw * c]);
    return tf.reshape(tf.slice(grid, [0, 0, 0, 0], [n * outH, 1, outW, c]), [n, outH, outW, c]) as tf.Tensor4D;
  });
}

/**
 * The inverse placement: an [N, outH, outW, C] tensor v written at rows top + i·sh and columns
 * left + j·sw of a zero [N, hp, wp, C] tensor (the scatter of `strideView`). Built from pads and
 * reshapes of rank ≤ 4 for the same reason.
 */
export function strideScatter(v: tf.Tensor4D, top: number, left: number, sh: number, sw: number, hp: number, wp: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, oh, ow, c] = v.shape;
    let u: tf.Tensor4D = v;
    if (sh > 1 || sw > 1) {
      // [N·oh, 1, ow, C] → [N·oh, sh, ow, sw·C]: each value at the corner of its sh×sw cell
      const cell = tf.pad(tf.reshape(v, [n * oh, 1, ow, c]), [
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, (sw - 1) * c],
      ]);
      u = tf.reshape(cell, [n, oh * sh, ow * sw, c]);
    }
    const h = u.shape[1];
    const w = u.shape[2];
    const bottom = hp - top - h;
    const right = wp - left - w;
    if (bottom < 0 || right < 0) {
      u = tf.slice(u, [0, 0, 0, 0], [n, Math.min(h, hp - top), Math.min(w, wp - left), c]);
    }
    if (top === 0 && left === 0 && bottom <= 0 && right <= 0) return u === v ? tf.clone(u) : u;
    return tf.pad(u, [
      [0, 0],
      [top, Math.max(0, bottom)],
      [left, Math.max(0, right)],
      [0, 0],
    ]);
  });
}
