/**
 * Depthwise-separable 2-D convolution, as Keras's SeparableConv2D: a depthwise convolution (strides,
 * dilation, padding apply to it), then a 1×1 pointwise convolution, then the bias and activation:
 *   u[n,i,j,c·M+m] = Σ_{a,b} xp[n, i·sh + a·dh, j·sw + b·dw, c] · K[a,b,c,m]
 *   y[n,i,j,o] = act(Σ_k u[n,i,j,k] · P[0,0,k,o] + b[o])   (a 1×1 convolution on wasm's SIMD kernels, else a matMul of u as [N·Ho·Wo, in·M])
 * Weights (Keras names): `depthwise_kernel` K [kh, kw, in, M], `pointwise_kernel` P [1, 1, in·M, out],
 * `bias` [out]. The capture records u as `inner.depthwise` (the input P sees); the tap is added to
 * the final pre-activation.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type InitializerName, initialize, toVariable } from '../init.js';
import { type Padding, conv2d as conv2dOp } from '../ops/conv2d.js';
import { dense as denseOp } from '../ops/dense.js';
import { depthwiseConv2d as depthwiseOp } from '../ops/depthwise.js';
import { pointwiseConvOnSimd } from '../ops/gradients.js';
import type { Rng } from '../rng.js';
import { type ActivationLike, type ActivationSpec, toActivationSpec } from './activation.js';
import { type Size2, checkPadding, checkStrideDilation, finish, imageInput, imageOutput, sizePair } from './conv2d.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

export interface SeparableConv2dOptions {
  filters: number;
  kernelSize: Size2;
  /** Depthwise kernels per input channel (default 1). */
  depthMultiplier?: number;
  /** [sh, sw], or one for both (default 1). */
  stride?: Size2;
  /** Depthwise kernel dilation [dh, dw], or one for both (default 1); excludes strides above 1. */
  dilation?: Size2;
  padding?: Padding;
  activation?: ActivationLike;
  /** Default true (as Keras). */
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

export class SeparableConv2d implements Layer {
  readonly kind = 'separableConv2d' as const;
  name = 'separable_conv2d';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly activation: ActivationSpec;
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly depthMultiplier: number;
  readonly strides: [number, number];
  readonly dilation: [number, number];
  readonly padding: Padding;

  constructor(readonly options: SeparableConv2dOptions) {
    const kind = 'separableConv2d';
    this.filters = options.filters;
    if (!Number.isInteger(this.filters) || this.filters < 1) throw new Error(`${kind}: filters must be a positive integer, got ${options.filters}`);
    this.kernelSize = sizePair(kind, 'kernelSize', options.kernelSize, 1);
    this.depthMultiplier = options.depthMultiplier ?? 1;
    if (!Number.isInteger(this.depthMultiplier) || this.depthMultiplier < 1) {
      throw new Error(`${kind}: depthMultiplier must be a positive integer, got ${options.depthMultiplier}`);
    }
    this.strides = sizePair(kind, 'stride', options.stride, 1);
    this.dilation = sizePair(kind, 'dilation', options.dilation, 1);
    checkStrideDilation(kind, this.strides, this.dilation);
    this.padding = checkPadding(kind, options.padding ?? 'valid');
    this.activation = toActivationSpec(options.activation);
  }

  build(inputShape: Shape, rng: Rng): (number | null)[] {
    const [h, w, c] = imageInput(this.name, 'separableConv2d', inputShape);
    const [kh, kw] = this.kernelSize;
    const m = this.depthMultiplier;
    const o = this.filters;
    const out = imageOutput(this.name, inputShape, [h, w], this.kernelSize, this.strides, this.dilation, this.padding);
    const kinit = this.options.kernelInitializer ?? 'glorot';
    this.params.depthwise_kernel = toVariable(initialize(kinit, [kh, kw, c, m], kh * kw * c, kh * kw * m, rng), true);
    this.params.pointwise_kernel = toVariable(initialize(kinit, [1, 1, c * m, o], c * m, o, rng), true);
    if (this.options.useBias !== false) {
      this.params.bias = toVariable(initialize(this.options.biasInitializer ?? 'zeros', [o], c * m, o, rng), true);
    }
    return [...out, o];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const u = depthwiseOp(x as tf.Tensor4D, this.params.depthwise_kernel as tf.Variable<tf.Rank.R4>, undefined, {
      stride: this.strides,
      padding: this.padding,
      dilation: this.dilation,
    });
    const [n, ho, wo, cm] = u.shape;
    const p = this.params.pointwise_kernel as tf.Variable<tf.Rank.R4>;
    const bias = this.params.bias as tf.Tensor1D | undefined;
    // the 1×1 convolution: on forgetless's SIMD 1×1 kernels where they run (wasm), else as a matMul over
    // [N·Ho·Wo, in·M] (faster than the backends' own convolution gradients, cpu's above all)
    const z = pointwiseConvOnSimd(p.shape, u, p)
      ? conv2dOp(u, p, bias, { stride: 1, padding: 'valid', dilation: 1 })
      : tf.reshape(denseOp(tf.reshape(u, [n * ho * wo, cm]), tf.reshape(p, [cm, this.filters]), bias), [n, ho, wo, this.filters]);
    return finish(this, x, z, ctx, { depthwise: u });
  }

  config(): LayerConfig {
    return {
      kind: this.kind,
      ...this.options,
      kernelSize: this.kernelSize,
      depthMultiplier: this.depthMultiplier,
      stride: this.strides,
      dilation: this.dilation,
      padding: this.padding,
      activation: this.activation,
    };
  }
}
