/**
 * The gradient of max pooling (NHWC) built from forward ops, because the wasm backend's MaxPoolGrad
 * kernel (tfjs 4.22) loses gradient for some windows (measured here: 17–53 % relative error against
 * the cpu backend). Each window passes δ to its first maximum in row-major order, as tfjs's cpu kernel
 * does, so ties (e.g. all-zero windows after ReLU) match the stock gradient exactly:
 *   ∂x[p] = Σ_windows w∋p  δ[w] · [p is the first arg-max of w].
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Padding } from './conv2d.js';
import { type WasmHeapBackend, heapOffset, simdKernelsFor } from './depthwise-simd.js';
import { getConvFormulation } from './formulation.js';
import { strideScatter, strideView } from './windows.js';

const MAX_POOL_GRAD = 'ForgetlessMaxPoolGrad';

/**
 * Inputs x, y (the forward's output), dy; attrs kh, kw, sh, sw, pt, pl: ∂x by the SIMD module's
 * `max_pool_grad` (`pool-simd.c`), one call for what the composed form takes ~10 kernels a tap for.
 */
const maxPoolGradKernel: tf.KernelConfig = {
  kernelName: MAX_POOL_GRAD,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown }) => {
    const { x, y, dy } = inputs as Record<string, tf.TensorInfo>;
    const ex = simdKernelsFor(backend, x as tf.TensorInfo, y as tf.TensorInfo, dy as tf.TensorInfo);
    if (!ex) throw new Error(`${MAX_POOL_GRAD} (forgetless): the SIMD kernels do not run here`);
    const b = backend as WasmHeapBackend;
    const [n, h, w, c] = (x as tf.TensorInfo).shape as [number, number, number, number];
    const [, ho, wo] = (y as tf.TensorInfo).shape as [number, number, number, number];
    const dx = b.makeOutput([n, h, w, c], 'float32');
    if (n * h * w * c > 0) {
      const g = ['kh', 'kw', 'sh', 'sw', 'pt', 'pl'].map((k) => attrs[k] as number);
      ex.max_pool_grad(heapOffset(b, x as tf.TensorInfo), heapOffset(b, y as tf.TensorInfo), heapOffset(b, dy as tf.TensorInfo), heapOffset(b, dx), n, h, w, c, ho, wo, ...g);
    }
    return dx;
  }) as unknown as tf.KernelFunc,
};

/** A window or stride given as one size for both axes, or as [height, width]. */
export type Size2 = number | readonly [number, number];

export function pair(v: Size2): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/**
 * One axis of tfjs's pooling/convolution geometry for input length n, window k, stride s:
 *   valid: out = ⌈(n − k + 1) / s⌉, no padding;
 *   same:  out = ⌈n / s⌉, total = max(0, (out − 1)·s + k − n), before = ⌊total / 2⌋, after = total − before.
 */
export function poolAxis(n: number, k: number, s: number, padding: Padding): { before: number; after: number; out: number } {
  if (padding === 'valid') return { before: 0, after: 0, out: Math.ceil((n - k + 1) / s) };
  const out = Math.ceil(n / s);
  const total = Math.max(0, (out - 1) * s + k - n);
  const before = Math.floor(total / 2);
  return { before, after: total - before, out };
}

