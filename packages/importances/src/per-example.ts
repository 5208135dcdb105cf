/**
 * Exact per-example gradient statistics, Σ_n w_n·g_n² and Σ_n |g_n| for every parameter, from one
 * forward and one backward pass per batch: the per-example trick of forgetless.
 *
 * A zero tap added to each parametric layer's pre-activation gives, as its gradient, the matrix Δ of
 * per-example pre-activation gradients δ_n (inference mode keeps examples independent). With the
 * captured layer inputs X:
 * - dense, W[i,j]: g_n = x_n ⊗ δ_n, so Σ_n g² = (X∘X)ᵀ(Δ∘Δ) and Σ_n |g| = |X|ᵀ|Δ| (one matmul each);
 *   bias: Σ_n δ², Σ_n |δ|.
 * - conv2d, W[a,b,c,o]: g_n[a,b,c,o] = Σ_{i,j} xp_n[i·s + a, j·s + b, c]·δ_n[i,j,o], the products of
 *   each input patch with δ summed over positions (xp the zero-padded input, s the stride). The
 *   square does not factor over positions, so per-example gradients are built, in chunks of
 *   examples small enough to hold (`maxChunkElements`), by one depthwise convolution per chunk:
 *   the chunk's inputs [C, Hp, Wp, n] (examples as channels) convolved with its δ [Ho, Wo, n, O]
 *   (a depthwise filter, dilation s) give every example's kernel gradient at once. On wasm this is
 *   2–3× faster than explicit im2col patches and per-example matmuls. Bias: g_n = Σ_{i,j} δ_n[i,j].
 * - batchNorm (inference), y = γ·x̂ + β with x̂ = (x − μ_moving)/√(σ²_moving + ε):
 *   g_γ,n = Σ_positions δ_n·x̂_n, g_β,n = Σ_positions δ_n.
 * Layers of any other kind fall back to the per-example autograd loop (`loop.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BatchNorm, type Conv2d, type Layer, type LayerCapture, type ParamMap, type Sequential, convPadding } from '@forgetless/core';
import { forwardLogits } from './logits.js';
import { loopSums } from './loop.js';

/**
 * A per-example objective: the model's logits [n, K] for rows `begin … begin + size − 1` of the
 * batch → one value per example [n]. Importances differentiate Σ_n objective_n.
 */
export type ExampleObjective = (logits: tf.Tensor, rows: { begin: number; size: number }) => tf.Tensor;

export interface SumsRequest {
  /** Compute Σ_n w_n·g_n² (Fisher). */
  square?: boolean;
  /** Compute Σ_n |g_n| (MAS). */
  abs?: boolean;
  /** Per-example weights w_n [n] on the squares (exact Fisher: p(k|x_n)); default 1. */
  weights?: tf.Tensor1D;
}

/** Per-parameter sums over the batch, in the model's parameter order. */
export interface ParamSums {
  square?: ParamMap;
  abs?: ParamMap;
}

export interface PerExampleOptions {
  /**
   * Bound on the float32 elements a conv layer's per-example chunk holds (patches, their transpose
   * and the per-example gradients); default 2²³ (32 MB).
   */
  maxChunkElements?: number;
}

const FAST_PARAMS: Record<string, readonly string[]> = {
  dense: ['kernel', 'bias'],
  conv2d: ['kernel', 'bias'],
  batchNorm: ['gamma', 'beta'],
};

/** True if the layer's parameters have a per-example fast path here. */
export function hasFastPath(layer: Layer): boolean {
  const known = FAST_PARAMS[layer.kind];
  return known !== undefined && Object.keys(layer.params).every((p) => known.includes(p));
}

type Stat = 'square' | 'abs';
type LayerSums = Partial<Record<Stat, Record<string, tf.Tensor>>>;

function reduce(stat: Stat, perExample: tf.Tensor): tf.Tensor {
  return tf.sum(stat === 'square' ? tf.square(perExample) : tf.abs(perExample), 0);
}

function denseSums(x: tf.Tensor, deltas: Partial<Record<Stat, tf.Tensor>>, hasBias: boolean): LayerSums {
  const out: LayerSums = {};
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) {
    const f = stat === 'square' ? tf.square : tf.abs;
    const r: Record<string, tf.Tensor> = { kernel: tf.matMul(tf.transpose(f(x)), f(d)) };
    if (hasBias) r.bias = tf.sum(f(d), 0);
    out[stat] = r;
  }
  return out;
}

