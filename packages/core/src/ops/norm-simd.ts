/**
 * forgetless's WebAssembly SIMD batch norm (training mode, last axis) and ReLU6 gradient kernels
 * (`norm-simd.c`, linked into the depthwise kernels' module: `depthwise-simd.ts` binds it to
 * tfjs-wasm's memory), registered for tfjs-backend-wasm under forgetless's own kernel names and run
 * by `fusedTrainingBatchNorm` (`layers/batch-norm.ts`) and the Relu6 gradient (`gradients.ts`) where
 * the module runs under 'auto' (`simdKernelsFor`); elsewhere those compose tfjs ops as before.
 *
 * On MobileNetV2's step the composed forms ran ~9 full-size element-wise kernels and reductions per
 * batch norm each way and five per ReLU6 gradient, each a separate pass over the data with its own
 * kernel-call cost; these run three passes (forward), two (backward) and one (ReLU6).
 *
 * A batch norm whose only consumer is a ReLU6 (Keras MobileNetV2's bn → ReLU(max_value=6)) runs as
 * one kernel each way (`simdBatchNormRelu6Train`, chosen by the graph executor): the forward writes
 * relu6 of the normalised output, the backward takes the upstream gradient through ReLU6's mask
 * (recomputed from x in the forward's float order) inside the batch norm's two passes; the values
 * are those of the two ops run apart, bit for bit, and each way saves a full pass and a kernel call.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Exports, type WasmHeapBackend, depthwiseSimd, simdKernelsFor } from './depthwise-simd.js';

const BN_FORWARD = 'ForgetlessBatchNormTrain';
const BN_BACKWARD = 'ForgetlessBatchNormTrainGrad';
const RELU6_GRAD = 'ForgetlessRelu6Grad';
const BN_RELU6_FORWARD = 'ForgetlessBatchNormRelu6Train';
const BN_RELU6_BACKWARD = 'ForgetlessBatchNormRelu6TrainGrad';
const CLIP_GRAD = 'ForgetlessClipByValueGrad';

/** The fused batch norm + ReLU6 kernels of `norm-simd.c` (the module's other exports are typed in `depthwise-simd.ts`). */
type NormExports = Exports & {
  bn_relu6_forward(x: number, gamma: number, beta: number, out: number, mean: number, variance: number, rstd: number, p: number, c: number, eps: number): void;
  bn_relu6_backward(x: number, dy: number, gamma: number, beta: number, mean: number, rstd: number, dx: number, dgamma: number, dbeta: number, p: number, c: number): void;
  clip_grad(x: number, dy: number, dx: number, n: number, lo: number, hi: number): void;
};

type Args = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown };
const offset = (b: WasmHeapBackend, t: tf.TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset;

function kernelsOf(backend: unknown, name: string) {
  const ex = depthwiseSimd(backend);
  if (!ex) throw new Error(`${name}: forgetless's WebAssembly SIMD kernels do not run here`);
  return ex;
}

/** [P, C] view of a tensor whose last axis is the channels. */
function rowsOf(x: tf.TensorInfo): { p: number; c: number } {
  const c = x.shape[x.shape.length - 1] as number;
  return { p: c === 0 ? 0 : tf.util.sizeFromShape(x.shape) / c, c };
}

/** Training-mode batch norm forward (its output through ReLU6 when `relu6`): y, μ, r, and the updated moving statistics. */
function forwardKernel(kernelName: string, relu6: boolean): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }: Args) => {
      const ex = kernelsOf(backend, kernelName) as NormExports;
      const b = backend as WasmHeapBackend;
      const { x, gamma, beta, movingMean, movingVariance } = inputs as Record<string, tf.TensorInfo>;
      const { p, c } = rowsOf(x as tf.TensorInfo);
      const y = b.makeOutput((x as tf.TensorInfo).shape, 'float32');
      const [mean, rstd, newMean, newVar] = [0, 1, 2, 3].map(() => b.makeOutput([c], 'float32')) as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
      if (p === 0 || c === 0) return [y, mean, rstd, newMean, newVar];
      // σ² into newVar's buffer, then the moving statistics' update in place: m·momentum + batch·(1 − momentum)
      (relu6 ? ex.bn_relu6_forward : ex.bn_forward)(
        offset(b, x as tf.TensorInfo),
        offset(b, gamma as tf.TensorInfo),
        offset(b, beta as tf.TensorInfo),
        offset(b, y),
        offset(b, mean),
        offset(b, newVar),
        offset(b, rstd),
        p,
        c,
        attrs.epsilon as number,
      );
      const heap = new Float32Array(b.wasm.HEAPU8.buffer);
      const mom = attrs.momentum as number;
      const [mu, nm, nv, mm, mv] = [mean, newMean, newVar, movingMean, movingVariance].map((t) => offset(b, t as tf.TensorInfo) / 4) as [number, number, number, number, number];
      for (let k = 0; k < c; k++) {
        heap[nm + k] = (heap[mm + k] as number) * mom + (heap[mu + k] as number) * (1 - mom);
        heap[nv + k] = (heap[mv + k] as number) * mom + (heap[nv + k] as number) * (1 - mom);
      }
      return [y, mean, rstd, newMean, newVar];
    }) as unknown as tf.KernelFunc,
  };
}