/** Places v ([N,Ho,Wo,C]) at rows a + i·sh, columns b + j·sw of a zero [N,Hp,Wp,C] tensor. */
function scatterStrided(v: tf.Tensor4D, a: number, b: number, sh: number, sw: number, hp: number, wp: number): tf.Tensor4D {
  const [n, ho, wo, c] = v.shape;
  let u: tf.Tensor4D = v;
  if (sh > 1 || sw > 1) {
    const e = tf.reshape(v, [n, ho, 1, wo, 1, c]);
    const z = tf.pad(e, [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    u = tf.reshape(z, [n, ho * sh, wo * sw, c]);
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

let simdOn = true;

/**
 * Turns the SIMD max and average pooling gradients off (false: max pooling's composed form, as before
 * it; average pooling's tfjs AvgPoolGrad kernel of δ·kh·kw/count) or back on; for same-process
 * before/after benchmarks and tests.
 */
export function setSimdPoolGrads(on: boolean): void {
  simdOn = on;
}

/**
 * ∂x of `tf.maxPool(x, poolSize, stride, padding)` given its output y and δ = dy; windows and strides
 * may be non-square. On wasm under 'auto' with the SIMD module, one kernel (`pool-simd.c`); elsewhere
 * composed of forward ops, ~10 kernels a tap.
 */
export function maxPoolGrad(x: tf.Tensor4D, y: tf.Tensor4D, dy: tf.Tensor4D, poolSize: Size2, stride: Size2, padding: Padding): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [kh, kw] = pair(poolSize);
  const [sh, sw] = pair(stride);
  const ph = poolAxis(h, kh, sh, padding);
  const pw = poolAxis(w, kw, sw, padding);
  // on wasm under 'auto' with the SIMD module: one kernel (the same first-maximum rule)
  const shapesFit =
    y.shape[1] === ph.out &&
    y.shape[2] === pw.out &&
    [0, 3].every((a) => y.shape[a] === x.shape[a] && dy.shape[a] === x.shape[a]) &&
    dy.shape[1] === ph.out &&
    dy.shape[2] === pw.out;
  if (simdOn && shapesFit && tf.getBackend() === 'wasm' && simdKernelsFor(tf.backend(), x, y, dy)) {
    if (!tf.getKernel(MAX_POOL_GRAD, 'wasm')) tf.registerKernel(maxPoolGradKernel);
    return tf.engine().runKernel(MAX_POOL_GRAD, { x, y, dy }, { kh, kw, sh, sw, pt: ph.before, pl: pw.before } as never) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const padded = ph.before || ph.after || pw.before || pw.after;
    const xp = padded
      ? tf.pad(
          x,
          [
            [0, 0],
            [ph.before, ph.after],
            [pw.before, pw.after],
            [0, 0],
          ],
          -3.4e38,
        )
      : x;
    const hp = h + ph.before + ph.after;
    const wp = w + pw.before + pw.after;
    // 'forward-conv' keeps forgetless 0.1's StridedSlice windows (slow on wasm) for comparison
    const views = getConvFormulation() !== 'forward-conv';
    let taken: tf.Tensor4D = tf.zeros(y.shape);
    const parts: tf.Tensor4D[] = [];
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const end = [n, a + (ph.out - 1) * sh + 1, b + (pw.out - 1) * sw + 1, c];
        const win = views ? strideView(xp, a, b, sh, sw, ph.out, pw.out) : (tf.stridedSlice(xp, [0, a, b, 0], end, [1, sh, sw, 1]) as tf.Tensor4D);
        const isMax = tf.mul(tf.cast(tf.equal(win, y), 'float32'), tf.sub(1, taken)) as tf.Tensor4D;
        taken = tf.add(taken, isMax);
        const v = tf.mul(isMax, dy) as tf.Tensor4D;
        parts.push(views ? strideScatter(v, a, b, sh, sw, hp, wp) : scatterStrided(v, a, b, sh, sw, hp, wp));
      }
    }
    const dxp = parts.length === 1 ? (parts[0] as tf.Tensor4D) : (tf.addN(parts) as tf.Tensor4D);
    if (!padded) return dxp;
    return tf.slice(dxp, [0, ph.before, pw.before, 0], [n, h, w, c]);
  });
}

const AVG_POOL_GRAD = 'ForgetlessAvgPoolGrad';

