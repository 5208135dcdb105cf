/**
 * Depthwise convolution (NHWC, filter [kh, kw, C, M], output channel c·M + m) and its gradients from
 * forward ops, for backends without the DepthwiseConv2dNativeBackprop{Filter,Input} kernels (wasm)
 * and for dilated convolutions (tfjs has no gradient for them). With stride s, dilation d:
 *   y[n,i,j,c·M+m] = Σ_{a,b} xp[n, i·sh + a·dh, j·sw + b·dw, c] · W[a,b,c,m]
 *
 * Filter gradient, ∂W[a,b,c,m] = Σ_{n,i,j} xp[n, i·sh + a·dh, j·sw + b·dw, c] · δ[n,i,j,c·M+m]: one
 * depthwise convolution of the examples as channels, X[0,p,q,n·C+c] = xp[n,p,q,c], by δ as a filter,
 * F[i,j,n·C+c,m] = δ[n,i,j,c·M+m], at dilation s and stride d; its output [1, ≥kh, ≥kw, N·C·M] is
 * cropped and summed over n. (Faster on wasm than im2col + matMul, which materialises kh·kw copies
 * of the input.)
 *
 * Input gradient, ∂xp[n,p,q,c] = Σ_{a,b,m} δ̃[n, p − a·dh, q − b·dw, c·M+m] · W[a,b,c,m], with δ̃ the
 * δ zero-dilated by s (δ̃[n, i·sh, j·sw] = δ[n,i,j], zeros between): a valid depthwise convolution,
 * at dilation d, of δ̃ padded by e−1 with the flipped filter W'[a,b,c·M+m,0] = W[kh−1−a, kw−1−b, c, m],
 * summed over m; the padding is shrunk by what is cropped back to x.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Padding, type Pair, convPadding, pair, padForConv, padSpatial } from './conv2d.js';
import { isAutoFormulation } from './formulation.js';
import { phaseView, stridePhases } from './windows.js';

export interface DepthwiseGeometry {
  stride: number | readonly number[];
  padding: Padding;
  dilation?: number | readonly number[];
}

/** x: [N,H,W,C], filter: [kh,kw,C,M], bias: [C·M] → [N,Ho,Wo,C·M]. Gradient: see `gradients.ts`. */
export function depthwiseConv2d(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D | undefined, g: DepthwiseGeometry): tf.Tensor4D {
  const y = tf.depthwiseConv2d(x, filter, pair(g.stride), g.padding, 'NHWC', pair(g.dilation));
  return bias ? (tf.add(y, bias) as tf.Tensor4D) : y;
}

/** δ̃: zeros inserted between the rows (s_h − 1) and columns (s_w − 1) of dy; [N, (Ho−1)·sh+1, (Wo−1)·sw+1, K]. */
export function zeroDilate(dy: tf.Tensor4D, stride: Pair): tf.Tensor4D {
  const [sh, sw] = stride;
  if (sh === 1 && sw === 1) return dy;
  return tf.tidy(() => {
    const [n, ho, wo, k] = dy.shape;
    const spread = tf.pad(tf.reshape(dy, [n * ho, 1, wo, 1, k]), [
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    const full = tf.reshape(spread, [n, ho * sh, wo * sw, k]) as tf.Tensor4D;
    return tf.slice(full, [0, 0, 0, 0], [-1, (ho - 1) * sh + 1, (wo - 1) * sw + 1, -1]);
  });
}

/** ∂W of a depthwise convolution (see the module comment). x: [N,H,W,C], dy: [N,Ho,Wo,C·M]. */
export function depthwiseFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly number[],
  stride: number | readonly number[],
  padding: Padding,
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, m] = filterShape as [number, number, number, number];
    const s = pair(stride);
    const d = pair(dilation);
    const [n] = x.shape;
    const xp = padForConv(x, kh, kw, s, padding, d);
    const [, hp, wp] = xp.shape;
    const [, ho, wo] = dy.shape;
    const input = tf.reshape(tf.transpose(xp, [1, 2, 0, 3]), [1, hp, wp, n * c]) as tf.Tensor4D;
    const f = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [ho, wo, n * c, m]) as tf.Tensor4D;
    let g = tf.depthwiseConv2d(input, f, d, 'valid', 'NHWC', s); // [1, ≥kh, ≥kw, N·C·M]
    if (g.shape[1] !== kh || g.shape[2] !== kw) g = tf.slice(g, [0, 0, 0, 0], [1, kh, kw, -1]);
    const per = tf.reshape(g, [kh, kw, n, c * m]);
    return tf.reshape(n === 1 ? per : tf.sum(per, 2), [kh, kw, c, m]) as tf.Tensor4D;
  });
}

