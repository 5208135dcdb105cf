/**
 * The per-example trick for each parametric layer kind: from the layer's captured input (and
 * intermediates) and the per-example pre-activation gradients δ (its tap's gradient), the sums over
 * the batch of the squared or absolute per-example gradient of each of its weights.
 * - dense, W[i,j]: g_n = x_n ⊗ δ_n → Σ g² = (X∘X)ᵀ(Δ∘Δ), Σ |g| = |X|ᵀ|Δ|; on sequences [N, T, in],
 *   g_n = X_nᵀΔ_n (a batched matmul); bias: Σ over positions of δ.
 * - conv2d, depthwiseConv2d, conv1d (as a [1, steps] image): `per-example-conv.ts`.
 * - separableConv2d: the pointwise kernel sees the depthwise output d (captured), g_n = Σ_p d_n[p]ᵀδ_n[p];
 *   the depthwise kernel sees δ_dw = δ·W_pwᵀ (the pointwise kernel is linear).
 * - batchNorm (inference), layerNorm: y = γ·x̂ + β → g_γ,n = Σ_positions δ_n·x̂_n, g_β,n = Σ_positions δ_n (a batch norm whose
 *   ReLU6 ran inside it: its tap is after the ReLU6, and δ_n is taken through the ReLU6's mask).
 * - prelu, y = relu(x) − α·relu(−x): g_α,n = −Σ_shared axes δ_n·relu(−x_n).
 * - embedding, E[v, :]: g_n = onehot(ids_n)ᵀ δ_n (a batched matmul, in chunks).
 * Any other kind (conv2dTranspose, shared layers) falls back to the per-example autograd loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Layer, type LayerCapture, batchNormExampleSums } from '@forgetless/core';
import { type ConvGeometry, type Stat, convKernelSums, positionKernelSums } from './per-example-conv.js';

export type LayerSums = Partial<Record<Stat, Record<string, tf.Tensor>>>;
type Deltas = Partial<Record<Stat, tf.Tensor>>;
type FastPath = (layer: Layer, c: LayerCapture, deltas: Deltas, maxChunk: number) => LayerSums;

const pair = (v: unknown, fallback: number): [number, number] => (Array.isArray(v) ? [v[0] as number, v[1] as number] : typeof v === 'number' ? [v, v] : [fallback, fallback]);

/** A conv layer's geometry from its public fields (`kernelSize`, `strides` or `stride`, `dilation`, `padding`). */
function geometry(layer: Layer, c?: LayerCapture): ConvGeometry {
  const l = layer as unknown as Record<string, unknown>;
  // a ZeroPadding2D folded into the layer: its input captured unpadded, the pads explicit (the layer's own padding 'valid')
  const p = c?.pads;
  return {
    kernelSize: pair(l.kernelSize, 1),
    strides: pair(l.strides ?? l.stride, 1),
    dilation: pair(l.dilation, 1),
    padding: p ? { top: p[0][0], bottom: p[0][1], left: p[1][0], right: p[1][1] } : (l.padding as ConvGeometry['padding']),
  };
}

function reduce(stat: Stat, perExample: tf.Tensor): tf.Tensor {
  return tf.sum(stat === 'square' ? tf.square(perExample) : tf.abs(perExample), 0);
}

/** Per-example sums over every axis but the batch and the last: [N, ..., F] → [N, F]. */
function overPositions(t: tf.Tensor): tf.Tensor {
  return t.rank > 2
    ? tf.sum(
        t,
        t.shape.slice(1, -1).map((_, i) => i + 1),
      )
    : t;
}

function biasSums(layer: Layer, deltas: Deltas, out: LayerSums): void {
  if (!layer.params.bias) return;
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) (out[stat] as Record<string, tf.Tensor>).bias = reduce(stat, overPositions(d));
}

function init(deltas: Deltas): LayerSums {
  const out: LayerSums = {};
  for (const stat of Object.keys(deltas) as Stat[]) out[stat] = {};
  return out;
}

function put(out: LayerSums, local: string, sums: Partial<Record<Stat, tf.Tensor>>): void {
  for (const [stat, t] of Object.entries(sums) as [Stat, tf.Tensor][]) (out[stat] as Record<string, tf.Tensor>)[local] = t;
}