/** Inputs dy; attrs H, W, kh, kw, sh, sw, pt, pl: ∂x [N, H, W, C] by the SIMD module's `avg_pool_grad` (`pool-simd.c`). */
const avgPoolGradKernel: tf.KernelConfig = {
  kernelName: AVG_POOL_GRAD,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown }) => {
    const dy = inputs.dy as tf.TensorInfo;
    const ex = simdKernelsFor(backend, dy);
    if (!ex) throw new Error(`${AVG_POOL_GRAD} (forgetless): the SIMD kernels do not run here`);
    const b = backend as WasmHeapBackend;
    const [n, ho, wo, c] = dy.shape as [number, number, number, number];
    const [h, w] = [attrs.H as number, attrs.W as number];
    const g = ['kh', 'kw', 'sh', 'sw', 'pt', 'pl'].map((k) => attrs[k] as number);
    const dx = b.makeOutput([n, h, w, c], 'float32');
    if (n * h * w * c > 0) ex.avg_pool_grad(heapOffset(b, dy), heapOffset(b, dx), n, h, w, c, ho, wo, ...g);
    return dx;
  }) as unknown as tf.KernelFunc,
};

/**
 * ∂x of `tf.avgPool(x, poolSize, stride, pad)` for δ = dy: the derivative of tfjs's forward, which
 * divides each window's sum by the number of its taps inside the image (padding not counted, as
 * TensorFlow does), ∂x[p] = Σ_{windows w ∋ p} δ[w] / count(w). tfjs's own AvgPool gradient (its
 * AvgPoolGrad kernel, cpu and wasm alike) divides by kh·kw everywhere, which is that derivative only
 * where no window overlaps the padding: with 'same' padding a border window's taps get kh·kw/count(w)
 * times too little (4/9 at a 3×3 window's corner). On wasm under 'auto' with the SIMD module, one
 * kernel (`pool-simd.c`); elsewhere tfjs's AvgPoolGrad of δ·kh·kw/count (the same where nothing is
 * padded). `x`: the forward's input (its shape is what is read).
 */
export function avgPoolGrad(x: tf.Tensor4D, dy: tf.Tensor4D, poolSize: Size2, stride: Size2, pad: Padding | number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [kh, kw] = pair(poolSize);
  const [sh, sw] = pair(stride);
  const info = tf.backend_util.computePool2DInfo(x.shape, [kh, kw], [sh, sw], 1, pad as 'same');
  const { top, left, bottom, right } = info.padInfo;
  const fits = dy.rank === 4 && dy.shape[0] === n && dy.shape[1] === info.outHeight && dy.shape[2] === info.outWidth && dy.shape[3] === c;
  if (!fits)
    throw new Error(`avgPool gradient (forgetless): dy [${dy.shape}] does not fit the pooling of x [${x.shape}] (window ${kh}×${kw}, strides ${sh}×${sw}, pad ${String(pad)})`);
  if (simdOn && dy.dtype === 'float32' && tf.getBackend() === 'wasm' && simdKernelsFor(tf.backend(), dy)) {
    if (!tf.getKernel(AVG_POOL_GRAD, 'wasm')) tf.registerKernel(avgPoolGradKernel);
    return tf.engine().runKernel(AVG_POOL_GRAD, { dy }, { H: h, W: w, kh, kw, sh, sw, pt: top, pl: left } as never) as tf.Tensor4D;
  }
  const stock = (d: tf.Tensor4D) => tf.engine().runKernel('AvgPoolGrad', { dy: d, input: x }, { filterSize: [kh, kw], strides: [sh, sw], pad } as never) as tf.Tensor4D;
  if (top + left + bottom + right === 0) return stock(dy);
  return tf.tidy(() => {
    // count(w)/(kh·kw) of every window: the mean of ones padded with zeros, over the window, unpadded
    const ones = tf.pad(tf.ones([1, h, w, 1]), [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ]) as tf.Tensor4D;
    const share = tf.avgPool(ones, [kh, kw], [sh, sw], 'valid');
    return stock(tf.div(dy, share) as tf.Tensor4D);
  });
}
