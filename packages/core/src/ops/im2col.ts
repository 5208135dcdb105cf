/**
 * Conv2d gradients as matrix products over patches ("im2col"), for backends whose matMul is their
 * fastest kernel (wasm: XNNPACK's GEMM). Notation as in `conv2d.ts`: x [N,H,W,C], filter [kh,kw,C,O],
 * xp the padded input, taps t = (a, b), P = N·Ho·Wo output positions, and the patch matrix
 *   X[(n,i,j), (a,b,c)] = xp[n, i·sh + a·dh, j·sw + b·dw, c]       ([P, kh·kw·C])
 * so that y = X·W with W as [kh·kw·C, O]. Then
 *   ∂W = Xᵀ·δ          ([kh·kw·C, O]: rows (a,b,c), already the filter's layout)
 *   ∂X = δ·Wᵀ          ([P, kh·kw·C]), and ∂xp = col2im(∂X): each tap's column block added back at its
 *                      offset (pads and one addN), then cropped to x.
 * Xᵀ is built directly, without transposing X: the input is transposed once to [C, N, Hp, Wp] and each
 * tap's slice of it, [C, N·Ho·Wo], is a block of rows of Xᵀ (unit strides); with strides the taps are
 * taken from NHWC (`strideView`) and the stacked [kh·kw, P, C] is transposed. 1×1 kernels at unit
 * stride need no patches at all: ∂W = xᵀ·δ and ∂x = δ·Wᵀ. Every transpose is explicit (wasm's
 * matMul with transposeA/B is ~12× slower).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Padding, conv2dFilterGrad, convPadding, pair, padForConv, padSpatial } from './conv2d.js';
import { getConvFormulation } from './formulation.js';
import { strideScatter, strideView } from './windows.js';

/** ∂W by Xᵀ·δ (see the module comment). x: [N,H,W,C], dy: [N,Ho,Wo,O] → [kh,kw,C,O]. */
export function conv2dFilterGradIm2col(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly number[],
  stride: number | readonly number[],
  padding: Padding,
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, o] = filterShape as [number, number, number, number];
    const [sh, sw] = pair(stride);
    const [dh, dw] = pair(dilation);
    const [n, ho, wo] = dy.shape;
    const p = n * ho * wo;
    const d2 = tf.reshape(dy, [p, o]) as tf.Tensor2D;
    const xp = padForConv(x, kh, kw, [sh, sw], padding, [dh, dw]);
    let xt: tf.Tensor2D;
    if (kh === 1 && kw === 1) {
      const v = strideView(xp, 0, 0, sh, sw, ho, wo);
      xt = tf.transpose(tf.reshape(v, [p, c])) as tf.Tensor2D;
    } else if (sh === 1 && sw === 1) {
      const t = tf.transpose(xp, [3, 0, 1, 2]); // [C, N, Hp, Wp]
      const rows: tf.Tensor[] = [];
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) rows.push(tf.reshape(tf.slice(t, [0, 0, a * dh, b * dw], [c, n, ho, wo]), [c, p]));
      }
      xt = tf.concat(rows, 0) as tf.Tensor2D;
    } else {
      const taps: tf.Tensor[] = [];
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) taps.push(tf.reshape(strideView(xp, a * dh, b * dw, sh, sw, ho, wo), [1, p, c]));
      }
      xt = tf.reshape(tf.transpose(tf.concat(taps, 0), [0, 2, 1]), [kh * kw * c, p]) as tf.Tensor2D;
    }
    return tf.reshape(tf.matMul(xt, d2), [kh, kw, c, o]) as tf.Tensor4D;
  });
}

