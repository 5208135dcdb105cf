/**
 * Exact per-example kernel gradients of convolutions, in bounded chunks of examples.
 *
 * A convolution with kernel tap (a, b), strides (sh, sw) and dilation (dh, dw) reads
 * xp[n, i·sh + a·dh, j·sw + b·dw, c] at output position (i, j), xp the zero-padded input, so
 *   g_n[a, b, c, o] = Σ_{i,j} xp_n[i·sh + a·dh, j·sw + b·dw, c] · δ_n[i, j, o].
 * The square of this sum does not factor over positions, so the per-example gradients are built
 * explicitly, for a chunk of examples at a time, by ONE depthwise convolution: the chunk's inputs as
 * channels ([C, Hp, Wp, n]) convolved with its δ as a depthwise filter ([Ho, Wo, n, O]) at dilation
 * (sh, sw) give Σ_{i,j} xp[a′ + i·sh, b′ + j·sw]·δ[i, j] for every offset (a′, b′); the taps are the
 * offsets a′ = a·dh, b′ = b·dw. A depthwise convolution (kernel [kh, kw, C, M], δ channel c·M + m)
 * is the same with (example, channel) pairs as the channels of one image.
 *
 * Under the default 'im2col' formulation (`setConvFormulation` in @forgetless/core) a standard kernel
 * takes matrix products instead, which wasm runs ~10× faster than its depthwise convolution with
 * Ho×Wo taps: the chunk's transposed patch matrix Xᵀ ([kh·kw·C, n·Ho·Wo], rows (a, b, c), built as for
 * the filter gradient) holds each example's Xᵀ_n as a block of columns, and g_n = Xᵀ_n·δ_n
 * ([kh·kw·C, O]) is one 2-D matMul per example (wasm's batched matMul is ~20× slower than its 2-D
 * one), squared or made absolute, and summed over the chunk by one addN.
 */
import { convPerExampleSum, depthwisePerExampleSum, getConvFormulation, isAutoFormulation, phaseView, stridePhases, strideView } from '@forgetless/core';
import * as tf from '@tensorflow/tfjs-core';

export type Stat = 'square' | 'abs';

export interface ConvGeometry {
  kernelSize: readonly [number, number];
  strides: readonly [number, number];
  dilation: readonly [number, number];
  /**
   * 'causal' pads the width axis by (kw − 1)·dw on the left (Conv1D viewed as [1, steps]); explicit
   * `Pads` are a ZeroPadding2D folded into the layer (`LayerCapture.pads`), its input unpadded.
   */
  padding: 'same' | 'valid' | 'causal' | Pads;
}

export interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

