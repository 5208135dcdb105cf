/**
 * Batch normalisation (Ioffe & Szegedy 2015) over one feature axis (default the last):
 *   x̂ = (x − μ) / √(σ² + ε),   y = γ · x̂ + β
 * with μ, σ² per feature, over every other axis (batch and positions). Training mode uses the
 * batch's μ and biased σ² and updates the moving statistics (m ← momentum·m + (1 − momentum)·batch
 * value, as Keras and tfjs-layers do); inference mode uses the moving statistics. `center: false`
 * drops β, `scale: false` drops γ (no variable). The gradient is built from elementwise ops, so it
 * runs on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addTap } from '../ops/tap.js';
import { toVariable } from '../init.js';
import type { Rng } from '../rng.js';
import { type ApplyContext, type Layer, type LayerConfig, type MergeLayer, type Shape, isMergeLayer } from './layer.js';
import { useFusedBatchNorm } from '../ops/gradients.js';
import { type ConvGeometry, type ConvKind, convBatchNormTrain, convBatchNormUsable } from '../ops/conv-bn.js';
import { layerFusionOn } from '../ops/formulation.js';
import {
  type ReluCap,
  type TrainOutputs,
  simdBatchNormInfer,
  simdBatchNormInferUsable,
  simdBatchNormReluTrain,
  simdBatchNormTrain,
  simdBatchNormUsable,
} from '../ops/norm-simd.js';

export interface BatchNormOptions {
  /** Moving-average momentum (default 0.9, PyTorch's 0.1 update rate; Keras imports use 0.99). */
  momentum?: number;
  /** Added to σ² (default 1e-5; Keras's is 1e-3). */
  epsilon?: number;
  /** Learn the offset β (default true). */
  center?: boolean;
  /** Learn the scale γ (default true). */
  scale?: boolean;
  /**
   * The feature axis, as Keras counts it: an index into the batched tensor (0 is the batch axis,
   * so 1 is the first per-example axis), negative from the end. Default −1 (the last).
   */
  axis?: number;
}

const shapeText = (s: Shape) => `[${s.map((d) => d ?? 'any').join(', ')}]`;

export class BatchNorm implements Layer {
  readonly kind = 'batchNorm' as const;
  name = 'batch_norm';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  /** The axis as given (Keras convention). */
  readonly axis: number;
  /** The feature axis of the batched input, resolved at build (≥ 1). */
  private featureAxis = -1;
  private rank = 0;

  constructor(options: BatchNormOptions = {}) {
    this.momentum = options.momentum ?? 0.9;
    this.epsilon = options.epsilon ?? 1e-5;
    this.center = options.center ?? true;
    this.scale = options.scale ?? true;
    this.axis = options.axis ?? -1;
    if (!(this.momentum >= 0 && this.momentum < 1)) throw new Error(`batchNorm: momentum must be in [0, 1), got ${this.momentum}`);
    if (!(this.epsilon > 0)) throw new Error(`batchNorm: epsilon must be > 0, got ${this.epsilon}`);
    if (!Number.isInteger(this.axis) || this.axis === 0) throw new Error(`batchNorm: axis must be a non-zero integer (0 is the batch axis), got ${String(options.axis)}`);
  }

  build(inputShape: Shape, _rng: Rng): (number | null)[] {
    const rank = inputShape.length + 1;
    const a = this.axis < 0 ? this.axis + rank : this.axis;
    if (a < 1 || a >= rank) throw new Error(`${this.name}: axis ${this.axis} is outside the input of per-example shape ${shapeText(inputShape)} (batch axis 0 excluded)`);
    const c = inputShape[a - 1];
    if (c === null || c === undefined) throw new Error(`${this.name}: the normalised axis must have a known size, got ${shapeText(inputShape)}`);
    this.featureAxis = a;
    this.rank = rank;
    if (this.scale) this.params.gamma = toVariable(tf.ones([c]), true);
    if (this.center) this.params.beta = toVariable(tf.zeros([c]), true);
    this.state.moving_mean = toVariable(tf.zeros([c]), false);
    this.state.moving_variance = toVariable(tf.ones([c]), false);
    return [...inputShape];
  }

  /** The batched input's feature axis (≥ 1), once built. */
  get resolvedAxis(): number {
    return this.featureAxis;
  }

  /** Axes of the batched input that μ and σ² are taken over: all but the feature axis. */
  reductionAxes(): number[] {
    return Array.from({ length: this.rank }, (_, i) => i).filter((i) => i !== this.featureAxis);
  }