function convSums(layer: Conv2d, x: tf.Tensor4D, deltas: Partial<Record<Stat, tf.Tensor>>, maxChunk: number): LayerSums {
  const kernel = layer.params.kernel as tf.Variable;
  const [kh, kw, c, o] = kernel.shape as [number, number, number, number];
  const s = layer.stride;
  const [n, h, w] = x.shape;
  const p = convPadding(h, w, kh, kw, s, layer.padding);
  const hp = h + p.top + p.bottom;
  const wp = w + p.left + p.right;
  const entries = Object.entries(deltas) as [Stat, tf.Tensor4D][];
  // with no weights, square and abs share one set of per-example gradients
  const distinct = [...new Set(entries.map(([, d]) => d))];
  const outH = hp - s * (p.outH - 1);
  const outW = wp - s * (p.outW - 1);
  const perExample = hp * wp * c + distinct.length * (p.outH * p.outW * o + 2 * outH * outW * c * o);
  const chunk = Math.max(1, Math.floor(maxChunk / perExample));
  const acc: Partial<Record<Stat, tf.Tensor>> = {};
  for (let b0 = 0; b0 < n; b0 += chunk) {
    const size = Math.min(chunk, n - b0);
    const part = tf.tidy(() => {
      const rows = <T extends tf.Tensor>(t: T): T => (size === n ? t : (tf.slice(t, b0, size) as T));
      let xp: tf.Tensor4D = rows(x);
      if (p.top || p.bottom || p.left || p.right) {
        xp = tf.pad(xp, [
          [0, 0],
          [p.top, p.bottom],
          [p.left, p.right],
          [0, 0],
        ]);
      }
      const xt = tf.transpose(xp, [3, 1, 2, 0]); // [C, Hp, Wp, b]: examples as channels
      const grads = new Map<tf.Tensor, tf.Tensor>();
      for (const d of distinct) {
        const dt = tf.transpose(rows(d), [1, 2, 0, 3]); // [Ho, Wo, b, O]: a depthwise filter
        let g = tf.depthwiseConv2d(xt, dt, 1, 'valid', 'NHWC', s); // [C, ≥kh, ≥kw, b·O]
        if (outH !== kh || outW !== kw) g = tf.slice(g, [0, 0, 0, 0], [c, kh, kw, size * o]);
        grads.set(d, tf.reshape(g, [c, kh, kw, size, o])); // g[c, a, b, n, o] = ∂W[a, b, c, o] of example n
      }
      const r: Partial<Record<Stat, tf.Tensor>> = {};
      for (const [stat, d] of entries) {
        const g = grads.get(d) as tf.Tensor;
        r[stat] = tf.sum(stat === 'square' ? tf.square(g) : tf.abs(g), 3);
      }
      return r;
    });
    for (const stat of Object.keys(part) as Stat[]) {
      const prev = acc[stat];
      const cur = part[stat] as tf.Tensor;
      acc[stat] = prev ? tf.add(prev, cur) : cur;
      if (prev) tf.dispose([prev, cur]);
    }
  }
  const out: LayerSums = {};
  for (const [stat, d] of entries) {
    const r: Record<string, tf.Tensor> = { kernel: tf.transpose(acc[stat] as tf.Tensor, [1, 2, 0, 3]) };
    if (layer.params.bias) r.bias = reduce(stat, tf.sum(d, [1, 2]));
    out[stat] = r;
  }
  return out;
}

function batchNormSums(layer: BatchNorm, x: tf.Tensor, deltas: Partial<Record<Stat, tf.Tensor>>): LayerSums {
  const xhat = tf.mul(tf.sub(x, layer.state.moving_mean as tf.Variable), tf.rsqrt(tf.add(layer.state.moving_variance as tf.Variable, layer.epsilon)));
  const positions = x.shape.slice(1, -1).map((_, i) => i + 1);
  const overPositions = (t: tf.Tensor) => (positions.length ? tf.sum(t, positions) : t);
  const out: LayerSums = {};
  for (const [stat, d] of Object.entries(deltas) as [Stat, tf.Tensor][]) {
    out[stat] = { gamma: reduce(stat, overPositions(tf.mul(d, xhat))), beta: reduce(stat, overPositions(d)) };
  }
  return out;
}

