/**
 * Exact per-example gradient statistics, Σ_n w_n·g_n² and Σ_n |g_n| for every parameter, from one
 * forward and one backward pass per batch: the per-example trick of forgetless.
 *
 * A zero tap added to each parametric layer's pre-activation gives, as its gradient, the matrix Δ of
 * per-example pre-activation gradients δ (inference mode keeps examples independent), whatever
 * follows the layer in the graph. With the captured layer inputs, each layer kind turns Δ into the
 * sums of its weights' per-example squares or absolute values (`per-example-layers.ts`: dense,
 * conv2d, depthwise and separable convolutions, conv1d, batch and layer normalisation, PReLU,
 * embeddings). Layers of any other kind, and layers called at several nodes, fall back to the
 * per-example autograd loop (`loop.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type BatchNormSumsRequest,
  type Layer,
  type LayerCapture,
  type Model,
  type ParamMap,
  type TapRecord,
  disposeParams,
  ensureOwnGradients,
  lightTapsOn,
  recordingTap,
  withLightSaves,
  zeroTap,
} from '@forgetless/core';
import { forwardLogits } from './logits.js';
import { loopSums } from './loop.js';
import { FAST_PATHS, type LayerSums, normRows } from './per-example-layers.js';
import { addMaps, checkMaxBatchElements, reduceSubBatches } from './sub-batches.js';

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
  /** Bound on the layer outputs one pass holds (`BatchingOptions.maxBatchElements`): larger batches run as sub-batches. */
  maxBatchElements?: number;
}

/** True if the layer's parameters have a per-example fast path here (`per-example-layers.ts`). */
export function hasFastPath(layer: Layer): boolean {
  const known = FAST_PATHS[layer.kind]?.params;
  return known !== undefined && Object.keys(layer.params).every((p) => known.includes(p));
}

type Stat = 'square' | 'abs';

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
export function perExampleSums(model: Model, x: tf.Tensor, objective: ExampleObjective, request: SumsRequest, options: PerExampleOptions = {}): ParamSums {
  const n = x.shape[0] as number;
  checkRequest(request, n, 'perExampleSums');
  ensureOwnGradients();
  const maxChunk = options.maxChunkElements ?? 2 ** 23;
  if (!(maxChunk >= 1)) throw new Error(`perExampleSums: maxChunkElements must be >= 1, got ${maxChunk}`);
  const maxBatch = checkMaxBatchElements('perExampleSums', options.maxBatchElements);
  // sums over examples: the sub-batches' sums added
  return reduceSubBatches(
    model,
    [x, request.weights],
    maxBatch,
    ([xs, ws], begin) => {
      const shifted: ExampleObjective = (logits, rows) => objective(logits, { begin: begin + rows.begin, size: rows.size });
      return batchSums(model, xs as tf.Tensor, shifted, { ...request, weights: ws as tf.Tensor1D | undefined }, maxChunk);
    },
    addSums,
    (t) => {
      disposeParams(t.square);
      disposeParams(t.abs);
    },
  );
}

/** a + b per statistic and parameter; both are disposed. */
function addSums(a: ParamSums, b: ParamSums): ParamSums {
  const out: ParamSums = {};
  for (const stat of ['square', 'abs'] as const) {
    const [p, q] = [a[stat], b[stat]];
    if (p && q) out[stat] = addMaps(p, q);
  }
  return out;
}

/** A batch norm's γ/β sums from the [2, C] tensors its backward kernel delivered (row 0 γ, row 1 β). */
function fusedNormSums(layer: Layer, sums: Partial<Record<Stat, tf.Tensor2D>>): LayerSums {
  const out: LayerSums = {};
  for (const [stat, s] of Object.entries(sums) as [Stat, tf.Tensor2D][]) out[stat] = normRows(layer, s);
  return out;
}

