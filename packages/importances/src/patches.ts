/**
 * What a conv kernel tap sees. For a conv2d layer with kernel [kh, kw, C, O], stride s and tfjs's
 * padding, the input under tap (a, b) at output position (i, j) is xp[n, i·s + a, j·s + b, :], with
 * xp the zero-padded input. `tapViews` returns these as kh·kw strided slices [n, Ho, Wo, C], in
 * kernel order (a major, b minor).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Padding, convPadding } from '@forgetless/core';

export interface ConvGeometry {
  kernelSize: [number, number];
  stride: number;
  padding: Padding;
}

export function tapViews(x: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D[] {
  const [n, h, w, c] = x.shape;
  const [kh, kw] = g.kernelSize;
  const s = g.stride;
  const p = convPadding(h, w, kh, kw, s, g.padding);
  const xp =
    p.top || p.bottom || p.left || p.right
      ? tf.pad(x, [
          [0, 0],
          [p.top, p.bottom],
          [p.left, p.right],
          [0, 0],
        ])
      : x;
  const views: tf.Tensor4D[] = [];
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      views.push(tf.stridedSlice(xp, [0, a, b, 0], [n, a + s * (p.outH - 1) + 1, b + s * (p.outW - 1) + 1, c], [1, s, s, 1]) as tf.Tensor4D);
    }
  }
  return views;
}
