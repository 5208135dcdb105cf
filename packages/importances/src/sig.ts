/**
 * SIG, the total absolute signal through each connection (Kutalev 2020, paper 1):
 * - dense, W[i,j] with input x (the previous layer's post-activation output):
 *     I_W[i,j] = |W[i,j]| · mean_n |x_i^(n)|
 * - bias b[j]: I_b[j] = mean_n |y_j^(n)|, y the layer's post-activation output (softmax probabilities
 *   for the last layer, over `classes` if a class mask is given).
 * - conv2d (forgetless's extension; the papers give no conv form), W[a,b,c,o]:
 *     I_W[a,b,c,o] = |W[a,b,c,o]| · mean_{n,i,j} |xp[n, i·s + a, j·s + b, c]|,
 *   the mean absolute input under kernel tap (a, b) over samples and output positions (i, j), xp the
 *   zero-padded input (padding zeros count as inputs of value 0). Bias: mean over samples and
 *   positions of |y|.
 * - batchNorm (same idea; inference mode), y = γ·x̂ + β: I_γ = |γ| · mean |x̂|, I_β = mean |y|, means
 *   over samples and positions, y the post-activation output.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type BatchNorm,
  type Conv2d,
  type DataSource,
  type LayerCapture,
  type ParamMap,
  type Sequential,
  assertFinite,
  disposeParams,
  maskLogits,
} from '@forgetless/core';
import { forwardLogits } from './logits.js';
import { tapViews } from './patches.js';
import { RunningSum } from './running-sum.js';
import { type BatchingOptions, checkBatching, checkSource, forEachBatch } from './source.js';

export interface SigOptions extends BatchingOptions {
  /** Task-incremental class mask for the last layer's softmax. */
  classes?: readonly number[];
}

const allButLast = (t: tf.Tensor) => t.shape.slice(0, -1).map((_, i) => i);

/** Σ over the batch (and positions) of the absolute signals: input per kernel entry, output per bias. */
function batchSignals(model: Sequential, x: tf.Tensor, classes: readonly number[] | undefined): ParamMap {
  return tf.tidy(() => {
    const capture: Record<string, LayerCapture> = {};
    const logits = forwardLogits(model, x, { capture });
    const layers = model.parametricLayers;
    const out: ParamMap = {};
    layers.forEach((layer, li) => {
      const c = capture[layer.name] as LayerCapture;
      const y = li === layers.length - 1 && classes ? tf.softmax(maskLogits(logits, classes)) : c.output;
      const outSum = tf.sum(tf.abs(y), allButLast(y));
      if (layer.kind === 'dense') {
        out[`${layer.name}/kernel`] = tf.sum(tf.abs(c.input), 0);
        if (layer.params.bias) out[`${layer.name}/bias`] = outSum;
      } else if (layer.kind === 'conv2d') {
        const conv = layer as Conv2d;
        const views = tapViews(c.input as tf.Tensor4D, { kernelSize: conv.kernelSize, stride: conv.stride, padding: conv.padding });
        const [kh, kw] = conv.kernelSize;
        const perTap = tf.stack(views.map((v) => tf.sum(tf.abs(v), [0, 1, 2])));
        out[`${layer.name}/kernel`] = tf.reshape(perTap, [kh, kw, c.input.shape[3] as number]);
        if (layer.params.bias) out[`${layer.name}/bias`] = outSum;
      } else if (layer.kind === 'batchNorm') {
        const bn = layer as BatchNorm;
        const xhat = tf.mul(tf.sub(c.input, bn.state.moving_mean as tf.Variable), tf.rsqrt(tf.add(bn.state.moving_variance as tf.Variable, bn.epsilon)));
        out[`${layer.name}/gamma`] = tf.sum(tf.abs(xhat), allButLast(xhat));
        out[`${layer.name}/beta`] = outSum;
      } else {
        throw new Error(`sig: no SIG form for layer '${layer.name}' of kind '${layer.kind}'`);
      }
    });
    return out;
  });
}

/** SIG importances of `model` on `source`, shaped like `model.params` (see the module comment). */
export async function sig(model: Sequential, source: DataSource, options: SigOptions = {}): Promise<ParamMap> {
  const what = 'sig';
  checkBatching(what, options);
  checkSource(what, model, source);
  const sum = new RunningSum();
  try {
    const count = await forEachBatch(what, source, options, ({ x }) => sum.add(batchSignals(model, x, options.classes)));
    const signals = sum.mean(count, what);
    const importances = tf.tidy(() => {
      const out: ParamMap = {};
      for (const layer of model.parametricLayers) {
        const shapes = model.shapes[layer.name] as { input: number[]; output: number[] };
        const outPositions = shapes.output.slice(0, -1).reduce((a, b) => a * b, 1);
        const inPositions = layer.kind === 'conv2d' ? outPositions : shapes.input.slice(0, -1).reduce((a, b) => a * b, 1);
        for (const [local, p] of Object.entries(layer.params)) {
          const name = `${layer.name}/${local}`;
          const s = signals[name] as tf.Tensor;
          if (local === 'kernel' || local === 'gamma') {
            const mean = tf.div(s, inPositions);
            out[name] = tf.mul(tf.abs(p), local === 'gamma' ? mean : tf.expandDims(mean, -1));
          } else {
            out[name] = tf.div(s, outPositions);
          }
        }
      }
      const ordered: ParamMap = {};
      for (const name of Object.keys(model.params)) ordered[name] = out[name] as tf.Tensor;
      return ordered;
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
