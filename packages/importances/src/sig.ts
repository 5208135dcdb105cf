/**
 * SIG, the total absolute signal through each connection (Kutalev 2020, paper 1):
 * - dense, W[i,j] with input x (the previous layer's post-activation output):
 *     I_W[i,j] = |W[i,j]| · mean_n |x_i^(n)|   (on sequences, the mean also runs over positions)
 * - bias b[j]: I_b[j] = mean_n |y_j^(n)|, y the layer's post-activation output (softmax probabilities
 *   for the last layer, over `classes` if a class mask is given), averaged over positions.
 * forgetless's extensions to other layers (the papers give no form): the same |weight| · mean
 * absolute input the weight multiplies, means over samples and positions:
 * - conv2d / conv1d, W[a,b,c,o]: mean |xp[n, i·sh + a·dh, j·sw + b·dw, c]| over n and output
 *   positions (i, j), xp the zero-padded input (padding zeros count as inputs of value 0);
 *   depthwise W[a,b,c,m] the same (channel c); separable: its depthwise kernel so, its pointwise
 *   kernel with the depthwise output as input; conv2dTranspose W[a,b,o,c]: mean |x_c|.
 * - batchNorm / layerNorm (inference), y = γ·x̂ + β: I_γ = |γ| · mean |x̂|, I_β = mean |y|.
 * - prelu, y = −α·relu(−x) for x < 0: I_α = |α| · mean relu(−x).
 * - embedding, E[v, d] multiplies the one-hot input of token v: I_E = |E| · frequency of v.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DataSource, type Layer, type LayerCapture, type Model, type ParamMap, assertFinite, disposeParams, maskLogits, tapAbsSums } from '@forgetless/core';
import { forwardLogits } from './logits.js';
import { tapViews } from './patches.js';
import { type ConvGeometry, convPads } from './per-example-conv.js';
import { RunningSum } from './running-sum.js';
import { type BatchingOptions, checkBatching, checkSource, forEachBatch } from './source.js';
import { checkMaxBatchElements, sumOverSubBatches } from './sub-batches.js';

export interface SigOptions extends BatchingOptions {
  /** Task-incremental class mask for the last layer's softmax. */
  classes?: readonly number[];
}

/** Σ over the batch of the per-example mean over every axis not in `keep` (axis 0 is the batch). */
function perExampleMeanSum(t: tf.Tensor, keep: readonly number[]): tf.Tensor {
  const axes = t.shape.map((_, i) => i).filter((i) => i > 0 && !keep.includes(i));
  const positions = axes.reduce((n, a) => n * (t.shape[a] as number), 1);
  const perExample = axes.length ? tf.div(tf.sum(t, axes), positions) : t;
  return tf.sum(perExample, 0);
}

const lastAxis = (t: tf.Tensor) => [t.rank - 1];

/**
 * `perExampleMeanSum(|t|, keep)`; over every axis but the batch and the last (keep = [last]) by one
 * SIMD kernel call on wasm under 'auto' (`tapAbsSums` of a 1×1 tap on t viewed as [N, 1, P, C]),
 * where tfjs's Abs and Sum take two passes and its Sum is slow.
 */
function absMeanSum(t: tf.Tensor, keep: readonly number[]): tf.Tensor {
  if (t.rank >= 2 && keep.length === 1 && keep[0] === t.rank - 1 && t.dtype === 'float32') {
    const c = t.shape[t.rank - 1] as number;
    const n = t.shape[0] as number;
    const simd = n * c > 0 ? tapAbsSums(tf.reshape(t, [n, 1, t.size / (n * c), c]) as tf.Tensor4D, [1, 1], [1, 1], [1, 1], { top: 0, bottom: 0, left: 0, right: 0 }) : undefined;
    if (simd) return tf.reshape(simd, [c]);
  }
  return perExampleMeanSum(tf.abs(t), keep);
}

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0] as number, v[1] as number] : [(v as number) ?? 1, (v as number) ?? 1]);