function axisPad(size: number, k: number, s: number, d: number, padding: 'same' | 'valid' | 'causal'): [number, number] {
  const ke = (k - 1) * d + 1;
  if (padding === 'valid') return [0, 0];
  if (padding === 'causal') return [ke - 1, 0];
  const out = Math.ceil(size / s);
  const total = Math.max(0, (out - 1) * s + ke - size);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** tfjs's zero padding of a convolution of this geometry on an [h, w] input. */
export function convPads(h: number, w: number, g: ConvGeometry): Pads {
  if (typeof g.padding === 'object') return { ...g.padding };
  const [top, bottom] = axisPad(h, g.kernelSize[0], g.strides[0], g.dilation[0], g.padding === 'causal' ? 'valid' : g.padding);
  const [left, right] = axisPad(w, g.kernelSize[1], g.strides[1], g.dilation[1], g.padding);
  return { top, bottom, left, right };
}

export function padInput(x: tf.Tensor4D, p: Pads): tf.Tensor4D {
  if (!p.top && !p.bottom && !p.left && !p.right) return x;
  return tf.pad(x, [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ]);
}

/**
 * Σ over chunks of `size` examples (from `b0`) of the stats `part` returns (each chunk's tensors kept
 * in a tf.tidy); the running sums are the only tensors alive between chunks (bounded memory).
 */
function sumOverChunks(n: number, chunk: number, part: (b0: number, size: number) => Partial<Record<Stat, tf.Tensor>>): Partial<Record<Stat, tf.Tensor>> {
  const acc: Partial<Record<Stat, tf.Tensor>> = {};
  for (let b0 = 0; b0 < n; b0 += chunk) {
    const size = Math.min(chunk, n - b0);
    const sums = tf.tidy(() => part(b0, size));
    for (const stat of Object.keys(sums) as Stat[]) {
      const prev = acc[stat];
      const cur = sums[stat] as tf.Tensor;
      acc[stat] = prev ? tf.add(prev, cur) : cur;
      if (prev) tf.dispose([prev, cur]);
    }
  }
  return acc;
}

/**
 * Σ_n stat(g_n) of a conv kernel for each requested statistic, g_n as in the module comment.
 * `x`: [N, H, W, C] layer input; `deltas`: per statistic, δ [N, Ho, Wo, F] (F = O, or C·M for a
 * depthwise kernel with `multiplier` M). Returns [kh, kw, C, O] or [kh, kw, C, M] tensors.
 */
export function convKernelSums(
  x: tf.Tensor4D,
  deltas: Partial<Record<Stat, tf.Tensor4D>>,
  g: ConvGeometry,
  maxChunk: number,
  multiplier?: number,
): Partial<Record<Stat, tf.Tensor>> {
  const simd = simdSums(x, deltas, g, multiplier);
  if (simd) return simd;
  if (!multiplier && getConvFormulation() !== 'forward-conv') return patchKernelSums(x, deltas, g, maxChunk);
  if (multiplier === 1 && isAutoFormulation()) return depthwiseTapSums(x, deltas, g, maxChunk);
  const [n, h, w, c] = x.shape;
  const [sh, sw] = g.strides;
  const p = convPads(h, w, g);
  const hp = h + p.top + p.bottom;
  const wp = w + p.left + p.right;
  const entries = Object.entries(deltas) as [Stat, tf.Tensor4D][];
  // with no weights, square and abs share one set of per-example gradients
  const distinct = [...new Set(entries.map(([, d]) => d))];
  const [, ho, wo, f] = (entries[0] as [Stat, tf.Tensor4D])[1].shape;
  const outH = hp - sh * (ho - 1);
  const outW = wp - sw * (wo - 1);
  const perExample = hp * wp * c + distinct.length * (ho * wo * f + 2 * outH * outW * c * (f / (multiplier ? c : 1)));
  const chunk = Math.max(1, Math.floor(maxChunk / perExample));
  const acc = sumOverChunks(n, chunk, (b0, size) => {
    const rows = <T extends tf.Tensor>(t: T): T => (size === n ? t : (tf.slice(t, b0, size) as T));
    const xp = padInput(rows(x), p);
    const grads = new Map<tf.Tensor, tf.Tensor>();
    for (const d of distinct) grads.set(d, perExampleKernel(xp, rows(d), g, outH, outW, multiplier));
    const r: Partial<Record<Stat, tf.Tensor>> = {};
    for (const [stat, d] of entries) {
      const pe = grads.get(d) as tf.Tensor;
      const batchAxis = multiplier ? 2 : 3;
      r[stat] = tf.sum(stat === 'square' ? tf.square(pe) : tf.abs(pe), batchAxis);
    }
    return r;
  });
  const out: Partial<Record<Stat, tf.Tensor>> = {};
  for (const [stat] of entries) {
    const a = acc[stat] as tf.Tensor;
    out[stat] = multiplier ? a : tf.transpose(a, [1, 2, 0, 3]);
    if (!multiplier) a.dispose();
  }
  return out;
}

/** Σ_n stat(g_n) of a standard conv kernel from per-example matrix products (see the module comment). */
function patchKernelSums(x: tf.Tensor4D, deltas: Partial<Record<Stat, tf.Tensor4D>>, g: ConvGeometry, maxChunk: number): Partial<Record<Stat, tf.Tensor>> {
  const [n, h, w, c] = x.shape;
  const [kh, kw] = g.kernelSize;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilation;
  const p = convPads(h, w, g);
  const entries = Object.entries(deltas) as [Stat, tf.Tensor4D][];
  const [, ho, wo, f] = (entries[0] as [Stat, tf.Tensor4D])[1].shape;
  const k = kh * kw * c;
  const positions = ho * wo;
  const perExample = (h + p.top + p.bottom) * (w + p.left + p.right) * c + 2 * k * positions + entries.length * (positions * f + 2 * k * f);
  const chunk = Math.max(1, Math.floor(maxChunk / perExample));
  const acc = sumOverChunks(n, chunk, (b0, size) => {
    const rows = <T extends tf.Tensor>(t: T): T => (size === n ? t : (tf.slice(t, b0, size) as T));
    const xt = patchesTransposed(padInput(rows(x), p), kh, kw, [sh, sw], [dh, dw], ho, wo); // [k, size·Ho·Wo]
    const r: Partial<Record<Stat, tf.Tensor>> = {};
    for (const [stat, d] of entries) {
      const d2 = tf.reshape(rows(d), [size * positions, f]);
      const terms: tf.Tensor[] = [];
      for (let e = 0; e < size; e++) {
        const ge = tf.matMul(tf.slice(xt, [0, e * positions], [k, positions]) as tf.Tensor2D, tf.slice(d2, [e * positions, 0], [positions, f]) as tf.Tensor2D);
        terms.push(stat === 'square' ? tf.square(ge) : tf.abs(ge));
      }
      r[stat] = terms.length === 1 ? (terms[0] as tf.Tensor) : tf.addN(terms);
    }
    return r;
  });
  const out: Partial<Record<Stat, tf.Tensor>> = {};
  for (const [stat] of entries) {
    out[stat] = tf.reshape(acc[stat] as tf.Tensor, [kh, kw, c, f]);
    (acc[stat] as tf.Tensor).dispose();
  }
  return out;
}

/**
 * Σ_n stat(g_n) of a standard (no `multiplier`) or depthwise conv kernel by @forgetless/core's SIMD
 * kernels on wasm ('auto'): each example's filter gradient computed and accumulated in place, no
 * per-example tensors (bounded memory whatever the batch). Undefined where those kernels do not run.
 */
function simdSums(x: tf.Tensor4D, deltas: Partial<Record<Stat, tf.Tensor4D>>, g: ConvGeometry, multiplier: number | undefined): Partial<Record<Stat, tf.Tensor>> | undefined {
  const [, h, w, c] = x.shape;
  const p = convPads(h, w, g);
  const pad = [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ];
  const out: Partial<Record<Stat, tf.Tensor>> = {};
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor4D][]) {
    const s = multiplier
      ? depthwisePerExampleSum(x, d, [...g.kernelSize, c, multiplier], g.strides, pad, g.dilation, stat)
      : convPerExampleSum(x, d, [...g.kernelSize, c, d.shape[3]], g.strides, pad, g.dilation, stat);
    if (!s) {
      tf.dispose(Object.values(out));
      return undefined;
    }
    out[stat] = s;
  }
  return out;
}

