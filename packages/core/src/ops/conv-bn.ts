/**
 * A convolution (1×1, depthwise, or any other NHWC Conv2D whose gradients forgetless's SIMD kernels
 * take) followed by a training-mode batch norm (and a ReLU6 or ReLU), as ONE differentiable op on wasm: a
 * `tf.customGrad` whose forward runs the convolution's wasm kernel and then the batch norm's on the
 * backend's memory, and whose backward runs the batch norm's gradient kernel, then the convolution's
 * ∂x and ∂W kernels (the batch norm's ∂ of its input lives only inside it), each kernel function
 * called directly, not through tfjs's engine. Run apart, the same pair takes three engine kernel calls
 * each way, and for each the engine tracks tensors, records and filters the tape, saves inputs and
 * disposes: on MobileNetV2's step its 51 conv + batch norm pairs made 306 of its 412 engine calls;
 * fused they make 51 (the custom gradients' own).
 *
 * The kernels inside are exactly those the separate ops run (the wasm kernels registered for Conv2D /
 * DepthwiseConv2dNative and their backprop kernels, forgetless's batch norm kernels), on the same
 * inputs in the same order: y, the moving statistics and every gradient are the same to the bit.
 *
 * Used by the graph executor (`graph.ts`) for a conv whose only consumer is a batch norm, in training,
 * where `convBatchNormUsable` holds. Its gradient always includes ∂x: the graph does not fuse a conv
 * that reads the model's input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getGradientMode } from './gradients.js';
import { isAutoFormulation, layerFusionOn } from './formulation.js';
import { simdKernelsFor } from './depthwise-simd.js';
import { isPointwise, isSimdInputGradConv } from './gemm-simd.js';
import { movingStatsInPlace } from './in-place.js';
import type { ReluCap, TrainOutputs } from './norm-simd.js';
import { ensureNormKernels } from './norm-simd.js';
import { isForgetlessKernel } from './wasm-kernels.js';

const NAME = 'conv + batch norm (forgetless, wasm)';

/** The convolution kernels a fused pair runs. */
export type ConvKind = 'Conv2D' | 'DepthwiseConv2dNative';

/** A convolution's geometry as tfjs's Conv2D / DepthwiseConv2dNative kernels take it (NHWC). */
export interface ConvGeometry {
  strides: [number, number];
  pad: 'same' | 'valid' | tf.backend_util.ExplicitPadding;
  dilations: [number, number];
}

const BACKPROP: Record<ConvKind, { input: string; filter: string }> = {
  Conv2D: { input: 'Conv2DBackpropInput', filter: 'Conv2DBackpropFilter' },
  DepthwiseConv2dNative: { input: 'DepthwiseConv2dNativeBackpropInput', filter: 'DepthwiseConv2dNativeBackpropFilter' },
};

/**
 * wasm's kernel functions by name: the batch norm kernels (forgetless's own names) as first found, the
 * convolution kernels as `convBatchNormUsable` last found them registered (forgetless's), so a fused
 * call looks none up.
 */
const kernels = new Map<string, tf.KernelFunc>();
function kernel(name: string): tf.KernelFunc {
  let k = kernels.get(name);
  if (!k) {
    const c = tf.getKernel(name, 'wasm');
    if (!c) throw new Error(`${NAME}: wasm has no ${name} kernel`);
    k = c.kernelFunc;
    kernels.set(name, k);
  }
  return k;
}

const run = (name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap, backend: unknown) =>
  kernel(name)({ inputs, attrs, backend: backend as never }) as tf.TensorInfo | tf.TensorInfo[];

type Backend = { disposeData(dataId: unknown, force?: boolean): boolean };
/** The op's attributes: the conv's kernel and its attributes (tf.conv2d's and tf.depthwiseConv2d's, NHWC), the batch norm's. */
type Attrs = { conv: ConvKind; geometry: tf.NamedAttrMap; cap: ReluCap; bn: tf.NamedAttrMap };

