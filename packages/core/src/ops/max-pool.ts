/**
 * The gradient of max pooling (NHWC) built from forward ops, because the wasm backend's MaxPoolGrad
 * kernel (tfjs 4.22) loses gradient for some windows (measured here: 17–53 % relative error against
 * the cpu backend). Each window passes δ to its first maximum in row-major order, as tfjs's cpu kernel
 * does, so ties (e.g. all-zero windows after ReLU) match the stock gradient exactly:
 *   ∂x[p] = Σ_windows w∋p  δ[w] · [p is the first arg-max of w].
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Padding, convPadding } from './conv2d.js';

/** Places v ([N,Ho,Wo,C]) at rows a + i·s, columns b + j·s of a zero [N,Hp,Wp,C] tensor. */
function scatterStrided(v: tf.Tensor4D, a: number, b: number, s: number, hp: number, wp: number): tf.Tensor4D {
  const [n, ho, wo, c] = v.shape;
  let u: tf.Tensor4D = v;
  if (s > 1) {
    const e = tf.reshape(v, [n, ho, 1, wo, 1, c]);
    const z = tf.pad(e, [
      [0, 0],
      [0, 0],
      [0, s - 1],
      [0, 0],
      [0, s - 1],
      [0, 0],
    ]);
    u = tf.reshape(z, [n, ho * s, wo * s, c]);
  }
  const h = u.shape[1];
  const w = u.shape[2];
  // pad to [a + h, b + w] then crop or pad to [hp, wp]
  const bottom = hp - a - h;
  const right = wp - b - w;
  let out = tf.pad(u, [
    [0, 0],
    [a, Math.max(0, bottom)],
    [b, Math.max(0, right)],
    [0, 0],
  ]);
  if (bottom < 0 || right < 0) out = tf.slice(out, [0, 0, 0, 0], [-1, hp, wp, -1]);
  return out;
}

export function maxPoolGrad(x: tf.Tensor4D, y: tf.Tensor4D, dy: tf.Tensor4D, poolSize: number, stride: number, padding: Padding): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const p = convPadding(h, w, poolSize, poolSize, stride, padding);
    const xp = p.top || p.bottom || p.left || p.right
      ? tf.pad(x, [
          [0, 0],
          [p.top, p.bottom],
          [p.left, p.right],
          [0, 0],
        ], -3.4e38)
      : x;
    const hp = h + p.top + p.bottom;
    const wp = w + p.left + p.right;
    let taken: tf.Tensor4D = tf.zeros(y.shape);
    let dxp: tf.Tensor4D = tf.zeros([n, hp, wp, c]);
    for (let a = 0; a < poolSize; a++) {
      for (let b = 0; b < poolSize; b++) {
        const end = [n, a + (p.outH - 1) * stride + 1, b + (p.outW - 1) * stride + 1, c];
        const win = tf.stridedSlice(xp, [0, a, b, 0], end, [1, stride, stride, 1]) as tf.Tensor4D;
        const isMax = tf.mul(tf.cast(tf.equal(win, y), 'float32'), tf.sub(1, taken)) as tf.Tensor4D;
        taken = tf.add(taken, isMax);
        dxp = tf.add(dxp, scatterStrided(tf.mul(isMax, dy), a, b, stride, hp, wp));
      }
    }
    if (hp === h && wp === w) return dxp;
    return tf.slice(dxp, [0, p.top, p.left, 0], [n, h, w, c]);
  });
}