function geometry(layer: Layer): ConvGeometry {
  const l = layer as unknown as Record<string, unknown>;
  return { kernelSize: pair(l.kernelSize), strides: pair(l.strides ?? l.stride ?? 1), dilation: pair(l.dilation ?? 1), padding: l.padding as ConvGeometry['padding'] };
}

/**
 * Mean |input| under each kernel tap, per channel: [kh, kw, C] (summed over the batch); on wasm
 * under 'auto' by one SIMD kernel call (`tapAbsSums`), elsewhere through the taps' views.
 */
function tapSignal(x: tf.Tensor4D, g: ConvGeometry): tf.Tensor {
  const simd = tapAbsSums(x, g.kernelSize, g.strides, g.dilation, convPads(x.shape[1], x.shape[2], g));
  if (simd) return simd;
  const views = tapViews(tf.abs(x), g); // |x| once: the padding's zeros stay zeros
  const [kh, kw] = g.kernelSize;
  const c = x.shape[3];
  // Σ_n mean over positions = (Σ over examples and positions) / positions, as one [1, P]·[P, C] product
  const perTap = views.map((v) => {
    const rows = v.size / c;
    const positions = rows / v.shape[0];
    return tf.div(tf.matMul(tf.ones([1, rows]), tf.reshape(v, [rows, c])), positions);
  });
  return tf.reshape(tf.concat(perTap, 0), [kh, kw, c]);
}

type Signals = Record<string, tf.Tensor>;

/** Per layer kind: each weight's summed input signal (broadcastable against |W|), and biases' output signal. */
const denseSignals = (_l: Layer, c: LayerCapture): Signals => ({ kernel: tf.expandDims(absMeanSum(c.input, lastAxis(c.input)), -1) });

const SIGNALS: Record<string, (layer: Layer, c: LayerCapture, y: tf.Tensor) => Signals> = {
  dense: denseSignals,
  denseNd: denseSignals,
  conv2d: (l, c) => ({ kernel: tf.expandDims(tapSignal(c.input as tf.Tensor4D, geometry(l)), -1) }),
  conv1d: (l, c) => {
    const k = l as unknown as { kernelSize: number; strides: number; dilation: number; padding: ConvGeometry['padding'] };
    const g: ConvGeometry = { kernelSize: [1, k.kernelSize], strides: [1, k.strides], dilation: [1, k.dilation], padding: k.padding };
    const s = tapSignal(tf.expandDims(c.input, 1) as tf.Tensor4D, g); // [1, k, C]
    return { kernel: tf.expandDims(tf.squeeze(s, [0]), -1) };
  },
  depthwiseConv2d: (l, c) => ({ depthwise_kernel: tf.expandDims(tapSignal(c.input as tf.Tensor4D, geometry(l)), -1) }),
  separableConv2d: (l, c) => {
    const d = c.inner?.depthwise as tf.Tensor;
    return {
      depthwise_kernel: tf.expandDims(tapSignal(c.input as tf.Tensor4D, geometry(l)), -1),
      pointwise_kernel: tf.reshape(absMeanSum(d, lastAxis(d)), [1, 1, d.shape.at(-1) as number, 1]),
    };
  },
  conv2dTranspose: (_l, c) => ({ kernel: tf.reshape(absMeanSum(c.input, lastAxis(c.input)), [1, 1, 1, c.input.shape.at(-1) as number]) }),
  batchNorm: (l, c) => {
    const bn = l as unknown as { normalize?: (x: tf.Tensor) => tf.Tensor; resolvedAxis?: number };
    const xhat = bn.normalize ? bn.normalize(c.input) : c.input;
    return { gamma: absMeanSum(xhat, [bn.resolvedAxis ?? c.input.rank - 1]) };
  },
  layerNorm: (l, c) => {
    const ln = l as unknown as { normalize: (x: tf.Tensor) => tf.Tensor; resolvedAxes: readonly number[] };
    const axes = [...ln.resolvedAxes].sort((a, b) => a - b);
    return {
      gamma: tf.reshape(
        absMeanSum(ln.normalize(c.input), axes),
        axes.map((a) => c.input.shape[a] as number),
      ),
    };
  },
  prelu: (l, c) => {
    const alpha = l.params.alpha as tf.Variable;
    const shared = (l as unknown as { sharedAxes: number[] }).sharedAxes;
    const neg = tf.relu(tf.neg(c.input));
    const s = shared.length ? tf.mean(neg, shared, true) : neg;
    return { alpha: tf.reshape(tf.sum(s, 0), alpha.shape) };
  },
  embedding: (l, c) => {
    const [v] = (l.params.embeddings as tf.Variable).shape as [number, number];
    const ids = tf.reshape(tf.cast(c.input, 'int32'), [c.input.shape[0] as number, -1]) as tf.Tensor2D;
    return { embeddings: tf.expandDims(perExampleMeanSum(tf.oneHot(ids, v), [2]), -1) };
  },
};