/** Training-mode batch norm backward (dy taken through ReLU6's mask first when `relu6`): ∂x, ∂γ, ∂β. */
function backwardKernel(kernelName: string, relu6: boolean): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (({ inputs, backend }: Args) => {
      const ex = kernelsOf(backend, kernelName) as NormExports;
      const b = backend as WasmHeapBackend;
      const { x, dy, gamma, beta, mean, rstd } = inputs as Record<string, tf.TensorInfo>;
      const { p, c } = rowsOf(x as tf.TensorInfo);
      const dx = b.makeOutput((x as tf.TensorInfo).shape, 'float32');
      const [dgamma, dbeta] = [0, 1].map(() => b.makeOutput([c], 'float32')) as [tf.TensorInfo, tf.TensorInfo];
      if (p > 0 && c > 0) {
        const [ox, ody, og, om, or, odx, odg, odb] = [x, dy, gamma, mean, rstd, dx, dgamma, dbeta].map((t) => offset(b, t as tf.TensorInfo)) as [
          number,
          number,
          number,
          number,
          number,
          number,
          number,
          number,
        ];
        if (relu6) ex.bn_relu6_backward(ox, ody, og, offset(b, beta as tf.TensorInfo), om, or, odx, odg, odb, p, c);
        else ex.bn_backward(ox, ody, og, om, or, odx, odg, odb, p, c);
      }
      return [dx, dgamma, dbeta];
    }) as unknown as tf.KernelFunc,
  };
}

const KERNELS: tf.KernelConfig[] = [
  forwardKernel(BN_FORWARD, false),
  forwardKernel(BN_RELU6_FORWARD, true),
  backwardKernel(BN_RELU6_BACKWARD, true),
  backwardKernel(BN_BACKWARD, false),
  {
    kernelName: CLIP_GRAD,
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }: Args) => {
      const ex = kernelsOf(backend, CLIP_GRAD) as NormExports;
      const b = backend as WasmHeapBackend;
      const { x, dy } = inputs as Record<string, tf.TensorInfo>;
      const dx = b.makeOutput((x as tf.TensorInfo).shape, 'float32');
      const n = tf.util.sizeFromShape((x as tf.TensorInfo).shape);
      if (n > 0) ex.clip_grad(offset(b, x as tf.TensorInfo), offset(b, dy as tf.TensorInfo), offset(b, dx), n, attrs.lo as number, attrs.hi as number);
      return dx;
    }) as unknown as tf.KernelFunc,
  },
  {
    kernelName: RELU6_GRAD,
    backendName: 'wasm',
    kernelFunc: (({ inputs, backend }: Args) => {
      const ex = kernelsOf(backend, RELU6_GRAD);
      const b = backend as WasmHeapBackend;
      const { x, dy } = inputs as Record<string, tf.TensorInfo>;
      const dx = b.makeOutput((x as tf.TensorInfo).shape, 'float32');
      const n = tf.util.sizeFromShape((x as tf.TensorInfo).shape);
      if (n > 0) ex.relu6_grad(offset(b, x as tf.TensorInfo), offset(b, dy as tf.TensorInfo), offset(b, dx), n);
      return dx;
    }) as unknown as tf.KernelFunc,
  },
];

