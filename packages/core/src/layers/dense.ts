/** Fully connected layer: y = act(x·W + b), W: [in, out]. */
import * as tf from '@tensorflow/tfjs-core';
import { addTap } from '../ops/tap.js';
import { type InitializerName, initialize, toVariable } from '../init.js';
import { dense as denseOp } from '../ops/dense.js';
import type { Rng } from '../rng.js';
import { type ActivationLike, type ActivationSpec, applyActivation, toActivationSpec } from './activation.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

export interface DenseOptions {
  units: number;
  activation?: ActivationLike;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

export class Dense implements Layer {
  readonly kind = 'dense' as const;
  name = 'dense';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly activation: ActivationSpec;

  constructor(readonly options: DenseOptions) {
    if (!Number.isInteger(options.units) || options.units < 1) {
      throw new Error(`dense: units must be a positive integer, got ${options.units}`);
    }
    this.activation = toActivationSpec(options.activation);
  }

  build(inputShape: Shape, rng: Rng): number[] {
    if (inputShape.length !== 1) {
      throw new Error(`${this.name}: dense expects a flat input, got shape [${inputShape}] (add flatten() before it)`);
    }
    const fanIn = inputShape[0];
    if (fanIn === null || fanIn === undefined) throw new Error(`${this.name}: dense needs a known input width`);
    const { units } = this.options;
    const kinit = this.options.kernelInitializer ?? 'he';
    this.params.kernel = toVariable(initialize(kinit, [fanIn, units], fanIn, units, rng), true);
    if (this.options.useBias !== false) {
      const binit = this.options.biasInitializer ?? 'zeros';
      this.params.bias = toVariable(initialize(binit, [units], fanIn, units, rng), true);
    }
    return [units];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const kernel = this.params.kernel as tf.Variable<tf.Rank.R2>;
    let z: tf.Tensor = denseOp(x as tf.Tensor2D, kernel, this.params.bias as tf.Tensor1D | undefined);
    const tap = ctx.taps?.[this.name];
    if (tap) z = addTap(z, tap);
    const y = applyActivation(z, this.activation);
    if (ctx.capture) ctx.capture[this.name] = { input: x, preActivation: z, output: y };
    return y;
  }

  config(): LayerConfig {
    return { kind: 'dense', ...this.options, activation: this.activation };
  }
}
