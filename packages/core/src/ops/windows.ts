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

/**
 * The sh·sw phases of xp (space to depth): phase p·sw + q holds xp[n, i·sh + p, j·sw + q, c] at
 * [n, i, j, c], from one pad (to multiples of the strides) and two rank-4 slices per phase (a rank-6
 * transpose is 10× slower on wasm), so that every tap of a strided window, xp[n, a + i·sh, b + j·sw],
 * is a unit-stride slice of one phase (`phaseView`): far fewer copies than a `strideView` per tap
 * when there are many taps. Unit strides: [xp] itself.
 */
export function stridePhases(xp: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D[] {
  if (sh === 1 && sw === 1) return [xp];
  return tf.tidy(() => {
    const [n, hp, wp, c] = xp.shape;
    const hq = Math.ceil(hp / sh);
    const wq = Math.ceil(wp / sw);
    const full =
      hq * sh === hp && wq * sw === wp
        ? xp
        : tf.pad(xp, [
            [0, 0],
            [0, hq * sh - hp],
            [0, wq * sw - wp],
            [0, 0],
          ]);
    const rowsOf = tf.reshape(full, [n * hq, sh, wq * sw * c]);
    const out: tf.Tensor4D[] = [];
    for (let p = 0; p < sh; p++) {
      const row = sh === 1 ? full : tf.reshape(tf.slice(rowsOf, [0, p, 0], [n * hq, 1, wq * sw * c]), [n * hq, wq, sw, c]);
      for (let q = 0; q < sw; q++) {
        out.push(
          sw === 1
            ? (tf.reshape(row, [n, hq, wq, c]) as tf.Tensor4D)
            : (tf.reshape(tf.slice(tf.reshape(row, [n * hq, wq, sw, c]), [0, 0, q, 0], [n * hq, wq, 1, c]), [n, hq, wq, c]) as tf.Tensor4D),
        );
      }
    }
    return out;
  });
}

/** xp[n, top + i·sh, left + j·sw, c] for i < outH, j < outW, from `stridePhases(xp, sh, sw)`. */
export function phaseView(phases: readonly tf.Tensor4D[], top: number, left: number, sh: number, sw: number, outH: number, outW: number): tf.Tensor4D {
  const ph = phases[(top % sh) * sw + (left % sw)] as tf.Tensor4D;
  const [n, hq, wq, c] = ph.shape;
  const i0 = Math.floor(top / sh);
  const j0 = Math.floor(left / sw);
  if (i0 === 0 && j0 === 0 && outH === hq && outW === wq) return tf.clone(ph);
  return tf.slice(ph, [0, i0, j0, 0], [n, outH, outW, c]);
}
