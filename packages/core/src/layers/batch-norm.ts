/**
 * Batch normalisation over the last axis (Ioffe & Szegedy 2015):
 *   y = γ · (x − μ) / √(σ² + ε) + β
 * Training mode uses the batch's μ, σ² and updates the moving statistics
 * (m ← momentum·m + (1 − momentum)·batch value); inference mode uses the moving statistics.
 * The gradient is built from elementwise ops, so it runs on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { toVariable } from '../init.js';
import type { Rng } from '../rng.js';
import type { ApplyContext, Layer, LayerConfig } from './layer.js';

export interface BatchNormOptions {
  /** Moving-average momentum (default 0.9, PyTorch's 0.1 update rate). */
  momentum?: number;
  epsilon?: number;
}

export class BatchNorm implements Layer {
  readonly kind = 'batchNorm' as const;
  name = 'batch_norm';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly momentum: number;
  readonly epsilon: number;

  constructor(options: BatchNormOptions = {}) {
    this.momentum = options.momentum ?? 0.9;
    this.epsilon = options.epsilon ?? 1e-5;
    if (!(this.momentum >= 0 && this.momentum < 1)) throw new Error(`batchNorm: momentum must be in [0, 1), got ${this.momentum}`);
    if (!(this.epsilon > 0)) throw new Error(`batchNorm: epsilon must be > 0, got ${this.epsilon}`);
  }

  build(inputShape: readonly number[], _rng: Rng): number[] {
    const c = inputShape[inputShape.length - 1] as number;
    this.params.gamma = toVariable(tf.ones([c]), true);
    this.params.beta = toVariable(tf.zeros([c]), true);
    this.state.moving_mean = toVariable(tf.zeros([c]), false);
    this.state.moving_variance = toVariable(tf.ones([c]), false);
    return [...inputShape];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const gamma = this.params.gamma as tf.Variable;
    const beta = this.params.beta as tf.Variable;
    const mm = this.state.moving_mean as tf.Variable;
    const mv = this.state.moving_variance as tf.Variable;
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    if (ctx.training) {
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      const m = tf.moments(x, axes);
      mean = m.mean;
      variance = m.variance;
      const mom = this.momentum;
      const newMean = tf.tidy(() => tf.add(tf.mul(mm, mom), tf.mul(mean, 1 - mom)));
      const newVar = tf.tidy(() => tf.add(tf.mul(mv, mom), tf.mul(variance, 1 - mom)));
      mm.assign(newMean);
      mv.assign(newVar);
      newMean.dispose();
      newVar.dispose();
    } else {
      mean = mm;
      variance = mv;
    }
    const inv = tf.rsqrt(tf.add(variance, this.epsilon));
    let z = tf.add(tf.mul(tf.mul(tf.sub(x, mean), inv), gamma), beta);
    const tap = ctx.taps?.[this.name];
    if (tap) z = tf.add(z, tap);
    if (ctx.capture) ctx.capture[this.name] = { input: x, preActivation: z, output: z };
    return z;
  }

  config(): LayerConfig {
    return { kind: 'batchNorm', momentum: this.momentum, epsilon: this.epsilon };
  }
}