/**
 * Σ_n stat(g_n) of a depthwise kernel with multiplier 1, tap by tap (the 'auto' formulation):
 * g_n[a, b, c] = Σ_{i,j} v_ab[n, i, j, c]·δ_n[i, j, c] with v_ab the tap's view of xp (a unit-stride
 * slice of one stride phase), i.e. per tap one element-wise product and one per-example sum over the
 * Ho·Wo positions (on wasm an average pooling over them), vectorised along the chunk's examples and
 * channels: a few ops per tap whatever the chunk's size, where the forward-conv formulation's
 * depthwise convolution has an Ho×Wo kernel that XNNPACK has no fast path for.
 */
function depthwiseTapSums(x: tf.Tensor4D, deltas: Partial<Record<Stat, tf.Tensor4D>>, g: ConvGeometry, maxChunk: number): Partial<Record<Stat, tf.Tensor>> {
  const [n, h, w, c] = x.shape;
  const [kh, kw] = g.kernelSize;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilation;
  const p = convPads(h, w, g);
  const entries = Object.entries(deltas) as [Stat, tf.Tensor4D][];
  const [, ho, wo] = (entries[0] as [Stat, tf.Tensor4D])[1].shape;
  const positions = ho * wo;
  const perExample = 2 * (h + p.top + p.bottom) * (w + p.left + p.right) * c + entries.length * (2 * positions * c + kh * kw * c);
  const chunk = Math.max(1, Math.floor(maxChunk / perExample));
  const pool = tf.getBackend() === 'wasm' && c <= 8192;
  const acc = sumOverChunks(n, chunk, (b0, size) => {
    const rows = <T extends tf.Tensor>(t: T): T => (size === n ? t : (tf.slice(t, b0, size) as T));
    const phases = stridePhases(padInput(rows(x), p), sh, sw);
    const r: Partial<Record<Stat, tf.Tensor>> = {};
    for (const [stat, d] of entries) {
      const dc = rows(d);
      const taps: tf.Tensor[] = [];
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) {
          const prod = tf.mul(phaseView(phases, a * dh, b * dw, sh, sw, ho, wo), dc); // [size, Ho, Wo, C]
          // per example: Σ over the positions ([size, C])
          const ge = pool
            ? tf.reshape(tf.mul(tf.avgPool(tf.reshape(prod, [size, positions, 1, c]) as tf.Tensor4D, [positions, 1], 1, 'valid'), positions), [size, c])
            : tf.sum(prod, [1, 2]);
          taps.push(tf.sum(stat === 'square' ? tf.square(ge) : tf.abs(ge), 0));
        }
      }
      r[stat] = tf.stack(taps);
    }
    return r;
  });
  const out: Partial<Record<Stat, tf.Tensor>> = {};
  for (const [stat] of entries) {
    out[stat] = tf.reshape(acc[stat] as tf.Tensor, [kh, kw, c, 1]);
    (acc[stat] as tf.Tensor).dispose();
  }
  return out;
}

