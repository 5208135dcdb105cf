/**
 * Parametric ReLU (He et al. 2015), as Keras's PReLU:
 *   y = relu(x) − α · relu(−x)     (x for x > 0, α·x below)
 * α has the per-example shape of the input with each of `sharedAxes` collapsed to 1 (Keras layout),
 * and broadcasts over them. Built from relu, mul and sub, so its gradient runs on every backend
 * (wasm's Prelu kernel only broadcasts α over leading axes). The layer is its own pre-activation:
 * the tap is added to y.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addTap } from '../ops/tap.js';
import { toVariable } from '../init.js';
import type { Rng } from '../rng.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

export interface PReLUOptions {
  /**
   * Axes along which α is shared, as Keras counts them: indices into the batched tensor, so 1 is
   * the first per-example axis (e.g. [1, 2] for one α per channel of an image). Default none.
   */
  sharedAxes?: number[];
  /** Initial value of every α (default 0, Keras's `zeros`: a ReLU). */
  alphaInit?: number;
}

const shapeText = (s: Shape) => `[${s.map((d) => d ?? 'any').join(', ')}]`;

export class PReLU implements Layer {
  readonly kind = 'prelu' as const;
  name = 'prelu';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly sharedAxes: number[];
  readonly alphaInit: number;

  constructor(options: PReLUOptions = {}) {
    this.sharedAxes = [...(options.sharedAxes ?? [])];
    this.alphaInit = options.alphaInit ?? 0;
    if (this.sharedAxes.some((a) => !Number.isInteger(a) || a < 1)) {
      throw new Error(`prelu: sharedAxes must be positive integers (1 is the first axis after the batch), got ${JSON.stringify(options.sharedAxes)}`);
    }
    if (!Number.isFinite(this.alphaInit)) throw new Error(`prelu: alphaInit must be a finite number, got ${String(options.alphaInit)}`);
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    const bad = this.sharedAxes.filter((a) => a > inputShape.length);
    if (bad.length) throw new Error(`${this.name}: shared axes ${JSON.stringify(bad)} are outside the input of per-example shape ${shapeText(inputShape)}`);
    const shape = inputShape.map((d, i) => (this.sharedAxes.includes(i + 1) ? 1 : d));
    if (shape.some((d) => d === null)) {
      throw new Error(`${this.name}: α needs every unshared axis of known size, got input ${shapeText(inputShape)} with shared axes ${JSON.stringify(this.sharedAxes)}`);
    }
    this.params.alpha = toVariable(tf.fill(shape as number[], this.alphaInit), true);
    return [...inputShape];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    let y = tf.sub(tf.relu(x), tf.mul(this.params.alpha as tf.Variable, tf.relu(tf.neg(x))));
    const tap = ctx.taps?.[this.name];
    if (tap) y = addTap(y, tap);
    if (ctx.capture) ctx.capture[this.name] = { input: x, preActivation: y, output: y };
    return y;
  }

  config(): LayerConfig {
    return { kind: 'prelu', sharedAxes: [...this.sharedAxes], alphaInit: this.alphaInit };
  }
}