const dense: FastPath = (layer, c, deltas, maxChunk) => {
  const out = init(deltas);
  if (c.input.rank === 2) {
    for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) {
      const f = stat === 'square' ? tf.square : tf.abs;
      (out[stat] as Record<string, tf.Tensor>).kernel = tf.matMul(tf.transpose(f(c.input)), f(d));
    }
  } else put(out, 'kernel', positionKernelSums(c.input, deltas, maxChunk));
  biasSums(layer, deltas, out);
  return out;
};

const conv2d: FastPath = (layer, c, deltas, maxChunk) => {
  const out = init(deltas);
  put(out, 'kernel', convKernelSums(c.input as tf.Tensor4D, deltas as Partial<Record<Stat, tf.Tensor4D>>, geometry(layer, c), maxChunk));
  biasSums(layer, deltas, out);
  return out;
};

const depthwiseConv2d: FastPath = (layer, c, deltas, maxChunk) => {
  const out = init(deltas);
  const m = (layer.params.depthwise_kernel as tf.Variable).shape[3] as number;
  put(out, 'depthwise_kernel', convKernelSums(c.input as tf.Tensor4D, deltas as Partial<Record<Stat, tf.Tensor4D>>, geometry(layer, c), maxChunk, m));
  biasSums(layer, deltas, out);
  return out;
};

const separableConv2d: FastPath = (layer, c, deltas, maxChunk) => {
  const out = init(deltas);
  const dw = c.inner?.depthwise;
  if (!dw) throw new Error(`per-example: layer '${layer.name}' captured no depthwise output`);
  const pw = layer.params.pointwise_kernel as tf.Variable; // [1, 1, C·M, O]
  const [, , cm, o] = pw.shape as [number, number, number, number];
  put(
    out,
    'pointwise_kernel',
    mapSums(positionKernelSums(dw, deltas, maxChunk), (t) => tf.reshape(t, [1, 1, cm, o])),
  );
  const pwT = tf.transpose(tf.reshape(pw, [cm, o]));
  const dwDeltas: Deltas = {};
  const seen = new Map<tf.Tensor, tf.Tensor>();
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) {
    if (!seen.has(d)) seen.set(d, tf.reshape(tf.matMul(tf.reshape(d, [-1, o]), pwT), [...d.shape.slice(0, -1), cm]));
    dwDeltas[stat] = seen.get(d) as tf.Tensor;
  }
  const m = (layer.params.depthwise_kernel as tf.Variable).shape[3] as number;
  put(out, 'depthwise_kernel', convKernelSums(c.input as tf.Tensor4D, dwDeltas as Partial<Record<Stat, tf.Tensor4D>>, geometry(layer, c), maxChunk, m));
  biasSums(layer, deltas, out);
  return out;
};

const conv1d: FastPath = (layer, c, deltas, maxChunk) => {
  const out = init(deltas);
  const l = layer as unknown as { kernelSize: number; strides: number; dilation: number; padding: 'same' | 'valid' | 'causal' };
  const as4d = (t: tf.Tensor) => tf.expandDims(t, 1) as tf.Tensor4D;
  const d4: Partial<Record<Stat, tf.Tensor4D>> = {};
  const seen = new Map<tf.Tensor, tf.Tensor4D>();
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) {
    if (!seen.has(d)) seen.set(d, as4d(d));
    d4[stat] = seen.get(d) as tf.Tensor4D;
  }
  const g: ConvGeometry = { kernelSize: [1, l.kernelSize], strides: [1, l.strides], dilation: [1, l.dilation], padding: l.padding };
  const k = layer.params.kernel as tf.Variable;
  put(
    out,
    'kernel',
    mapSums(convKernelSums(as4d(c.input), d4, g, maxChunk), (t) => tf.reshape(t, k.shape)),
  );
  biasSums(layer, deltas, out);
  return out;
};

/** γ/β sums of a normalisation layer given x̂ and the axes γ lives on (the others are summed per example). */
function normSums(layer: Layer, xhat: tf.Tensor, deltas: Deltas, paramAxes: readonly number[], paramShape: readonly number[]): LayerSums {
  const out = init(deltas);
  const summed = xhat.shape.map((_, i) => i).filter((i) => i > 0 && !paramAxes.includes(i));
  const perExample = (t: tf.Tensor) => tf.reshape(summed.length ? tf.sum(t, summed) : t, [t.shape[0] as number, ...paramShape]);
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) {
    const r = out[stat] as Record<string, tf.Tensor>;
    if (layer.params.gamma) r.gamma = reduce(stat, perExample(tf.mul(d, xhat)));
    if (layer.params.beta) r.beta = reduce(stat, perExample(d));
  }
  return out;
}