/** Per-parameter signal sums over the batch: inputs per weight, outputs per bias/β. */
function batchSignals(model: Model, x: tf.Tensor, classes: readonly number[] | undefined): ParamMap {
  return tf.tidy(() => {
    const capture: Record<string, LayerCapture> = {};
    const logits = forwardLogits(model, x, { capture });
    const layers = model.parametricLayers;
    const out: ParamMap = {};
    layers.forEach((layer, li) => {
      const c = capture[layer.name];
      const signals = SIGNALS[layer.kind];
      if (!c || !signals) throw new Error(`sig: no SIG form for layer '${layer.name}' of kind '${layer.kind}'`);
      if (model.sharedLayers?.has(layer.name)) throw new Error(`sig: layer '${layer.name}' is shared (called at several nodes); SIG is defined per connection of one call`);
      // the classifier's masked probabilities for its last layer; a head narrower than the logits (one
      // head of a multi-head model) has its own output, the probabilities over its classes
      const width = (t: tf.Tensor) => t.shape[t.rank - 1];
      const y = li === layers.length - 1 && classes && width(c.output) === width(logits) ? tf.softmax(maskLogits(logits, classes)) : c.output;
      const s = signals(layer, c, y);
      for (const local of Object.keys(layer.params)) {
        const name = `${layer.name}/${local}`;
        if (s[local]) out[name] = s[local] as tf.Tensor;
        else if (local === 'bias' || local === 'beta') {
          const featureAxis = local === 'beta' && layer.kind === 'batchNorm' ? ((layer as unknown as { resolvedAxis?: number }).resolvedAxis ?? y.rank - 1) : y.rank - 1;
          const v = absMeanSum(y, [featureAxis]);
          out[name] = local === 'beta' && layer.kind === 'layerNorm' ? tf.reshape(v, (layer.params.beta as tf.Variable).shape) : v;
        } else throw new Error(`sig: no SIG form for weight '${name}' of a ${layer.kind} layer`);
      }
    });
    return out;
  });
}

/** SIG importances of `model` on `source`, shaped like `model.params` (see the module comment). */
export async function sig(model: Model, source: DataSource, options: SigOptions = {}): Promise<ParamMap> {
  const what = 'sig';
  checkBatching(what, options);
  checkSource(what, model, source);
  const sum = new RunningSum();
  try {
    const maxBatch = checkMaxBatchElements(what, options.maxBatchElements);
    const count = await forEachBatch(what, source, options, ({ x }) => sum.add(sumOverSubBatches(model, x, undefined, maxBatch, (xs) => batchSignals(model, xs, options.classes))));
    const signals = sum.mean(count, what);
    const importances = tf.tidy(() => {
      const out: ParamMap = {};
      for (const name of Object.keys(model.params)) {
        const s = signals[name] as tf.Tensor;
        const local = name.slice(name.lastIndexOf('/') + 1);
        out[name] = local === 'bias' || local === 'beta' ? tf.reshape(s, (model.params[name] as tf.Variable).shape) : tf.mul(tf.abs(model.params[name] as tf.Variable), s);
      }
      return out;
    });
    disposeParams(signals);
    try {
      await assertFinite(importances, what);
    } catch (e) {
      disposeParams(importances);
      throw e;
    }
    return importances;
  } finally {
    sum.dispose();
  }
}