  /** A per-feature vector [c] reshaped to broadcast along the feature axis of the batched input. */
  broadcast(v: tf.Tensor): tf.Tensor {
    const trailing = this.rank - 1 - this.featureAxis;
    return trailing === 0 ? v : tf.reshape(v, [v.shape[0] as number, ...Array.from({ length: trailing }, () => 1)]);
  }

  /** x̂ = (x − μ)/√(σ² + ε), by default with the moving statistics (per-example code: g_γ = Σ δ·x̂). */
  normalize(x: tf.Tensor, mean: tf.Tensor = this.state.moving_mean as tf.Variable, variance: tf.Tensor = this.state.moving_variance as tf.Variable): tf.Tensor {
    return tf.mul(tf.sub(x, this.broadcast(mean)), this.broadcast(tf.rsqrt(tf.add(variance, this.epsilon))));
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const mm = this.state.moving_mean as tf.Variable;
    const mv = this.state.moving_variance as tf.Variable;
    let mean: tf.Tensor = mm;
    let variance: tf.Tensor = mv;
    let fused: tf.Tensor | undefined;
    if (this.simdTraining(x, ctx)) {
      // one kernel: y, its gradient registered, and the moving statistics' update (`norm-simd.ts`)
      const [g, b] = this.kernelAffine();
      const f = simdBatchNormTrain(x, g, b, mm, mv, this.epsilon, this.momentum);
      assignMoving(mm, mv, f);
      return this.finish(f.y, x, ctx);
    }
    if (this.simdInference(x, ctx)) {
      // one kernel each way with the moving statistics (`norm-simd.ts`)
      return this.finish(simdBatchNormInfer(x, this.params.gamma, this.params.beta, mm, mv, this.epsilon, 0, ctx.exampleSums?.[this.name]), x, ctx);
    }
    if (ctx.training && this.params.gamma && this.params.beta && this.featureAxis === this.rank - 1 && useFusedBatchNorm(x)) {
      const f = fusedTrainingBatchNorm(x, this.params.gamma, this.params.beta, this.epsilon, this.reductionAxes());
      fused = f.y;
      mean = f.mean;
      variance = f.variance;
    } else if (ctx.training) {
      const m = tf.moments(x, this.reductionAxes());
      mean = m.mean;
      variance = m.variance;
    }
    if (ctx.training) {
      const mom = this.momentum;
      const newMean = tf.tidy(() => tf.add(tf.mul(mm, mom), tf.mul(mean, 1 - mom)));
      const newVar = tf.tidy(() => tf.add(tf.mul(mv, mom), tf.mul(variance, 1 - mom)));
      mm.assign(newMean);
      mv.assign(newVar);
      newMean.dispose();
      newVar.dispose();
    }
    if (fused) tf.dispose([mean, variance]);
    let z: tf.Tensor;
    if (fused) z = fused;
    else {
      z = this.normalize(x, mean, variance);
      if (this.params.gamma) z = tf.mul(z, this.broadcast(this.params.gamma));
      if (this.params.beta) z = tf.add(z, this.broadcast(this.params.beta));
    }
    return this.finish(z, x, ctx);
  }

  /**
   * Whether training mode runs here by forgetless's SIMD batch norm kernel (wasm, 'auto', float32, last
   * axis; γ and β, or in their place (Keras's scale or center false: InceptionV3's `conv2d_bn`) ones and
   * zeros, `kernelAffine`).
   */
  private simdTraining(x: tf.Tensor, ctx: ApplyContext): boolean {
    const mm = this.state.moving_mean as tf.Variable;
    const mv = this.state.moving_variance as tf.Variable;
    if (!reluFusionOn && (!this.params.gamma || !this.params.beta)) return false;
    return ctx.training && this.featureAxis === this.rank - 1 && useFusedBatchNorm(x) && simdBatchNormUsable(x, this.params.gamma ?? mm, this.params.beta ?? mm, mm, mv);
  }

  /**
   * γ and β as the training kernels take them: the variables, or where the layer has none (scale or
   * center false) ones or zeros made for this call (constants: their gradient is computed by the
   * kernel anyway and read by nobody), freed with the caller's scope.
   */
  private kernelAffine(): [tf.Tensor, tf.Tensor] {
    const c = (this.state.moving_mean as tf.Variable).shape[0] as number;
    return [this.params.gamma ?? tf.ones([c]), this.params.beta ?? tf.zeros([c])];
  }

  /** Whether inference mode runs here by forgetless's SIMD batch norm kernels (wasm, 'auto', float32, last axis; γ and β optional). */
  private simdInference(x: tf.Tensor, ctx: ApplyContext): boolean {
    return (
      !ctx.training &&
      this.featureAxis === this.rank - 1 &&
      useFusedBatchNorm(x) &&
      simdBatchNormInferUsable(x, this.params.gamma, this.params.beta, this.state.moving_mean as tf.Variable, this.state.moving_variance as tf.Variable)
    );
  }

