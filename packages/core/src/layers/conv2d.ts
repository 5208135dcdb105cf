/** 2-D convolution, NHWC: y = act(conv(x, W) + b), W: [kh, kw, in, out]. */
import * as tf from '@tensorflow/tfjs-core';
import { type InitializerName, initialize, toVariable } from '../init.js';
import { type Padding, conv2d as conv2dOp, convPadding } from '../ops/conv2d.js';
import type { Rng } from '../rng.js';
import { type ActivationLike, type ActivationSpec, applyActivation, toActivationSpec } from './activation.js';
import type { ApplyContext, Layer, LayerConfig } from './layer.js';

export interface Conv2dOptions {
  filters: number;
  kernelSize: number | [number, number];
  stride?: number;
  padding?: Padding;
  activation?: ActivationLike;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

export class Conv2d implements Layer {
  readonly kind = 'conv2d' as const;
  name = 'conv2d';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly activation: ActivationSpec;
  readonly kernelSize: [number, number];
  readonly stride: number;
  readonly padding: Padding;

  constructor(readonly options: Conv2dOptions) {
    const k = options.kernelSize;
    this.kernelSize = typeof k === 'number' ? [k, k] : k;
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 'valid';
    if (!Number.isInteger(options.filters) || options.filters < 1) {
      throw new Error(`conv2d: filters must be a positive integer, got ${options.filters}`);
    }
    if (this.kernelSize.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`conv2d: kernelSize must be positive integers, got ${String(k)}`);
    }
    if (!Number.isInteger(this.stride) || this.stride < 1) throw new Error(`conv2d: stride must be a positive integer, got ${this.stride}`);
    if (this.padding !== 'same' && this.padding !== 'valid') throw new Error(`conv2d: padding must be 'same' or 'valid', got '${String(this.padding)}'`);
    this.activation = toActivationSpec(options.activation);
  }

  build(inputShape: readonly number[], rng: Rng): number[] {
    if (inputShape.length !== 3) throw new Error(`${this.name}: conv2d expects [height, width, channels] input, got [${inputShape}]`);
    const [h, w, c] = inputShape as [number, number, number];
    const [kh, kw] = this.kernelSize;
    const o = this.options.filters;
    const fanIn = kh * kw * c;
    const fanOut = kh * kw * o;
    const kinit = this.options.kernelInitializer ?? 'he';
    this.params.kernel = toVariable(initialize(kinit, [kh, kw, c, o], fanIn, fanOut, rng), true);
    if (this.options.useBias !== false) {
      this.params.bias = toVariable(initialize(this.options.biasInitializer ?? 'zeros', [o], fanIn, fanOut, rng), true);
    }
    const p = convPadding(h, w, kh, kw, this.stride, this.padding);
    if (p.outH < 1 || p.outW < 1) throw new Error(`${this.name}: input [${inputShape}] is smaller than the kernel [${kh}, ${kw}]`);
    return [p.outH, p.outW, o];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    let z: tf.Tensor = conv2dOp(
      x as tf.Tensor4D,
      this.params.kernel as tf.Variable<tf.Rank.R4>,
      this.params.bias as tf.Tensor1D | undefined,
      { stride: this.stride, padding: this.padding },
    );
    const tap = ctx.taps?.[this.name];
    if (tap) z = tf.add(z, tap);
    const y = applyActivation(z, this.activation);
    if (ctx.capture) ctx.capture[this.name] = { input: x, preActivation: z, output: y };
    return y;
  }

  config(): LayerConfig {
    return { kind: 'conv2d', ...this.options, kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, activation: this.activation };
  }
}