/** Xᵀ of a padded chunk xp: [kh·kw·C, b·Ho·Wo], rows (a, b, c), columns (example, i, j). */
function patchesTransposed(xp: tf.Tensor4D, kh: number, kw: number, s: [number, number], d: [number, number], ho: number, wo: number): tf.Tensor2D {
  const [b, , , c] = xp.shape;
  const cols = b * ho * wo;
  if (s[0] === 1 && s[1] === 1) {
    const t = tf.transpose(xp, [3, 0, 1, 2]); // [C, b, Hp, Wp]
    const blocks: tf.Tensor[] = [];
    for (let a = 0; a < kh; a++) {
      for (let q = 0; q < kw; q++) blocks.push(tf.reshape(tf.slice(t, [0, 0, a * d[0], q * d[1]], [c, b, ho, wo]), [c, cols]));
    }
    return (blocks.length === 1 ? blocks[0] : tf.concat(blocks, 0)) as tf.Tensor2D;
  }
  const taps: tf.Tensor[] = [];
  for (let a = 0; a < kh; a++) {
    for (let q = 0; q < kw; q++) taps.push(tf.reshape(strideView(xp, a * d[0], q * d[1], s[0], s[1], ho, wo), [1, cols, c]));
  }
  return tf.reshape(tf.transpose(tf.concat(taps, 0), [0, 2, 1]), [kh * kw * c, cols]) as tf.Tensor2D;
}

/**
 * Per-example kernel gradients of one chunk: [C, kh, kw, b, O] for a standard kernel (batch axis 3),
 * [kh, kw, b, C, M] for a depthwise one (batch axis 2).
 */
