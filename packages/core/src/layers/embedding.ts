/**
 * Embedding lookup, as Keras's Embedding: integer ids (a float or int tensor, e.g. [batch, steps])
 * → their rows of E: [inputDim, outputDim],
 *   y[b, s, :] = E[ids[b, s], :]       (output shape: the input's, plus outputDim)
 * Float ids are truncated to int32 as Keras casts them. The gradient ∂E sums δ into the rows read;
 * `ops/gather.ts` computes it without UnsortedSegmentSum, so it trains on wasm. The tap is added to
 * the looked-up vectors (the layer's pre-activation).
 */
import * as tf from '@tensorflow/tfjs-core';
import { addTap } from '../ops/tap.js';
import { tensorFrom, toVariable } from '../init.js';
import type { Rng } from '../rng.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

export interface EmbeddingOptions {
  /** Vocabulary size: ids are in [0, inputDim). */
  inputDim: number;
  /** Width of each vector. */
  outputDim: number;
  /** Initial values are U(−initScale, initScale) (default 0.05, Keras's `uniform` initializer). */
  initScale?: number;
}

export class Embedding implements Layer {
  readonly kind = 'embedding' as const;
  name = 'embedding';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly inputDim: number;
  readonly outputDim: number;
  readonly initScale: number;

  constructor(options: EmbeddingOptions) {
    const { inputDim, outputDim } = options;
    if (!Number.isInteger(inputDim) || inputDim < 1) throw new Error(`embedding: inputDim must be a positive integer, got ${String(inputDim)}`);
    if (!Number.isInteger(outputDim) || outputDim < 1) throw new Error(`embedding: outputDim must be a positive integer, got ${String(outputDim)}`);
    this.inputDim = inputDim;
    this.outputDim = outputDim;
    this.initScale = options.initScale ?? 0.05;
    if (!(this.initScale >= 0)) throw new Error(`embedding: initScale must be >= 0, got ${String(options.initScale)}`);
  }

  build(inputShape: Shape, rng: Rng): (number | null)[] {
    const init = tensorFrom([this.inputDim, this.outputDim], (v) => {
      for (let i = 0; i < v.length; i++) v[i] = (rng.next() * 2 - 1) * this.initScale;
    });
    this.params.embeddings = toVariable(init, true);
    return [...inputShape, this.outputDim];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const ids = x.dtype === 'int32' ? x : tf.cast(x, 'int32');
    let y: tf.Tensor = tf.gather(this.params.embeddings as tf.Variable, ids);
    const tap = ctx.taps?.[this.name];
    if (tap) y = addTap(y, tap);
    if (ctx.capture) ctx.capture[this.name] = { input: x, preActivation: y, output: y };
    return y;
  }

  config(): LayerConfig {
    return { kind: 'embedding', inputDim: this.inputDim, outputDim: this.outputDim, initScale: this.initScale };
  }
}