/** The fused forward: y, z (the batch norm's input), the [2, C] statistics [, the moving statistics], as the backend's tensor infos. */
function forward(
  backend: unknown,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  gamma: tf.TensorInfo,
  beta: tf.TensorInfo,
  movingMean: tf.TensorInfo,
  movingVariance: tf.TensorInfo,
  attrs: Attrs,
): tf.TensorInfo[] {
  const z = run(attrs.conv, { x, filter }, attrs.geometry, backend) as tf.TensorInfo;
  let bn: tf.TensorInfo[];
  try {
    bn = run(
      attrs.cap > 0 ? 'ForgetlessBatchNormReluTrain' : 'ForgetlessBatchNormTrain',
      { x: z, gamma, beta, movingMean, movingVariance },
      attrs.cap > 0 ? { ...attrs.bn, cap: attrs.cap } : attrs.bn,
      backend,
    ) as tf.TensorInfo[];
  } catch (e) {
    (backend as Backend).disposeData(z.dataId, true);
    throw e;
  }
  return [bn[0] as tf.TensorInfo, z, ...bn.slice(1)];
}

/** The fused backward: ∂x, ∂W, ∂γ, ∂β, as the backend's tensor infos (the batch norm's ∂z freed inside). */
function backward(
  backend: unknown,
  dy: tf.TensorInfo,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  z: tf.TensorInfo,
  gamma: tf.TensorInfo,
  beta: tf.TensorInfo,
  stats: tf.TensorInfo,
  attrs: Attrs,
): tf.TensorInfo[] {
  const bn =
    attrs.cap > 0
      ? run('ForgetlessBatchNormReluTrainGrad', { x: z, dy, gamma, beta, stats }, { cap: attrs.cap }, backend)
      : run('ForgetlessBatchNormTrainGrad', { x: z, dy, gamma, stats }, {}, backend);
  const [dz, dgamma, dbeta] = bn as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
  const geometry = attrs.geometry;
  const made: tf.TensorInfo[] = [dgamma, dbeta];
  try {
    const dx = run(BACKPROP[attrs.conv].input, { dy: dz, filter }, { ...geometry, inputShape: [...x.shape] }, backend) as tf.TensorInfo;
    made.push(dx);
    const dw = run(BACKPROP[attrs.conv].filter, { x, dy: dz }, { ...geometry, filterShape: [...filter.shape] }, backend) as tf.TensorInfo;
    made.length = 0;
    return [dx, dw, dgamma, dbeta];
  } finally {
    // ∂z always; the outputs made so far when a kernel threw
    for (const t of [dz, ...made]) (backend as Backend).disposeData(t.dataId, true);
  }
}

let fusionOn = true;

/**
 * Turns the conv + batch norm fusion off (false: the graph runs them as separate ops, as before it) or
 * back on; for same-process before/after benchmarks and tests. `withLayerFusion(false, …)` turns it
 * off too.
 */
export function setConvBatchNormFusion(on: boolean): void {
  fusionOn = on;
}

/**
 * Whether a conv of `kind` with this filter and geometry, followed by a training-mode batch norm with
 * these per-channel vectors, runs here as one op: layer fusions on, wasm under 'auto' (the formulation
 * and the gradient mode), float32, forgetless's SIMD kernels taking the conv's forward and both
 * gradients (a 1×1 unit-stride conv, a depthwise conv, or another Conv2D with 'same'/'valid' padding
 * whose ∂x and ∂W the patch kernels take), the batch norm's vectors [C] for the conv's C outputs.
 */