  /**
   * The ReLU capped at `cap` (6: ReLU6, +∞: ReLU; `fusedReluCap`) of this layer's output in one kernel
   * each way (`simdBatchNormReluTrain` training, `simdBatchNormInfer` in inference), for a graph whose
   * only consumer of this layer's output is that ReLU: the same values, moving statistics included, as
   * `apply` followed by the ReLU. Undefined (nothing run) where that kernel does not apply: not the SIMD
   * kernels' case, the fusion turned off, or, in training, a tap or capture asked for this layer. In
   * inference a tap and a capture are taken after the ReLU (`LayerCapture.fusedActivation`: the
   * per-example importances take the ReLU's mask in their batch norm sums).
   */
  applyWithRelu(x: tf.Tensor, cap: ReluCap, ctx: ApplyContext): tf.Tensor | undefined {
    if (!(cap > 0)) throw new Error(`batchNorm ${this.name}: applyWithRelu needs cap > 0 (6: ReLU6, Infinity: ReLU), got ${cap}`);
    if (!layerFusionOn()) return undefined;
    if (this.simdInference(x, ctx)) {
      const y = simdBatchNormInfer(
        x,
        this.params.gamma,
        this.params.beta,
        this.state.moving_mean as tf.Variable,
        this.state.moving_variance as tf.Variable,
        this.epsilon,
        cap,
        ctx.exampleSums?.[this.name],
      );
      return this.finish(y, x, ctx, cap === 6 ? 'relu6' : 'relu');
    }
    if (ctx.taps?.[this.name] || ctx.capture || !this.simdTraining(x, ctx)) return undefined;
    const mm = this.state.moving_mean as tf.Variable;
    const mv = this.state.moving_variance as tf.Variable;
    const [g, b] = this.kernelAffine();
    const f = simdBatchNormReluTrain(x, g, b, mm, mv, this.epsilon, this.momentum, cap);
    assignMoving(mm, mv, f);
    return f.y;
  }

  /**
   * This layer (the ReLU capped at `cap` of it when `cap` > 0: 6 ReLU6, +∞ ReLU) on the output of the convolution `conv` of x, in training,
   * as one op each way (`ops/conv-bn.ts`): the same values, moving statistics and gradients, to the
   * bit, as the conv, this layer and the ReLU run apart, with a third of their kernel calls. For a
   * graph whose only consumer of the conv's output is this layer. Undefined (nothing run) where it
   * does not apply: not training, a tap or capture asked for, the conv with a bias or activation of
   * its own, or not `convBatchNormUsable`.
   */
  applyAfterConv(
    conv: FusableConv,
    x: tf.Tensor,
    pads: readonly [readonly [number, number], readonly [number, number]] | undefined,
    cap: ReluCap,
    ctx: ApplyContext,
  ): tf.Tensor | undefined {
    if (!ctx.training || ctx.taps || ctx.capture || this.featureAxis !== this.rank - 1 || x.dtype !== 'float32') return undefined;
    if (!reluFusionOn && (!this.params.gamma || !this.params.beta)) return undefined;
    const spec = conv.fusedConv(pads);
    if (!spec) return undefined;
    const mm = this.state.moving_mean as tf.Variable;
    const mv = this.state.moving_variance as tf.Variable;
    if (!convBatchNormUsable(spec.kind, x, spec.filter, spec.geometry, [this.params.gamma ?? mm, this.params.beta ?? mm, mm, mv])) return undefined;
    const [gamma, beta] = this.kernelAffine();
    const f = convBatchNormTrain(spec.kind, x as tf.Tensor4D, spec.filter as tf.Tensor4D, spec.geometry, gamma, beta, mm, mv, this.epsilon, this.momentum, cap);
    assignMoving(mm, mv, f);
    return f.y;
  }

  /** The output z after the tap and capture (taken after the ReLU run inside this layer's kernel where `fused`). */
  private finish(out: tf.Tensor, x: tf.Tensor, ctx: ApplyContext, fused?: 'relu6' | 'relu'): tf.Tensor {
    let z = out;
    const tap = ctx.taps?.[this.name];
    if (tap) z = addTap(z, tap);
    if (ctx.capture) ctx.capture[this.name] = { input: x, preActivation: z, output: z, ...(fused ? { fusedActivation: fused } : {}) };
    return z;
  }

  config(): LayerConfig {
    return {
      kind: 'batchNorm',
      momentum: this.momentum,
      epsilon: this.epsilon,
      ...(this.center ? {} : { center: false }),
      ...(this.scale ? {} : { scale: false }),
      ...(this.axis === -1 ? {} : { axis: this.axis }),
    };
  }
}