let gradientRegistered = false;

function ensureRegistered(): void {
  for (const k of KERNELS) if (!tf.getKernel(k.kernelName, 'wasm')) tf.registerKernel(k);
  if (gradientRegistered) return;
  gradientRegistered = true;
  // ∂x, ∂γ, ∂β at once (computed when tfjs asks for the gradient functions, inside its gradients' tidy,
  // so those it does not take are disposed with it); the μ, r and moving-statistics outputs take no gradient
  tf.registerGradient({
    kernelName: BN_FORWARD,
    inputsToSave: ['x', 'gamma'],
    outputsToSave: [false, true, true, false, false],
    gradFunc: ((dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const dy = Array.isArray(dys) ? (dys[0] as tf.Tensor) : dys;
      const [x, gamma, mean, rstd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const d = simdBatchNormBackward(x, dy, gamma, mean, rstd);
      const zeros = (t: tf.Tensor) => () => tf.zerosLike(t);
      return { x: () => d.dx, gamma: () => d.dgamma, beta: () => d.dbeta, movingMean: zeros(mean), movingVariance: zeros(mean) };
    }) as never,
  });
  tf.registerGradient({
    kernelName: BN_RELU6_FORWARD,
    inputsToSave: ['x', 'gamma', 'beta'],
    outputsToSave: [false, true, true, false, false],
    gradFunc: ((dys: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const dy = Array.isArray(dys) ? (dys[0] as tf.Tensor) : dys;
      const [x, gamma, beta, mean, rstd] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      ensureRegistered();
      const [dx, dgamma, dbeta] = tf.engine().runKernel(BN_RELU6_BACKWARD, { x, dy, gamma, beta, mean, rstd }, {}) as unknown as tf.Tensor[];
      const zeros = (t: tf.Tensor) => () => tf.zerosLike(t);
      return { x: () => dx as tf.Tensor, gamma: () => dgamma as tf.Tensor, beta: () => dbeta as tf.Tensor, movingMean: zeros(mean), movingVariance: zeros(mean) };
    }) as never,
  });
}

/** Whether the SIMD kernels run for these tensors now: wasm, 'auto', float32, the module usable. */
export function normSimdUsable(...tensors: tf.Tensor[]): boolean {
  return tf.getBackend() === 'wasm' && simdKernelsFor(tf.backend(), ...tensors) !== undefined;
}

/** Whether `simdBatchNormTrain` runs for these tensors now (wasm, 'auto', float32, the module usable; per-channel vectors [C]). */
export function simdBatchNormUsable(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, movingMean: tf.Tensor, movingVariance: tf.Tensor): boolean {
  const c = x.shape[x.rank - 1];
  return x.rank >= 2 && [gamma, beta, movingMean, movingVariance].every((t) => t.rank === 1 && t.shape[0] === c) && normSimdUsable(x, gamma, beta, movingMean, movingVariance);
}

/**
 * Training-mode batch norm over the last axis of x by the SIMD kernel, one tfjs kernel call with its
 * gradient registered (∂x, ∂γ, ∂β by the backward kernel from the saved x, γ, μ, r): y, and the
 * moving statistics updated with the batch's μ and biased σ² (m·momentum + batch·(1 − momentum)),
 * for the caller to assign and dispose. Only where `simdBatchNormUsable`.
 */
export function simdBatchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  epsilon: number,
  momentum: number,
): { y: tf.Tensor; movingMean: tf.Tensor; movingVariance: tf.Tensor } {
  ensureRegistered();
  const [y, mean, rstd, nm, nv] = tf.engine().runKernel(BN_FORWARD, { x, gamma, beta, movingMean, movingVariance }, { epsilon, momentum } as never) as unknown as tf.Tensor[];
  tf.dispose([mean as tf.Tensor, rstd as tf.Tensor]); // the tape holds its own references (its saved copies)
  return { y: y as tf.Tensor, movingMean: nm as tf.Tensor, movingVariance: nv as tf.Tensor };
}