function perExampleKernel(xp: tf.Tensor4D, d: tf.Tensor4D, g: ConvGeometry, outH: number, outW: number, multiplier?: number): tf.Tensor {
  const [b, hp, wp, c] = xp.shape;
  const [, ho, wo, f] = d.shape;
  const [kh, kw] = g.kernelSize;
  const [dh, dw] = g.dilation;
  const span: [number, number] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const dil = g.strides[0] === 1 && g.strides[1] === 1 ? 1 : ([g.strides[0], g.strides[1]] as [number, number]);
  if (!multiplier) {
    const xt = tf.transpose(xp, [3, 1, 2, 0]); // [C, Hp, Wp, b]: examples as channels
    const dt = tf.transpose(d, [1, 2, 0, 3]); // [Ho, Wo, b, O]: a depthwise filter
    let r: tf.Tensor4D = tf.depthwiseConv2d(xt, dt, 1, 'valid', 'NHWC', dil); // [C, outH, outW, b·O]
    if (outH !== span[0] || outW !== span[1] || dh !== 1 || dw !== 1) r = tf.stridedSlice(r, [0, 0, 0, 0], [c, span[0], span[1], b * f], [1, dh, dw, 1]) as tf.Tensor4D;
    return tf.reshape(r, [c, kh, kw, b, f]);
  }
  const m = multiplier;
  const xt = tf.reshape(tf.transpose(xp, [1, 2, 0, 3]), [1, hp, wp, b * c]) as tf.Tensor4D; // one image, (example, channel) as channels
  const dt = tf.reshape(tf.transpose(tf.reshape(d, [b, ho, wo, c, m]), [1, 2, 0, 3, 4]), [ho, wo, b * c, m]);
  let r: tf.Tensor4D = tf.depthwiseConv2d(xt, dt as tf.Tensor4D, 1, 'valid', 'NHWC', dil); // [1, outH, outW, b·C·M]
  if (outH !== span[0] || outW !== span[1] || dh !== 1 || dw !== 1) r = tf.stridedSlice(r, [0, 0, 0, 0], [1, span[0], span[1], b * c * m], [1, dh, dw, 1]) as tf.Tensor4D;
  return tf.reshape(r, [kh, kw, b, c, m]);
}

/**
 * Σ_n stat(g_n) of a kernel applied at every position: g_n = Σ_p x_n[p]ᵀ δ_n[p] ([in, out]), for
 * x [N, ..., in] and δ [N, ..., out] (a Dense on sequences, a pointwise kernel). One batched matmul
 * per chunk.
 */
export function positionKernelSums(x: tf.Tensor, deltas: Partial<Record<Stat, tf.Tensor>>, maxChunk: number): Partial<Record<Stat, tf.Tensor>> {
  const n = x.shape[0] as number;
  const fin = x.shape[x.shape.length - 1] as number;
  const entries = Object.entries(deltas) as [Stat, tf.Tensor][];
  const fout = (entries[0] as [Stat, tf.Tensor])[1].shape.at(-1) as number;
  const positions = x.size / (n * fin);
  const chunk = Math.max(1, Math.floor(maxChunk / (positions * (fin + fout) + 2 * fin * fout)));
  return sumOverChunks(n, chunk, (b0, size) => {
    const rows = (t: tf.Tensor) => (size === n ? t : tf.slice(t, b0, size));
    const xt = tf.transpose(tf.reshape(rows(x), [size, positions, fin]), [0, 2, 1]); // [b, in, P]
    const r: Partial<Record<Stat, tf.Tensor>> = {};
    for (const [stat, d] of entries) {
      const pe = tf.matMul(xt as tf.Tensor3D, tf.reshape(rows(d), [size, positions, fout]) as tf.Tensor3D); // [b, in, out]
      r[stat] = tf.sum(stat === 'square' ? tf.square(pe) : tf.abs(pe), 0);
    }
    return r;
  });
}