/**
 * A batch norm's γ/β sums over its last axis by @forgetless/core's SIMD kernel on wasm ('auto'): one
 * pass over x and δ, no x̂ or per-example tensors; δ through the mask of the ReLU capped at `cap` (6:
 * ReLU6, +∞: ReLU; 0: none) where that ReLU after the layer ran inside it (the tap's gradient is then
 * the one at the ReLU's output). Undefined where that kernel does not run.
 */
function simdNormSums(layer: Layer, x: tf.Tensor, deltas: Deltas, epsilon: number, cap: number): LayerSums | undefined {
  const out = init(deltas);
  const both: tf.Tensor[] = [];
  const affine = cap > 0 ? { cap, ...(layer.params.gamma ? { gamma: layer.params.gamma } : {}), ...(layer.params.beta ? { beta: layer.params.beta } : {}) } : undefined;
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) {
    const s = batchNormExampleSums(x, d, layer.state.moving_mean as tf.Variable, layer.state.moving_variance as tf.Variable, epsilon, stat, affine);
    if (!s) {
      tf.dispose(both);
      return undefined;
    }
    both.push(s);
    out[stat] = normRows(layer, s);
  }
  return out;
}

/** A batch norm's γ and β sums from one [2, C] tensor of them (row 0 γ, row 1 β), for the parameters it has. */
export function normRows(layer: Layer, s: tf.Tensor2D): Record<string, tf.Tensor> {
  const c = s.shape[1];
  const r: Record<string, tf.Tensor> = {};
  if (layer.params.gamma) r.gamma = tf.reshape(tf.slice(s, [0, 0], [1, c]), [c]);
  if (layer.params.beta) r.beta = tf.reshape(tf.slice(s, [1, 0], [1, c]), [c]);
  return r;
}

const batchNorm: FastPath = (layer, c, deltas) => {
  const bn = layer as unknown as { normalize?: (x: tf.Tensor) => tf.Tensor; resolvedAxis?: number; epsilon: number };
  // the cap of the ReLU run inside the batch norm's kernel: 6 (ReLU6), +∞ (ReLU), 0 (none)
  const cap = c.fusedActivation === 'relu6' ? 6 : c.fusedActivation === 'relu' ? Number.POSITIVE_INFINITY : 0;
  const simd = bn.resolvedAxis === c.input.rank - 1 ? simdNormSums(layer, c.input, deltas, bn.epsilon, cap) : undefined;
  if (simd) return simd;
  const xhat = bn.normalize
    ? bn.normalize(c.input)
    : tf.mul(tf.sub(c.input, layer.state.moving_mean as tf.Variable), tf.rsqrt(tf.add(layer.state.moving_variance as tf.Variable, bn.epsilon)));
  const axis = bn.resolvedAxis ?? c.input.rank - 1;
  // δ at the ReLU's output (run inside the batch norm's kernel) through its mask, 0 < y ≤ cap for y = γ·x̂ + β
  const masked = cap > 0 ? maskRelu(layer, xhat, axis, deltas, cap) : deltas;
  return normSums(layer, xhat, masked, [axis], [c.input.shape[axis] as number]);
};

/** Each δ through the mask 0 < y ≤ cap of the ReLU capped at `cap` (6: ReLU6, +∞: ReLU) at the batch norm's output y = γ·x̂ + β (γ, β broadcast along `axis`). */
function maskRelu(layer: Layer, xhat: tf.Tensor, axis: number, deltas: Deltas, cap: number): Deltas {
  const shape = xhat.shape.map((d, i) => (i === axis ? d : 1));
  const { gamma, beta } = layer.params;
  let y = gamma ? tf.mul(xhat, tf.reshape(gamma, shape)) : xhat;
  if (beta) y = tf.add(y, tf.reshape(beta, shape));
  const mask = tf.cast(cap === Number.POSITIVE_INFINITY ? tf.greater(y, 0) : tf.logicalAnd(tf.greater(y, 0), tf.lessEqual(y, cap)), 'float32');
  const out: Deltas = {};
  const seen = new Map<tf.Tensor, tf.Tensor>();
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) {
    if (!seen.has(d)) seen.set(d, tf.mul(d, mask));
    out[stat] = seen.get(d) as tf.Tensor;
  }
  return out;
}