/** ∂x by col2im(δ·Wᵀ) (see the module comment). dy: [N,Ho,Wo,O], filter: [kh,kw,C,O] → [N,H,W,C]. */
export function conv2dInputGradIm2col(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: readonly number[],
  stride: number | readonly number[],
  padding: Padding,
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, o] = filter.shape;
    const [n, h, w] = inputShape as [number, number, number];
    const [sh, sw] = pair(stride);
    const [dh, dw] = pair(dilation);
    const [, ho, wo] = dy.shape;
    const p = n * ho * wo;
    const wt = tf.transpose(tf.reshape(filter, [kh * kw * c, o])) as tf.Tensor2D; // [O, kh·kw·C]
    const cols = tf.matMul(tf.reshape(dy, [p, o]) as tf.Tensor2D, wt); // [P, kh·kw·C]
    const pad = convPadding(h, w, kh, kw, [sh, sw], padding, [dh, dw]);
    const hp = h + pad.top + pad.bottom;
    const wp = w + pad.left + pad.right;
    if (kh === 1 && kw === 1 && sh === 1 && sw === 1) return tf.reshape(cols, [n, h, w, c]) as tf.Tensor4D;
    const grid = tf.reshape(cols, [n * ho, wo, kh * kw, c]);
    const parts: tf.Tensor4D[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const tap = tf.reshape(tf.slice(grid, [0, 0, a * kw + b, 0], [n * ho, wo, 1, c]), [n, ho, wo, c]) as tf.Tensor4D;
        parts.push(strideScatter(tap, a * dh, b * dw, sh, sw, hp, wp));
      }
    }
    const dxp = parts.length === 1 ? (parts[0] as tf.Tensor4D) : (tf.addN(parts) as tf.Tensor4D);
    return padSpatial(dxp, -pad.top, -pad.bottom, -pad.left, -pad.right);
  });
}

/**
 * ∂x as col2im's sum of taps without the [P, kh·kw·C] matrix: for each tap t = (a, b), the [P, C]
 * block δ·W_tᵀ is its own matMul (W_t = filter[a, b], transposed once for all taps), placed at its
 * offset (`strideScatter`) and added (one addN). The same multiply-adds as `conv2dInputGradIm2col`,
 * minus the kh·kw strided slices of its column matrix (runs of C floats).
 */
export function conv2dInputGradTaps(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: readonly number[],
  stride: number | readonly number[],
  padding: Padding,
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, o] = filter.shape;
    const [n, h, w] = inputShape as [number, number, number];
    const [sh, sw] = pair(stride);
    const [dh, dw] = pair(dilation);
    const [, ho, wo] = dy.shape;
    const pad = convPadding(h, w, kh, kw, [sh, sw], padding, [dh, dw]);
    const hp = h + pad.top + pad.bottom;
    const wp = w + pad.left + pad.right;
    const d2 = tf.reshape(dy, [n * ho * wo, o]) as tf.Tensor2D;
    const wt = tf.reshape(tf.transpose(filter, [0, 1, 3, 2]), [kh * kw, o * c]) as tf.Tensor2D; // rows: taps, each W_tᵀ [O, C]
    const parts: tf.Tensor4D[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const wtap = tf.reshape(tf.slice(wt, [a * kw + b, 0], [1, o * c]), [o, c]) as tf.Tensor2D;
        const tap = tf.reshape(tf.matMul(d2, wtap), [n, ho, wo, c]) as tf.Tensor4D;
        parts.push(strideScatter(tap, a * dh, b * dw, sh, sw, hp, wp));
      }
    }
    const dxp = parts.length === 1 ? (parts[0] as tf.Tensor4D) : (tf.addN(parts) as tf.Tensor4D);
    return padSpatial(dxp, -pad.top, -pad.bottom, -pad.left, -pad.right);
  });
}

/**
 * Below this many input channels, patches are runs of a few floats (slow to copy): the filter
 * gradient of a strided conv and the input gradient keep the forward-conv formulation there.
 */
export const IM2COL_MIN_CHANNELS = 8;

/** ∂W of a conv2d under the current formulation (`formulation.ts`): im2col, or forward convolutions. */
export function formulatedFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly number[],
  stride: number | readonly number[],
  padding: Padding,
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  const [sh, sw] = pair(stride);
  const strided = sh !== 1 || sw !== 1;
  const im2col = getConvFormulation() !== 'forward-conv' && !(strided && (x.shape[3] as number) < IM2COL_MIN_CHANNELS);
  return im2col ? conv2dFilterGradIm2col(x, dy, filterShape, stride, padding, dilation) : conv2dFilterGrad(x, dy, filterShape, stride, padding, dilation);
}