/**
 * ∂W of a depthwise convolution tap by tap, channel-wise: ∂W[a,b,c,m] = Σ_{n,i,j} v_ab[n,i,j,c]·δ[n,i,j,c·M+m]
 * with v_ab the tap's view of xp (`strideView`): one element-wise product and one reduction over the
 * N·Ho·Wo leading positions per tap (on wasm an average pooling, `wasm-kernels.ts`), all vectorised
 * along the channels, where `depthwiseFilterGrad`'s single depthwise convolution has an Ho×Wo kernel
 * that XNNPACK has no fast path for.
 */
export function depthwiseFilterGradTaps(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly number[],
  stride: number | readonly number[],
  padding: Padding,
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, m] = filterShape as [number, number, number, number];
    const [sh, sw] = pair(stride);
    const [dh, dw] = pair(dilation);
    const [n, ho, wo] = dy.shape;
    const xp = padForConv(x, kh, kw, [sh, sw], padding, [dh, dw]);
    const d = m === 1 ? dy : tf.reshape(dy, [n * ho * wo, c, m]);
    const phases = stridePhases(xp, sh, sw);
    const taps: tf.Tensor[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const v = phaseView(phases, a * dh, b * dw, sh, sw, ho, wo);
        const prod = m === 1 ? tf.mul(v, d) : tf.mul(tf.reshape(v, [n * ho * wo, c, 1]), d);
        taps.push(m === 1 ? tf.sum(prod, [0, 1, 2]) : tf.sum(prod, 0));
      }
    }
    return tf.reshape(tf.stack(taps), [kh, kw, c, m]) as tf.Tensor4D;
  });
}

/**
 * ∂W of a depthwise convolution under the current formulation (`formulation.ts`): tap by tap
 * (`depthwiseFilterGradTaps`, 1.2–1.8× faster on wasm) under 'auto' and 'composed' for depth multiplier 1 (with
 * more, its broadcast products are slower), one depthwise convolution (`depthwiseFilterGrad`) otherwise.
 */
export function formulatedDepthwiseFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly number[],
  stride: number | readonly number[],
  padding: Padding,
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  const taps = isAutoFormulation() && filterShape[3] === 1;
  return taps ? depthwiseFilterGradTaps(x, dy, filterShape, stride, padding, dilation) : depthwiseFilterGrad(x, dy, filterShape, stride, padding, dilation);
}

/** ∂x of a depthwise convolution (see the module comment). dy: [N,Ho,Wo,C·M], filter: [kh,kw,C,M]. */
export function depthwiseInputGrad(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: readonly number[],
  stride: number | readonly number[],
  padding: Padding,
  dilation: number | readonly number[] = 1,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, m] = filter.shape;
    const [n, h, w] = inputShape as [number, number, number];
    const s = pair(stride);
    const d = pair(dilation);
    const p = convPadding(h, w, kh, kw, s, padding, d);
    const eh = (kh - 1) * d[0] + 1;
    const ew = (kw - 1) * d[1] + 1;
    const dd = zeroDilate(dy, s);
    const [, hd, wd] = dd.shape;
    // output rows = hd + top' + bottom' − e + 1 = h with top' = e−1−top
    const ddp = padSpatial(dd, eh - 1 - p.top, h - hd + p.top, ew - 1 - p.left, w - wd + p.left);
    const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, c * m, 1]) as tf.Tensor4D;
    const full = tf.depthwiseConv2d(ddp, flipped, 1, 'valid', 'NHWC', d); // [N, H, W, C·M]
    return m === 1 ? full : (tf.sum(tf.reshape(full, [n, h, w, c, m]), 4) as tf.Tensor4D);
  });
}
