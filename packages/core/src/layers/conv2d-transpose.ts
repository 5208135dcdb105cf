/**
 * Transposed 2-D convolution, as Keras's Conv2DTranspose (output_padding null, dilation 1): the
 * gradient of a convolution with respect to its input, which scatters every input pixel through the
 * kernel W [kh, kw, out, in] (Keras's `kernel` layout) into an s-times larger output:
 *   y[n, p, q, o] = act(Σ_{i,j,a,b,c: p = i·sh + a − top, q = j·sw + b − left} x[n,i,j,c] · W[a,b,o,c] + b[o])
 * Output size (tfjs-layers' `deconvLength`): valid: H·s + max(k − s, 0); same: H·s, with top/left
 * the padding a forward convolution of that output size would use.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type InitializerName, initialize, toVariable } from '../init.js';
import type { Padding } from '../ops/conv2d.js';
import type { Rng } from '../rng.js';
import { type ActivationLike, type ActivationSpec, toActivationSpec } from './activation.js';
import { type Size2, checkPadding, finish, imageInput, sizePair } from './conv2d.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

export interface Conv2dTransposeOptions {
  filters: number;
  kernelSize: Size2;
  /** [sh, sw], or one for both (default 1). */
  stride?: Size2;
  padding?: Padding;
  activation?: ActivationLike;
  /** Default true (as Keras). */
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

/** tfjs-layers' deconvLength: valid → n·s + max(k − s, 0); same → n·s. */
export function deconvLength(n: number | null, k: number, s: number, padding: Padding): number | null {
  if (n === null) return null;
  return padding === 'valid' ? n * s + Math.max(k - s, 0) : n * s;
}

export class Conv2dTranspose implements Layer {
  readonly kind = 'conv2dTranspose' as const;
  name = 'conv2d_transpose';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly activation: ActivationSpec;
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  /** Always [1, 1] (dilated transposed convolutions are not supported). */
  readonly dilation: [number, number] = [1, 1];
  readonly padding: Padding;

  constructor(readonly options: Conv2dTransposeOptions) {
    const kind = 'conv2dTranspose';
    this.filters = options.filters;
    if (!Number.isInteger(this.filters) || this.filters < 1) throw new Error(`${kind}: filters must be a positive integer, got ${options.filters}`);
    this.kernelSize = sizePair(kind, 'kernelSize', options.kernelSize, 1);
    this.strides = sizePair(kind, 'stride', options.stride, 1);
    this.padding = checkPadding(kind, options.padding ?? 'valid');
    this.activation = toActivationSpec(options.activation);
  }

  /** Output [height, width] for an input [height, width]. */
  outputSize(h: number | null, w: number | null): [number | null, number | null] {
    const [kh, kw] = this.kernelSize;
    const [sh, sw] = this.strides;
    return [deconvLength(h, kh, sh, this.padding), deconvLength(w, kw, sw, this.padding)];
  }

  build(inputShape: Shape, rng: Rng): (number | null)[] {
    const [h, w, c] = imageInput(this.name, 'conv2dTranspose', inputShape);
    const [kh, kw] = this.kernelSize;
    const o = this.filters;
    // Keras's fans of a [kh, kw, out, in] kernel
    const fanIn = kh * kw * o;
    const fanOut = kh * kw * c;
    this.params.kernel = toVariable(initialize(this.options.kernelInitializer ?? 'glorot', [kh, kw, o, c], fanIn, fanOut, rng), true);
    if (this.options.useBias !== false) {
      this.params.bias = toVariable(initialize(this.options.biasInitializer ?? 'zeros', [o], fanIn, fanOut, rng), true);
    }
    return [...this.outputSize(h, w), o];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const [n, h, w] = x.shape as [number, number, number, number];
    const [oh, ow] = this.outputSize(h, w) as [number, number];
    const kernel = this.params.kernel as tf.Variable<tf.Rank.R4>;
    let z: tf.Tensor = tf.conv2dTranspose(x as tf.Tensor4D, kernel, [n, oh, ow, this.filters], this.strides, this.padding);
    if (this.params.bias) z = tf.add(z, this.params.bias);
    return finish(this, x, z, ctx);
  }

  config(): LayerConfig {
    return { kind: this.kind, ...this.options, kernelSize: this.kernelSize, stride: this.strides, padding: this.padding, activation: this.activation };
  }
}