const layerNorm: FastPath = (layer, c, deltas) => {
  const ln = layer as unknown as { normalize: (x: tf.Tensor) => tf.Tensor; resolvedAxes: readonly number[] };
  const axes = [...ln.resolvedAxes].sort((a, b) => a - b);
  return normSums(
    layer,
    ln.normalize(c.input),
    deltas,
    axes,
    axes.map((a) => c.input.shape[a] as number),
  );
};

const prelu: FastPath = (layer, c, deltas) => {
  const out = init(deltas);
  const alpha = layer.params.alpha as tf.Variable;
  const shared = (layer as unknown as { sharedAxes: number[] }).sharedAxes;
  const neg = tf.neg(tf.relu(tf.neg(c.input)));
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) {
    const g = tf.mul(d, neg);
    const pe = shared.length ? tf.sum(g, shared, true) : g;
    (out[stat] as Record<string, tf.Tensor>).alpha = reduce(stat, tf.reshape(pe, [pe.shape[0] as number, ...alpha.shape]));
  }
  return out;
};

const embedding: FastPath = (layer, c, deltas, maxChunk) => {
  const out = init(deltas);
  const [v, dim] = (layer.params.embeddings as tf.Variable).shape as [number, number];
  const n = c.input.shape[0] as number;
  const ids = tf.reshape(tf.cast(c.input, 'int32'), [n, -1]) as tf.Tensor2D;
  const steps = ids.shape[1];
  // one-hot rows are built per chunk of examples: N·T·V values at once would not fit a real vocabulary
  const chunk = Math.max(1, Math.floor(maxChunk / (steps * (v + dim) + 2 * v * dim)));
  const acc: Partial<Record<Stat, tf.Tensor>> = {};
  for (let b0 = 0; b0 < n; b0 += chunk) {
    const size = Math.min(chunk, n - b0);
    const part = tf.tidy(() => {
      const flat: Deltas = {};
      for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) flat[stat] = tf.reshape(tf.slice(d, b0, size), [size, steps, dim]);
      return positionKernelSums(tf.oneHot(tf.slice(ids, b0, size), v), flat, Number.POSITIVE_INFINITY);
    });
    for (const stat of Object.keys(part) as Stat[]) {
      const prev = acc[stat];
      acc[stat] = prev ? tf.add(prev, part[stat] as tf.Tensor) : (part[stat] as tf.Tensor);
      if (prev) tf.dispose([prev, part[stat] as tf.Tensor]);
    }
  }
  put(out, 'embeddings', acc);
  return out;
};

function mapSums(s: Partial<Record<Stat, tf.Tensor>>, f: (t: tf.Tensor) => tf.Tensor): Partial<Record<Stat, tf.Tensor>> {
  const out: Partial<Record<Stat, tf.Tensor>> = {};
  for (const [stat, t] of Object.entries(s) as [Stat, tf.Tensor][]) out[stat] = f(t);
  return out;
}

/** Fast paths by layer kind, with the weights each covers. */
export const FAST_PATHS: Record<string, { params: readonly string[]; sums: FastPath }> = {
  dense: { params: ['kernel', 'bias'], sums: dense },
  denseNd: { params: ['kernel', 'bias'], sums: dense },
  conv2d: { params: ['kernel', 'bias'], sums: conv2d },
  depthwiseConv2d: { params: ['depthwise_kernel', 'bias'], sums: depthwiseConv2d },
  separableConv2d: { params: ['depthwise_kernel', 'pointwise_kernel', 'bias'], sums: separableConv2d },
  conv1d: { params: ['kernel', 'bias'], sums: conv1d },
  batchNorm: { params: ['gamma', 'beta'], sums: batchNorm },
  layerNorm: { params: ['gamma', 'beta'], sums: layerNorm },
  prelu: { params: ['alpha'], sums: prelu },
  embedding: { params: ['embeddings'], sums: embedding },
};