function checkRequest(request: SumsRequest, n: number, what: string): void {
  if (!request.square && !request.abs) throw new Error(`${what}: ask for square and/or abs sums`);
  if (request.weights && (request.weights.rank !== 1 || request.weights.shape[0] !== n)) {
    throw new Error(`${what}: weights must have shape [${n}], got [${request.weights.shape}]`);
  }
}

/**
 * Σ_n w_n·g_n² and/or Σ_n |g_n| over the batch `x` for every parameter of `model`, where g_n is the
 * gradient of `objective` for example n. Exact (not an approximation); returned tensors are new.
 */
export function perExampleSums(
  model: Sequential,
  x: tf.Tensor,
  objective: ExampleObjective,
  request: SumsRequest,
  options: PerExampleOptions = {},
): ParamSums {
  const n = x.shape[0] as number;
  checkRequest(request, n, 'perExampleSums');
  const maxChunk = options.maxChunkElements ?? 2 ** 23;
  if (!(maxChunk >= 1)) throw new Error(`perExampleSums: maxChunkElements must be >= 1, got ${maxChunk}`);
  const layers = model.parametricLayers;
  const fast = layers.filter(hasFastPath);
  const slow = layers.filter((l) => !hasFastPath(l));
  if (fast.length === 0) return loopSums(model, x, objective, request);
  const kept: tf.Tensor[] = [];
  try {
    return tf.tidy(() => {
      const taps = fast.map((l) => tf.zeros([n, ...(model.shapes[l.name] as { output: number[] }).output]));
      const inputs: Record<string, tf.Tensor> = {};
      const deltas = tf.grads((...t: tf.Tensor[]) => {
        const tapMap: Record<string, tf.Tensor> = {};
        fast.forEach((l, i) => {
          tapMap[l.name] = t[i] as tf.Tensor;
        });
        const capture: Record<string, LayerCapture> = {};
        const logits = forwardLogits(model, x, { capture, taps: tapMap });
        for (const l of fast) {
          // captured inputs must outlive the gradient's scope; clones share the data
          const c = tf.keep(tf.clone((capture[l.name] as LayerCapture).input));
          kept.push(c);
          inputs[l.name] = c;
        }
        return tf.sum(objective(logits, { begin: 0, size: n }));
      })(taps);
      const sqrtW = request.weights ? tf.sqrt(request.weights) : undefined;
      const byName: Record<Stat, Record<string, tf.Tensor>> = { square: {}, abs: {} };
      fast.forEach((layer, i) => {
        const d = deltas[i] as tf.Tensor;
        const ds: Partial<Record<Stat, tf.Tensor>> = {};
        if (request.square) ds.square = sqrtW ? tf.mul(d, tf.reshape(sqrtW, [n, ...d.shape.slice(1).map(() => 1)])) : d;
        if (request.abs) ds.abs = d;
        const input = inputs[layer.name] as tf.Tensor;
        // one scope per layer keeps the peak memory to one layer's intermediates
        const sums = tf.tidy((): LayerSums => {
          if (layer.kind === 'dense') return denseSums(input, ds, layer.params.bias !== undefined);
          if (layer.kind === 'conv2d') return convSums(layer as Conv2d, input as tf.Tensor4D, ds, maxChunk);
          return batchNormSums(layer as BatchNorm, input, ds);
        }) as LayerSums;
        for (const [stat, r] of Object.entries(sums) as [Stat, Record<string, tf.Tensor>][]) {
          for (const [local, t] of Object.entries(r)) byName[stat][`${layer.name}/${local}`] = t;
        }
      });
      if (slow.length > 0) {
        const names = slow.flatMap((l) => Object.keys(l.params).map((p) => `${l.name}/${p}`));
        const rest = loopSums(model, x, objective, request, { params: names });
        Object.assign(byName.square, rest.square ?? {});
        Object.assign(byName.abs, rest.abs ?? {});
      }
      const ordered = (m: Record<string, tf.Tensor>): ParamMap => {
        const out: ParamMap = {};
        for (const name of Object.keys(model.params)) out[name] = m[name] as tf.Tensor;
        return out;
      };
      return {
        ...(request.square ? { square: ordered(byName.square) } : {}),
        ...(request.abs ? { abs: ordered(byName.abs) } : {}),
      };
    });
  } finally {
    tf.dispose(kept);
  }
}