/**
 * relu6 of a training-mode batch norm over the last axis of x, as `simdBatchNormTrain` (same μ, σ²,
 * moving statistics) but in one kernel with ReLU6 in its last pass, and one kernel back (the ReLU6
 * gradient inside the batch norm's). Only where `simdBatchNormUsable`.
 */
export function simdBatchNormRelu6Train(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  epsilon: number,
  momentum: number,
): { y: tf.Tensor; movingMean: tf.Tensor; movingVariance: tf.Tensor } {
  ensureRegistered();
  const [y, mean, rstd, nm, nv] = tf.engine().runKernel(BN_RELU6_FORWARD, { x, gamma, beta, movingMean, movingVariance }, { epsilon, momentum } as never) as unknown as tf.Tensor[];
  tf.dispose([mean as tf.Tensor, rstd as tf.Tensor]); // the tape holds its own references (its saved copies)
  return { y: y as tf.Tensor, movingMean: nm as tf.Tensor, movingVariance: nv as tf.Tensor };
}

/** ∂x, ∂γ, ∂β of a training-mode batch norm for upstream gradient dy, from its x, γ, μ and r = 1/√(σ² + ε). Only where `normSimdUsable`. */
export function simdBatchNormBackward(x: tf.Tensor, dy: tf.Tensor, gamma: tf.Tensor, mean: tf.Tensor, rstd: tf.Tensor): { dx: tf.Tensor; dgamma: tf.Tensor; dbeta: tf.Tensor } {
  checkChannels('batch norm gradient', x, [gamma, mean, rstd]);
  if (dy.shape.length !== x.shape.length || dy.shape.some((v, i) => v !== x.shape[i]))
    throw new Error(`batch norm gradient on wasm (forgetless): dy has shape [${dy.shape}], x [${x.shape}]`);
  ensureRegistered();
  const [dx, dgamma, dbeta] = tf.engine().runKernel(BN_BACKWARD, { x, dy, gamma, mean, rstd }, {}) as unknown as tf.Tensor[];
  return { dx: dx as tf.Tensor, dgamma: dgamma as tf.Tensor, dbeta: dbeta as tf.Tensor };
}

/** ReLU6's gradient dy·[0 < x ≤ 6] by the SIMD kernel (x NaN gives 0 where tfjs's gives NaN). Only where `normSimdUsable(x, dy)`. */
export function simdRelu6Grad(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  if (dy.size !== x.size) throw new Error(`ReLU6 gradient on wasm (forgetless): dy has shape [${dy.shape}], x [${x.shape}]`);
  ensureRegistered();
  return tf.engine().runKernel(RELU6_GRAD, { x, dy }, {}) as tf.Tensor;
}

/**
 * ClipByValue's gradient dy·[lo ≤ x ≤ hi] by the SIMD kernel (tfjs's stock one: where(x ≥ lo ∧ x ≤ hi,
 * dy, 0), four slow wasm kernels; stock tfjs-layers' ReLU(max_value) clips). Only where `normSimdUsable(x, dy)`.
 */
export function simdClipGrad(x: tf.Tensor, dy: tf.Tensor, lo: number, hi: number): tf.Tensor {
  if (dy.size !== x.size) throw new Error(`ClipByValue gradient on wasm (forgetless): dy has shape [${dy.shape}], x [${x.shape}]`);
  ensureRegistered();
  return tf.engine().runKernel(CLIP_GRAD, { x, dy }, { lo, hi } as never) as tf.Tensor;
}

/** ReLU6 of x by the SIMD kernel, as a wasm kernel function's output (wasm's Relu6 under 'auto': `wasm-kernels.ts`). */
export function simdRelu6(ex: Exports, backend: unknown, x: tf.TensorInfo): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const y = b.makeOutput(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  if (n > 0) ex.relu6(offset(b, x), offset(b, y), n);
  return y;
}

function checkChannels(what: string, x: tf.Tensor, perChannel: tf.Tensor[]): void {
  const c = x.shape[x.rank - 1];
  for (const t of perChannel) if (t.rank !== 1 || t.shape[0] !== c) throw new Error(`${what} on wasm (forgetless): expected a [${c}] vector per channel, got shape [${t.shape}]`);
}