/** A convolution layer that can run with the batch norm after it as one op (`BatchNorm.applyAfterConv`). */
export interface FusableConv {
  fusedConv(pads?: readonly [readonly [number, number], readonly [number, number]]): { kind: ConvKind; filter: tf.Variable; geometry: ConvGeometry } | undefined;
}

/** `next` when `layer` is a conv or depthwise conv and `next` a batch norm (a pair `applyAfterConv` may run as one op). */
export function batchNormAfterConv(layer: Layer | MergeLayer, next: Layer | MergeLayer | undefined): BatchNorm | undefined {
  return next instanceof BatchNorm && !isMergeLayer(layer) && typeof (layer as Partial<FusableConv>).fusedConv === 'function' ? next : undefined;
}

/** The SIMD kernel's moving statistics into the layer's variables (nothing to do where it wrote them in place). */
function assignMoving(mm: tf.Variable, mv: tf.Variable, f: TrainOutputs): void {
  if (f.movingMean) mm.assign(f.movingMean);
  if (f.movingVariance) mv.assign(f.movingVariance);
  tf.dispose([f.movingMean, f.movingVariance].filter((t): t is tf.Tensor => t !== undefined));
}

/**
 * Where `layer` is a batch norm whose output, when `next` is its only consumer, may run fused with
 * `next` (`BatchNorm.applyWithRelu`, `applyAfterConv`): the cap of `next`'s ReLU, 6 for a ReLU6
 * activation layer (Keras's `ReLU(max_value=6)` or `Activation('relu6')`), +∞ for a plain ReLU
 * (`Activation('relu')`, `ReLU()`); else undefined.
 */
export function fusedReluCap(layer: Layer | MergeLayer, next: Layer | MergeLayer | undefined): ReluCap | undefined {
  if (!(layer instanceof BatchNorm) || next === undefined || isMergeLayer(next) || next.kind !== 'activation') return undefined;
  const name = next.activation?.name;
  return name === 'relu6' ? 6 : name === 'relu' && reluFusionOn ? Number.POSITIVE_INFINITY : undefined;
}

let reluFusionOn = true;

/**
 * Turns off (false) what came with plain ReLUs in the batch norm kernels: a batch norm + ReLU then runs
 * as two ops (tfjs's Relu and its gradient), and a batch norm without γ or β (Keras's scale or center
 * false) trains on tfjs ops, as before; true turns it back on. For same-process before/after
 * benchmarks and tests. A model decides its fusions when it is built (`graphModel`, `sequential`):
 * set this before loading or building it.
 */
export function setBatchNormReluFusion(on: boolean): void {
  reluFusionOn = on;
}

/**
 * Training-mode batch norm over the last axis as one differentiable op with its gradient in closed
 * form (P values per feature, x̂ the normalised input, r = 1/√(σ² + ε)):
 *   ∂β = Σ δ,   ∂γ = Σ δ·x̂,   ∂x = γ·r·(δ − ∂β/P − x̂·∂γ/P)
 * Five full-size element-wise ops and two reductions each way, where tfjs's autodiff of
 * `tf.moments` and the normalisation runs about three times as many (and clones what it saves):
 * on wasm, whose per-op cost dominates small layers, that is most of a batch-normalised net's step
 * outside the convolutions. Also returns the batch's μ and biased σ² (for the moving statistics),
 * kept outside any tidy scope: the caller disposes them.
 */
export function fusedTrainingBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number, axes: number[]): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  let mean: tf.Tensor | undefined;
  let variance: tf.Tensor | undefined;
  const p = x.size / (gamma.size || 1);
  const op = tf.customGrad(((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    // kept: customGrad's forward runs in a tidy that keeps only its value; the caller disposes them
    mean = tf.keep(tf.mean(xi, axes));
    const xc = tf.sub(xi, mean);
    variance = tf.keep(tf.mean(tf.square(xc), axes));
    const r = tf.rsqrt(tf.add(variance, epsilon));
    const xhat = tf.mul(xc, r);
    save([xhat, r, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rr, gg] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const dBeta = tf.sum(dy, axes);
        const dGamma = tf.sum(tf.mul(dy, xh), axes);
        const centred = tf.sub(tf.sub(dy, tf.div(dBeta, p)), tf.mul(xh, tf.div(dGamma, p)));
        return [tf.mul(centred, tf.mul(gg, rr)), dGamma, dBeta];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = op(x, gamma, beta) as tf.Tensor;
  return { y, mean: mean as tf.Tensor, variance: variance as tf.Tensor };
}
