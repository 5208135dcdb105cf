/**
 * What a conv kernel tap sees. For a convolution with kernel [kh, kw, C, ·], strides (sh, sw),
 * dilation (dh, dw) and tfjs's padding, the input under tap (a, b) at output position (i, j) is
 * xp[n, i·sh + a·dh, j·sw + b·dw, :], xp the zero-padded input. `tapViews` returns these as kh·kw
 * strided slices [n, Ho, Wo, C], in kernel order (a major, b minor): rank-4 slices (`strideView`)
 * under the default 'im2col' formulation, StridedSlice (slow on wasm) under 'forward-conv'.
 */
import { getConvFormulation, strideView } from '@forgetless/core';
import * as tf from '@tensorflow/tfjs-core';
import { type ConvGeometry, convPads, padInput } from './per-example-conv.js';

export type { ConvGeometry };

export function tapViews(x: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D[] {
  const [n, h, w, c] = x.shape;
  const [kh, kw] = g.kernelSize;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilation;
  const p = convPads(h, w, g);
  const xp = padInput(x, p);
  const hp = h + p.top + p.bottom;
  const wp = w + p.left + p.right;
  const outH = Math.floor((hp - (kh - 1) * dh - 1) / sh) + 1;
  const outW = Math.floor((wp - (kw - 1) * dw - 1) / sw) + 1;
  const views: tf.Tensor4D[] = [];
  const fast = getConvFormulation() !== 'forward-conv';
  for (let a = 0; a < kh; a++) {
    for (let b = 0; b < kw; b++) {
      const top = a * dh;
      const left = b * dw;
      if (fast) {
        views.push(strideView(xp, top, left, sh, sw, outH, outW));
        continue;
      }
      views.push(tf.stridedSlice(xp, [0, top, left, 0], [n, top + sh * (outH - 1) + 1, left + sw * (outW - 1) + 1, c], [1, sh, sw, 1]) as tf.Tensor4D);
    }
  }
  return views;
}