/** `perExampleSums` of one pass over the whole of `x`. */
function batchSums(model: Model, x: tf.Tensor, objective: ExampleObjective, request: SumsRequest, maxChunk: number): ParamSums {
  const n = x.shape[0] as number;
  const layers = model.parametricLayers;
  const shared = model.sharedLayers;
  const fast = layers.filter((l) => hasFastPath(l) && !shared?.has(l.name));
  const slow = layers.filter((l) => !fast.includes(l));
  if (fast.length === 0) return loopSums(model, x, objective, request);
  const kept: tf.Tensor[] = [];
  // recording taps: a scalar per layer, its δ kept by the backward pass (no zero tensor of the layer's
  // output shape); zero taps when light taps are off (the reference, for before/after comparisons)
  const records: TapRecord[] = lightTapsOn() ? fast.map(() => recordingTap()) : [];
  // batch norms' γ/β sums taken by their backward kernels in the pass that reads x and δ anyway (wasm
  // SIMD, with recording taps: δ is then exactly the gradient that kernel receives); the exact Fisher's
  // weights p(k|x_n) weight the squares there, as √w_n on δ does below
  const stats = [...(request.square ? (['square'] as const) : []), ...(request.abs ? (['abs'] as const) : [])];
  const fused: Record<string, Partial<Record<Stat, tf.Tensor2D>>> = {};
  const exampleSums: Record<string, BatchNormSumsRequest> = {};
  if (records.length > 0 && stats.length > 0) {
    for (const l of fast) {
      if (l.kind !== 'batchNorm') continue;
      exampleSums[l.name] = {
        stats,
        ...(request.weights ? { weights: request.weights } : {}),
        deliver: (sums) => {
          for (const t of Object.values(sums)) kept.push(t);
          fused[l.name] = sums;
        },
      };
    }
  }
  try {
    return tf.tidy(() => {
      const shapes = model.layerShapes(x.shape.slice(1));
      const taps = records.length > 0 ? records.map((r) => r.tap) : fast.map((l) => zeroTap([n, ...(shapes[l.name] as { output: number[] }).output]));
      const captures: Record<string, LayerCapture> = {};
      // tensors saved for the backward pass share memory instead of being cloned (`withLightSaves`)
      const tapGrads = withLightSaves(() =>
        tf.grads((...t: tf.Tensor[]) => {
          const tapMap: Record<string, tf.Tensor> = {};
          fast.forEach((l, i) => {
            tapMap[l.name] = t[i] as tf.Tensor;
          });
          const capture: Record<string, LayerCapture> = {};
          // captures carry the pads of a ZeroPadding2D folded into the conv after it (read by geometry())
          const logits = forwardLogits(model, x, { capture, taps: tapMap, exampleSums, capturePads: true });
          // captured tensors must outlive the gradient's scope; clones share the data
          const keep = (v: tf.Tensor) => {
            const c = tf.keep(tf.clone(v));
            kept.push(c);
            return c;
          };
          for (const l of fast) {
            const c = capture[l.name] as LayerCapture;
            const inner = c.inner ? Object.fromEntries(Object.entries(c.inner).map(([k, v]) => [k, keep(v)])) : undefined;
            captures[l.name] = {
              input: keep(c.input),
              preActivation: c.preActivation,
              output: c.output,
              ...(inner ? { inner } : {}),
              ...(c.fusedActivation ? { fusedActivation: c.fusedActivation } : {}),
              ...(c.pads ? { pads: c.pads } : {}),
            };
          }
          return tf.sum(objective(logits, { begin: 0, size: n }));
        })(taps),
      );
      const deltas =
        records.length > 0
          ? records.map((r) => {
              const d = r.delta();
              kept.push(d); // kept by the backward pass, out of this scope's reach
              return d;
            })
          : tapGrads;
      const sqrtW = request.weights ? tf.sqrt(request.weights) : undefined;
      const byName: Record<Stat, Record<string, tf.Tensor>> = { square: {}, abs: {} };
      fast.forEach((layer, i) => {
        const d = deltas[i] as tf.Tensor;
        const ds: Partial<Record<Stat, tf.Tensor>> = {};
        if (request.square) ds.square = sqrtW ? tf.mul(d, tf.reshape(sqrtW, [n, ...d.shape.slice(1).map(() => 1)])) : d;
        if (request.abs) ds.abs = d;
        const c = captures[layer.name] as LayerCapture;
        const f = fused[layer.name];
        // one scope per layer keeps the peak memory to one layer's intermediates
        const sums = tf.tidy(() =>
          f && stats.every((s) => f[s]) ? fusedNormSums(layer, f) : (FAST_PATHS[layer.kind] as (typeof FAST_PATHS)[string]).sums(layer, c, ds, maxChunk),
        ) as LayerSums;
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
    for (const r of records) r.dispose();
  }
}
