/**
 * Depthwise 2-D convolution, NHWC, as Keras's DepthwiseConv2D: every input channel c is convolved
 * with its own `depthMultiplier` kernels, output channel c·M + m:
 *   y[n,i,j,c·M+m] = act(Σ_{a,b} xp[n, i·sh + a·dh, j·sw + b·dw, c] · K[a,b,c,m] + b[c·M+m])
 * Weights (Keras names): `depthwise_kernel` K [kh, kw, in, M], `bias` [in·M]. Gradients on every
 * backend: `ops/depthwise.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type InitializerName, initialize, toVariable } from '../init.js';
import type { Padding } from '../ops/conv2d.js';
import { depthwiseConv2d as depthwiseOp } from '../ops/depthwise.js';
import { simdKernelsFor } from '../ops/depthwise-simd.js';
import { layerFusionOn } from '../ops/formulation.js';
import { ensureWasmKernels } from '../ops/wasm-kernels.js';
import type { Rng } from '../rng.js';
import { type ActivationLike, type ActivationSpec, toActivationSpec } from './activation.js';
import type { ConvGeometry, ConvKind } from '../ops/conv-bn.js';
import { type Size2, checkPadding, checkStrideDilation, convSpec, finish, imageInput, imageOutput, sizePair } from './conv2d.js';
import type { ApplyContext, Layer, LayerConfig, Shape } from './layer.js';

export interface DepthwiseConv2dOptions {
  kernelSize: Size2;
  /** Kernels per input channel (default 1). */
  depthMultiplier?: number;
  /** [sh, sw], or one for both (default 1). */
  stride?: Size2;
  /** Kernel dilation [dh, dw], or one for both (default 1); excludes strides above 1. */
  dilation?: Size2;
  padding?: Padding;
  activation?: ActivationLike;
  /** Default true (as Keras). */
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}

export class DepthwiseConv2d implements Layer {
  readonly kind = 'depthwiseConv2d' as const;
  name = 'depthwise_conv2d';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly activation: ActivationSpec;
  readonly kernelSize: [number, number];
  readonly depthMultiplier: number;
  readonly strides: [number, number];
  readonly dilation: [number, number];
  readonly padding: Padding;

  constructor(readonly options: DepthwiseConv2dOptions) {
    const kind = 'depthwiseConv2d';
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
    const [h, w, c] = imageInput(this.name, 'depthwiseConv2d', inputShape);
    const [kh, kw] = this.kernelSize;
    const m = this.depthMultiplier;
    const out = imageOutput(this.name, inputShape, [h, w], this.kernelSize, this.strides, this.dilation, this.padding);
    // Keras's fans of a [kh, kw, in, M] kernel
    const fanIn = kh * kw * c;
    const fanOut = kh * kw * m;
    this.params.depthwise_kernel = toVariable(initialize(this.options.kernelInitializer ?? 'glorot', [kh, kw, c, m], fanIn, fanOut, rng), true);
    if (this.options.useBias !== false) {
      this.params.bias = toVariable(initialize(this.options.biasInitializer ?? 'zeros', [c * m], fanIn, fanOut, rng), true);
    }
    return [...out, c * m];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const z = depthwiseOp(x as tf.Tensor4D, this.params.depthwise_kernel as tf.Variable<tf.Rank.R4>, this.params.bias as tf.Tensor1D | undefined, {
      stride: this.strides,
      padding: this.padding,
      dilation: this.dilation,
    });
    return finish(this, x, z, ctx);
  }

  /**
   * Whether `applyPadded` takes x here: layer fusions on (`withLayerFusion`), 'valid' padding, forgetless's SIMD depthwise kernels running
   * (wasm, 'auto', float32: they take explicit padding, forward and both gradients), and no capture
   * or tap asking for this layer (whose input they record) unless the caller reads `LayerCapture.pads`
   * (`ctx.capturePads`).
   */
  foldsPadding(x: tf.Tensor, ctx: ApplyContext): boolean {
    if (!layerFusionOn() || this.padding !== 'valid' || ((ctx.capture || ctx.taps) && !ctx.capturePads) || tf.getBackend() !== 'wasm') return false;
    ensureWasmKernels();
    return simdKernelsFor(tf.backend(), x, this.params.depthwise_kernel as tf.Variable) !== undefined;
  }

  /**
   * This layer on x zero-padded by `pads` ([[top, bottom], [left, right]]: the ZeroPadding2D before it,
   * as Keras MobileNetV2 pads before each strided depthwise conv) as one depthwise op with explicit
   * padding: the same values without the padded copy and its gradient's slice. Only where `foldsPadding`.
   */
  applyPadded(x: tf.Tensor, pads: readonly [readonly [number, number], readonly [number, number]], ctx: ApplyContext): tf.Tensor {
    const explicit: tf.backend_util.ExplicitPadding = [[0, 0], [...pads[0]], [...pads[1]], [0, 0]];
    let z = tf.depthwiseConv2d(x as tf.Tensor4D, this.params.depthwise_kernel as tf.Variable<tf.Rank.R4>, this.strides, explicit, 'NHWC', this.dilation);
    if (this.params.bias) z = tf.add(z, this.params.bias);
    return finish(this, x, z, ctx, undefined, pads);
  }

  /** This layer as the convolution of a conv + batch norm pair run as one op (see `Conv2d.fusedConv`). */
  fusedConv(pads?: readonly [readonly [number, number], readonly [number, number]]): { kind: ConvKind; filter: tf.Variable; geometry: ConvGeometry } | undefined {
    return convSpec('DepthwiseConv2dNative', this, this.params.depthwise_kernel, pads);
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