export function convBatchNormUsable(kind: ConvKind, x: tf.Tensor, filter: tf.Tensor, geometry: ConvGeometry, vectors: readonly tf.Tensor[]): boolean {
  if (!fusionOn || !layerFusionOn() || tf.getBackend() !== 'wasm' || !isAutoFormulation() || getGradientMode() !== 'auto') return false;
  // first-order gradients only: the backward kernel has no gradient of its own
  if (((tf.engine() as unknown as { state: { gradientDepth?: number } }).state.gradientDepth ?? 0) > 1) return false;
  if (x.rank !== 4 || filter.rank !== 4) return false;
  const outC = kind === 'Conv2D' ? filter.shape[3] : (filter.shape[2] as number) * (filter.shape[3] as number);
  if (vectors.some((v) => v.rank !== 1 || v.shape[0] !== outC)) return false;
  if (!simdKernelsFor(tf.backend(), x, filter, ...vectors)) return false;
  // forgetless's convolution kernels registered (else the ops run apart, whose gradients put them back)
  for (const name of [kind, BACKPROP[kind].input, BACKPROP[kind].filter]) {
    const k = tf.getKernel(name, 'wasm');
    if (!k || !isForgetlessKernel(k)) return false;
    kernels.set(name, k.kernelFunc);
  }
  if (kind === 'DepthwiseConv2dNative') return true;
  const attrs = { ...geometry, dataFormat: 'NHWC' };
  // a 1×1 unit-stride conv runs all three on the 1×1 kernels; any other needs the patch kernels' ∂x, which tfjs's 'same'/'valid' padding reaches
  return isPointwise(filter.shape, attrs) || (isSimdInputGradConv(filter.shape, attrs) && (geometry.pad === 'same' || geometry.pad === 'valid'));
}

/**
 * bn(conv(x, filter)) in training mode (min(max(·, 0), cap) of it when `cap` > 0: 6 ReLU6, +∞ ReLU), the batch norm over the last axis
 * with the batch's μ and biased σ², as one op (see the module comment): y, and the moving statistics
 * updated as `simdBatchNormTrain` updates them (`TrainOutputs`: in place where nothing else shares
 * the variables). Only where `convBatchNormUsable`. Its gradient always includes ∂x.
 */
export function convBatchNormTrain(
  kind: ConvKind,
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  geometry: ConvGeometry,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  epsilon: number,
  momentum: number,
  cap: ReluCap,
): TrainOutputs {
  ensureNormKernels();
  const backend = tf.backend();
  const engine = tf.engine();
  const wrap = (infos: tf.TensorInfo[]) => infos.map((t) => engine.makeTensorFromTensorInfo(t, backend));
  const inPlace = movingStatsInPlace(backend, movingMean, movingVariance);
  const attrs: Attrs = {
    conv: kind,
    geometry: { ...geometry, dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap,
    cap: cap > 0 ? cap : 0,
    bn: { epsilon, momentum, inPlace: inPlace ? 1 : 0 },
  };
  let newMean: tf.Tensor | undefined;
  let newVar: tf.Tensor | undefined;
  const op = tf.customGrad(((xi: tf.Tensor, f: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, z, stats, nm, nv] = wrap(forward(backend, xi, f, g, b, movingMean, movingVariance, attrs));
    // kept: customGrad's forward runs in a tidy that keeps only its value (z and the statistics live on as saved copies)
    if (!inPlace) {
      newMean = tf.keep(nm as tf.Tensor);
      newVar = tf.keep(nv as tf.Tensor);
    }
    // saved: x, z and the statistics (the forward's tidy disposes them otherwise); the filter, γ and β
    // where they are variables are read from here by the backward pass (a saved copy of each, a new
    // tensor for tfjs to track and dispose, cost ~150 tensors a MobileNetV2 step)
    const held = [f, g, b].map((t) => (t instanceof tf.Variable ? undefined : t));
    save([xi, z as tf.Tensor, stats as tf.Tensor, ...held.filter((t): t is tf.Tensor => t !== undefined)]);
    return {
      value: y as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sz, st, ...rest] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, ...tf.Tensor[]];
        const [sf, sg, sb] = [f, g, b].map((t, i) => (held[i] ? (rest.shift() as tf.Tensor) : t)) as [tf.Tensor, tf.Tensor, tf.Tensor];
        return wrap(backward(backend, dy, sx, sf, sz, sg, sb, st, attrs));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = op(x, filter, gamma, beta) as tf.Tensor;
  return newMean && newVar ? { y, movingMean: newMean, movingVariance: newVar } : { y };
}
