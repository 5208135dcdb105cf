/**
 * forgetless's WebAssembly SIMD batch norm (last axis: training mode, inference mode, per-example
 * γ/β sums) and ReLU6 gradient kernels
 * (`norm-simd.c`, linked into the depthwise kernels' module: `depthwise-simd.ts` binds it to
 * tfjs-wasm's memory), registered for tfjs-backend-wasm under forgetless's own kernel names and run
 * by `fusedTrainingBatchNorm` (`layers/batch-norm.ts`) and the Relu6 gradient (`gradients.ts`) where
 * the module runs under 'auto' (`simdKernelsFor`); elsewhere those compose tfjs ops as before.
 *
 * On MobileNetV2's step the composed forms ran ~9 full-size element-wise kernels and reductions per
 * batch norm each way and five per ReLU6 gradient, each a separate pass over the data with its own
 * kernel-call cost; these read x twice and write y once (forward), read x and dy twice and write ∂x once (backward), and run one pass (ReLU6).
 *
 * A batch norm whose only consumer is a ReLU6 (Keras MobileNetV2's bn → ReLU(max_value=6)) or a plain
 * ReLU (InceptionV3's and ResNet's bn → Activation('relu')) runs as one kernel each way
 * (`simdBatchNormReluTrain`, chosen by the graph executor; the ReLU's `cap`: 6 or +∞): the forward
 * writes the ReLU of the normalised output, the backward takes the upstream gradient through the
 * ReLU's mask (recomputed from x in the forward's float order) inside the batch norm's two passes; the
 * values are those of the two ops run apart, bit for bit, and each way saves a full pass and a kernel
 * call (three back for a plain ReLU: tfjs's gradient is dy·step(x), a Step, a Cast and a Multiply).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Exports, type WasmHeapBackend, depthwiseSimd, heapOffset, simdKernelsFor, simdThreads, sliced } from './depthwise-simd.js';
import { MIN_SPLIT_VALUES, slicesFor, splitRange } from './kernel-threads.js';
import { movingStatsInPlace, rewritten } from './in-place.js';

const BN_FORWARD = 'ForgetlessBatchNormTrain';
const BN_BACKWARD = 'ForgetlessBatchNormTrainGrad';
const RELU6_GRAD = 'ForgetlessRelu6Grad';
const BN_RELU_FORWARD = 'ForgetlessBatchNormReluTrain';
const BN_RELU_BACKWARD = 'ForgetlessBatchNormReluTrainGrad';
const CLIP_GRAD = 'ForgetlessClipByValueGrad';
const BN_INFER = 'ForgetlessBatchNormInfer';
const BN_INFER_GRAD = 'ForgetlessBatchNormInferGrad';
const BN_EXAMPLE_SUMS = 'ForgetlessBatchNormExampleSums';
const BN_INFER_GRAD_SUMS = 'ForgetlessBatchNormInferGradExampleSums';

/**
 * The fused batch norm + ReLU kernels of `norm-simd.c` (the module's other exports are typed in
 * `depthwise-simd.ts`). `cap`: the ReLU's upper clip, 6 (ReLU6) or +∞ (ReLU); `act` 0 or 1: without or with it.
 */
type NormExports = Exports & {
  bn_relu_forward(x: number, gamma: number, beta: number, out: number, mean: number, variance: number, rstd: number, p: number, c: number, eps: number, cap: number): void;
  bn_relu_backward(
    x: number,
    dy: number,
    gamma: number,
    beta: number,
    mean: number,
    rstd: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    p: number,
    c: number,
    cap: number,
  ): void;
  clip_grad(x: number, dy: number, dx: number, n: number, lo: number, hi: number): void;
  bn_infer_forward(
    x: number,
    gamma: number,
    beta: number,
    mean: number,
    variance: number,
    y: number,
    stats: number,
    p: number,
    c: number,
    eps: number,
    act: number,
    cap: number,
  ): void;
  bn_infer_backward(
    x: number,
    dy: number,
    gamma: number,
    beta: number,
    stats: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    p: number,
    c: number,
    act: number,
    cap: number,
  ): void;
  bn_infer_backward_sums(
    x: number,
    dy: number,
    gamma: number,
    beta: number,
    stats: number,
    dx: number,
    dgamma: number,
    dbeta: number,
    scratch: number,
    sq: number,
    ab: number,
    wts: number,
    n: number,
    p: number,
    c: number,
    act: number,
    cap: number,
  ): void;
  bn_example_sums(
    x: number,
    dy: number,
    mean: number,
    variance: number,
    gamma: number,
    beta: number,
    eps: number,
    scratch: number,
    out: number,
    n: number,
    p: number,
    c: number,
    square: number,
    act: number,
    cap: number,
  ): void;
};

/**
 * The cap of a ReLU fused into a batch norm (attr `cap`): 0 for none; 6 for ReLU6; +∞ for ReLU. `act`
 * and `cap` as the kernels take them (cap > 0 only with act 1).
 */
export type ReluCap = number;
function actCap(cap: unknown): [number, number] {
  const c = typeof cap === 'number' && cap > 0 ? cap : 0;
  return [c > 0 ? 1 : 0, c];
}

type Args = { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown };

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

/**
 * Training-mode batch norm forward (its output through the ReLU capped at attr `cap` when `relu`): y, the batch's statistics
 * [2, C] (row 0 μ, row 1 r = 1/√(σ² + ε): one tensor, so one saved copy for the backward pass), and
 * the updated moving statistics: as two more outputs, or (attr `inPlace` 1) written over the inputs
 * `movingMean` and `movingVariance` themselves (`in-place.ts`).
 */
function forwardKernel(kernelName: string, relu: boolean): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }: Args) => {
      const ex = kernelsOf(backend, kernelName) as NormExports;
      const b = backend as WasmHeapBackend;
      const { x, gamma, beta, movingMean, movingVariance } = inputs as Record<string, tf.TensorInfo>;
      const { p, c } = rowsOf(x as tf.TensorInfo);
      const inPlace = attrs.inPlace === 1;
      const y = b.makeOutput((x as tf.TensorInfo).shape, 'float32');
      const stats = b.makeOutput([2, c], 'float32');
      const newMean = inPlace ? (movingMean as tf.TensorInfo) : b.makeOutput([c], 'float32');
      const newVar = inPlace ? (movingVariance as tf.TensorInfo) : b.makeOutput([c], 'float32');
      const outputs = inPlace ? [y, stats] : [y, stats, newMean, newVar];
      if (p === 0 || c === 0) return outputs;
      // the batch's σ² into scratch (in place) or newVar's buffer
      const scratch = inPlace ? b.wasm._malloc(4 * c) : 0;
      const variance = inPlace ? scratch : heapOffset(b, newVar);
      const cap = actCap(attrs.cap)[1];
      if (relu && !(cap > 0)) throw new Error(`${kernelName} (forgetless): attr cap must be > 0 (6: ReLU6, Infinity: ReLU), got ${String(attrs.cap)}`);
      const args = [
        heapOffset(b, x as tf.TensorInfo),
        heapOffset(b, gamma as tf.TensorInfo),
        heapOffset(b, beta as tf.TensorInfo),
        heapOffset(b, y),
        heapOffset(b, stats),
        variance,
        heapOffset(b, stats) + 4 * c,
        p,
        c,
        attrs.epsilon as number,
      ] as const;
      if (normThreads(b, p, c) > 1) forwardOnThreads(ex, b, ...args, relu ? cap : 0);
      else (relu ? ex.bn_relu_forward : ex.bn_forward)(...args, cap);
      // the moving statistics: m·momentum + batch·(1 − momentum), each value read before it is written
      const heap = new Float32Array(b.wasm.HEAPU8.buffer);
      const mom = attrs.momentum as number;
      const [mu, nm, nv, mm, mv] = [stats, newMean, newVar, movingMean, movingVariance].map((t) => heapOffset(b, t as tf.TensorInfo) / 4) as [
        number,
        number,
        number,
        number,
        number,
      ];
      const bv = variance / 4;
      for (let k = 0; k < c; k++) {
        heap[nm + k] = (heap[mm + k] as number) * mom + (heap[mu + k] as number) * (1 - mom);
        heap[nv + k] = (heap[mv + k] as number) * mom + (heap[bv + k] as number) * (1 - mom);
      }
      if (scratch) {
        b.wasm._free(scratch);
        rewritten(b, newMean);
        rewritten(b, newVar);
      }
      return outputs;
    }) as unknown as tf.KernelFunc,
  };
}

/** Training-mode batch norm backward (dy through the mask of the ReLU capped at attr `cap` first when `relu`): ∂x, ∂γ, ∂β; μ and r packed in `stats` ([2, C]). */
function backwardKernel(kernelName: string, relu: boolean): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }: Args) => {
      const ex = kernelsOf(backend, kernelName) as NormExports;
      const b = backend as WasmHeapBackend;
      const { x, dy, gamma, beta, stats } = inputs as Record<string, tf.TensorInfo>;
      const { p, c } = rowsOf(x as tf.TensorInfo);
      const dx = b.makeOutput((x as tf.TensorInfo).shape, 'float32');
      const [dgamma, dbeta] = [0, 1].map(() => b.makeOutput([c], 'float32')) as [tf.TensorInfo, tf.TensorInfo];
      if (p > 0 && c > 0) {
        const [ox, ody, og, om, odx, odg, odb] = [x, dy, gamma, stats, dx, dgamma, dbeta].map((t) => heapOffset(b, t as tf.TensorInfo)) as [
          number,
          number,
          number,
          number,
          number,
          number,
          number,
        ];
        const cap = actCap(attrs.cap)[1];
        if (relu && !(cap > 0)) throw new Error(`${kernelName} (forgetless): attr cap must be > 0 (6: ReLU6, Infinity: ReLU), got ${String(attrs.cap)}`);
        const obeta = relu ? heapOffset(b, beta as tf.TensorInfo) : 0;
        if (normThreads(b, p, c) > 1) backwardOnThreads(ex, b, ox, ody, og, obeta, om, odx, odg, odb, p, c, relu ? cap : 0);
        else if (relu) ex.bn_relu_backward(ox, ody, og, obeta, om, om + 4 * c, odx, odg, odb, p, c, cap);
        else ex.bn_backward(ox, ody, og, om, om + 4 * c, odx, odg, odb, p, c);
      }
      return [dx, dgamma, dbeta];
    }) as unknown as tf.KernelFunc,
  };
}

/** Threads a training batch norm over p rows of c channels splits over (1: below `MIN_SPLIT_VALUES`, or fewer than 64 rows a thread). */
function normThreads(b: WasmHeapBackend, p: number, c: number): number {
  const t = simdThreads(b);
  return t < 2 || p * c < MIN_SPLIT_VALUES ? 1 : Math.max(1, Math.min(t, Math.floor(p / 64)));
}

/**
 * `bn_forward` / `bn_relu_forward` (cap > 0) with the rows split over the kernel threads: each slice's
 * μ and M2 (`bn_stats`), merged here by Chan et al.'s pairwise update in double precision, then σ² and r
 * as the kernel rounds them, then each slice's y (`bn_apply`). Agrees with one thread within float32
 * rounding of the statistics.
 */
function forwardOnThreads(
  ex: NormExports,
  b: WasmHeapBackend,
  x: number,
  gamma: number,
  beta: number,
  y: number,
  mean: number,
  variance: number,
  rstd: number,
  p: number,
  c: number,
  eps: number,
  cap: number,
): void {
  const parts = splitRange(p, slicesFor(normThreads(b, p, c)), 64);
  const scratch = b.wasm._malloc(4 * 2 * c * parts.length);
  try {
    sliced(
      ex,
      b,
      'bn_stats',
      parts.map(([p0, n], i) => [x + 4 * p0 * c, scratch + 8 * c * i, scratch + 8 * c * i + 4 * c, n, c]),
    );
    const heap = new Float32Array(b.wasm.HEAPU8.buffer);
    const f = Math.fround;
    const inv = f(1 / p);
    for (let k = 0; k < c; k++) {
      let n = 0;
      let mu = 0;
      let m2 = 0;
      for (let i = 0; i < parts.length; i++) {
        const nb = (parts[i] as [number, number])[1];
        const mb = heap[(scratch + 8 * c * i) / 4 + k] as number;
        const m2b = heap[(scratch + 8 * c * i + 4 * c) / 4 + k] as number;
        const d = mb - mu;
        const all = n + nb;
        mu += (d * nb) / all;
        m2 += m2b + (d * d * n * nb) / all;
        n = all;
      }
      const v = f(f(m2) * inv);
      heap[mean / 4 + k] = mu;
      heap[variance / 4 + k] = v;
      heap[rstd / 4 + k] = f(1 / f(Math.sqrt(f(v + eps))));
    }
    sliced(
      ex,
      b,
      'bn_apply',
      parts.map(([p0, n]) => [x + 4 * p0 * c, gamma, beta, y + 4 * p0 * c, mean, rstd, n, c, cap > 0 ? 1 : 0, Math.max(cap, 0)]),
    );
  } finally {
    b.wasm._free(scratch);
  }
}

/**
 * `bn_backward` / `bn_relu_backward` (cap > 0) with the rows split over the kernel threads: each slice's
 * sums (`bn_grad_sums`, δ stored into ∂x under a ReLU), added, ∂γ times r, then each slice's ∂x
 * (`bn_grad_apply`). Agrees with one thread within float32 rounding of the sums.
 */
function backwardOnThreads(
  ex: NormExports,
  b: WasmHeapBackend,
  x: number,
  dy: number,
  gamma: number,
  beta: number,
  stats: number,
  dx: number,
  dgamma: number,
  dbeta: number,
  p: number,
  c: number,
  cap: number,
): void {
  const parts = splitRange(p, slicesFor(normThreads(b, p, c)), 64);
  const act = cap > 0 ? 1 : 0;
  const scratch = b.wasm._malloc(4 * 2 * c * Math.max(1, parts.length - 1));
  const rstd = stats + 4 * c;
  try {
    sliced(
      ex,
      b,
      'bn_grad_sums',
      parts.map(([p0, n], i) => [
        x + 4 * p0 * c,
        dy + 4 * p0 * c,
        gamma,
        beta,
        stats,
        rstd,
        dx + 4 * p0 * c,
        i === 0 ? dgamma : scratch + 8 * c * (i - 1),
        i === 0 ? dbeta : scratch + 8 * c * (i - 1) + 4 * c,
        n,
        c,
        act,
        act ? cap : 0,
      ]),
    );
    for (let i = 1; i < parts.length; i++) {
      ex.add_into(scratch + 8 * c * (i - 1), dgamma, c);
      ex.add_into(scratch + 8 * c * (i - 1) + 4 * c, dbeta, c);
    }
    const heap = new Float32Array(b.wasm.HEAPU8.buffer);
    for (let k = 0; k < c; k++) heap[dgamma / 4 + k] = (heap[dgamma / 4 + k] as number) * (heap[rstd / 4 + k] as number); // Σ δ·(x − μ) → Σ δ·x̂
    const delta = act ? dx : dy;
    sliced(
      ex,
      b,
      'bn_grad_apply',
      parts.map(([p0, n]) => [x + 4 * p0 * c, delta + 4 * p0 * c, gamma, stats, rstd, dgamma, dbeta, dx + 4 * p0 * c, n, p, c]),
    );
  } finally {
    b.wasm._free(scratch);
  }
}

/**
 * `fn` with γ and β on the heap: the tensors' own memory, or (a batch norm without scale or center)
 * C ones or zeros in scratch memory freed after.
 */
function withAffine<T>(b: WasmHeapBackend, c: number, gamma: tf.TensorInfo | undefined, beta: tf.TensorInfo | undefined, fn: (og: number, ob: number) => T): T {
  const scratch = gamma && beta ? 0 : b.wasm._malloc(2 * c * 4);
  try {
    if (scratch) {
      const heap = new Float32Array(b.wasm.HEAPU8.buffer, scratch, 2 * c);
      heap.fill(1, 0, c);
      heap.fill(0, c);
    }
    return fn(gamma ? heapOffset(b, gamma) : scratch, beta ? heapOffset(b, beta) : scratch + 4 * c);
  } finally {
    if (scratch) b.wasm._free(scratch);
  }
}

/**
 * Inference-mode batch norm forward with the moving statistics (through the ReLU capped at `attrs.cap` when it is > 0): y
 * and [2, C] (μ, r = 1/√(σ² + ε)). γ (scale) and β (center) may be absent: 1 and 0.
 */
const inferForward: tf.KernelConfig = {
  kernelName: BN_INFER,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }: Args) => {
    const ex = kernelsOf(backend, BN_INFER) as NormExports;
    const b = backend as WasmHeapBackend;
    const { x, gamma, beta, movingMean, movingVariance } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { p, c } = rowsOf(x as tf.TensorInfo);
    const y = b.makeOutput((x as tf.TensorInfo).shape, 'float32');
    const stats = b.makeOutput([2, c], 'float32');
    if (c === 0) return [y, stats];
    const [ox, om, ov] = [x, movingMean, movingVariance].map((t) => heapOffset(b, t as tf.TensorInfo)) as [number, number, number];
    // rows split over the kernel threads where the call is large enough (the same values, bit for bit; every slice
    // computes the [2, C] statistics, the first into the output, the others each into its own scratch)
    const parts = splitRange(p, slicesFor(normThreads(b, p, c)), 64);
    const scratch = parts.length > 1 ? b.wasm._malloc(4 * 2 * c * (parts.length - 1)) : 0;
    try {
      withAffine(b, c, gamma, beta, (og, ob) =>
        sliced(
          ex,
          b,
          'bn_infer_forward',
          parts.map(([p0, k], i) => [
            ox + 4 * p0 * c,
            og,
            ob,
            om,
            ov,
            heapOffset(b, y) + 4 * p0 * c,
            i === 0 ? heapOffset(b, stats) : scratch + 8 * c * (i - 1),
            k,
            c,
            attrs.epsilon as number,
            ...actCap(attrs.cap),
          ]),
        ),
      );
    } finally {
      if (scratch) b.wasm._free(scratch);
    }
    return [y, stats];
  }) as unknown as tf.KernelFunc,
};

/**
 * Inference-mode batch norm backward (dy through the capped ReLU's mask first when `attrs.cap` > 0): ∂x, ∂γ, ∂β
 * from x, γ, β (either may be absent: 1 and 0) and the forward's [2, C] statistics.
 */
const inferBackward: tf.KernelConfig = {
  kernelName: BN_INFER_GRAD,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }: Args) => {
    const ex = kernelsOf(backend, BN_INFER_GRAD) as NormExports;
    const b = backend as WasmHeapBackend;
    const { x, dy, gamma, beta, stats } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { p, c } = rowsOf(x as tf.TensorInfo);
    const dx = b.makeOutput((x as tf.TensorInfo).shape, 'float32');
    const [dgamma, dbeta] = [0, 1].map(() => b.makeOutput([c], 'float32')) as [tf.TensorInfo, tf.TensorInfo];
    if (c > 0) {
      const [ox, ody, os] = [x, dy, stats].map((t) => heapOffset(b, t as tf.TensorInfo)) as [number, number, number];
      // rows split over the kernel threads where the call is large enough: ∂x the same to the bit; each slice's ∂γ, ∂β apart, then added
      const parts = splitRange(p, slicesFor(normThreads(b, p, c), 2), 64);
      const scratch = parts.length > 1 ? b.wasm._malloc(4 * 2 * c * (parts.length - 1)) : 0;
      try {
        withAffine(b, c, gamma, beta, (og, ob) =>
          sliced(
            ex,
            b,
            'bn_infer_backward',
            parts.map(([p0, k], i) => [
              ox + 4 * p0 * c,
              ody + 4 * p0 * c,
              og,
              ob,
              os,
              heapOffset(b, dx) + 4 * p0 * c,
              i === 0 ? heapOffset(b, dgamma) : scratch + 8 * c * (i - 1),
              i === 0 ? heapOffset(b, dbeta) : scratch + 8 * c * (i - 1) + 4 * c,
              k,
              c,
              ...actCap(attrs.cap),
            ]),
          ),
        );
        for (let i = 1; i < parts.length; i++) {
          ex.add_into(scratch + 8 * c * (i - 1), heapOffset(b, dgamma), c);
          ex.add_into(scratch + 8 * c * (i - 1) + 4 * c, heapOffset(b, dbeta), c);
        }
      } finally {
        if (scratch) b.wasm._free(scratch);
      }
    }
    return [dx, dgamma, dbeta];
  }) as unknown as tf.KernelFunc,
};

/**
 * Σ_n stat(g_n) of an inference-mode batch norm's γ and β over the examples of a batch: [2, C] (row 0 γ,
 * row 1 β). With `attrs.cap` > 0, dy is the gradient at the output of the ReLU (capped there) fused into the batch norm,
 * taken through its mask (from x and γ, β: either may be absent, 1 and 0).
 */
const exampleSums: tf.KernelConfig = {
  kernelName: BN_EXAMPLE_SUMS,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }: Args) => {
    const ex = kernelsOf(backend, BN_EXAMPLE_SUMS) as NormExports;
    const b = backend as WasmHeapBackend;
    const { x, dy, movingMean, movingVariance, gamma, beta } = inputs as Record<string, tf.TensorInfo | undefined>;
    const xs = (x as tf.TensorInfo).shape;
    const c = xs[xs.length - 1] as number;
    const n = xs[0] as number;
    const out = b.makeOutput([2, c], 'float32');
    if (c === 0) return out;
    const p = n === 0 ? 0 : tf.util.sizeFromShape(xs) / (n * c);
    const scratch = b.wasm._malloc(3 * c * 4);
    try {
      const [ox, ody, om, ov] = [x, dy, movingMean, movingVariance].map((t) => heapOffset(b, t as tf.TensorInfo)) as [number, number, number, number];
      const square = attrs.stat === 'square' ? 1 : 0;
      const [act, cap] = actCap(attrs.cap);
      if (act)
        withAffine(b, c, gamma, beta, (og, ob) => ex.bn_example_sums(ox, ody, om, ov, og, ob, attrs.epsilon as number, scratch, heapOffset(b, out), n, p, c, square, 1, cap));
      else ex.bn_example_sums(ox, ody, om, ov, 0, 0, attrs.epsilon as number, scratch, heapOffset(b, out), n, p, c, square, 0, 0);
    } finally {
      b.wasm._free(scratch);
    }
    return out;
  }) as unknown as tf.KernelFunc,
};

/**
 * `inferBackward` and the per-example γ/β sums of `exampleSums` in one pass over x and dy: ∂x, ∂γ, ∂β,
 * then one [2, C] output per statistic asked for (attrs `square`, `abs`; in that order), the same to
 * the bit as `exampleSums` gives them. ∂γ and ∂β are summed example by example (the same up to rounding).
 * An input `weights` ([N] float32) weights the squares, Σ_n w_n·g_n² (not the absolute values).
 */
const inferBackwardSums: tf.KernelConfig = {
  kernelName: BN_INFER_GRAD_SUMS,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }: Args) => {
    const ex = kernelsOf(backend, BN_INFER_GRAD_SUMS) as NormExports;
    const b = backend as WasmHeapBackend;
    const { x, dy, gamma, beta, stats, weights } = inputs as Record<string, tf.TensorInfo | undefined>;
    const xs = (x as tf.TensorInfo).shape;
    const c = xs[xs.length - 1] as number;
    const n = xs[0] as number;
    if (weights && (weights.dtype !== 'float32' || weights.shape.length !== 1 || weights.shape[0] !== n)) {
      throw new Error(`${BN_INFER_GRAD_SUMS} (forgetless): weights must be float32 of shape [${n}] (one per example), got ${weights.dtype} [${weights.shape}]`);
    }
    const dx = b.makeOutput(xs, 'float32');
    const [dgamma, dbeta] = [0, 1].map(() => b.makeOutput([c], 'float32')) as [tf.TensorInfo, tf.TensorInfo];
    const sq = attrs.square ? b.makeOutput([2, c], 'float32') : undefined;
    const ab = attrs.abs ? b.makeOutput([2, c], 'float32') : undefined;
    const outputs = [dx, dgamma, dbeta, ...(sq ? [sq] : []), ...(ab ? [ab] : [])];
    if (c === 0) return outputs;
    const p = n === 0 ? 0 : tf.util.sizeFromShape(xs) / (n * c);
    // examples split over the kernel threads where the call is large enough: ∂x the same to the bit; each slice's
    // ∂γ, ∂β and per-example sums apart (6C floats after its 2C of scratch), then added
    const t = Math.min(normThreads(b, n * p, c), n);
    const parts = t < 2 ? [[0, n] as [number, number]] : splitRange(n, t);
    const scratch = b.wasm._malloc(4 * 8 * c * parts.length);
    try {
      const [ox, ody, os] = [x, dy, stats].map((v) => heapOffset(b, v as tf.TensorInfo)) as [number, number, number];
      const own = (i: number, j: number) => scratch + 4 * c * (8 * i + 2 + 2 * j); // slice i's ∂γ (j 0), ∂β (j 0.5), sq (j 1), ab (j 2)
      const outs = (i: number) =>
        i === 0
          ? [heapOffset(b, dgamma), heapOffset(b, dbeta), sq ? heapOffset(b, sq) : 0, ab ? heapOffset(b, ab) : 0]
          : [own(i, 0), own(i, 0.5), sq ? own(i, 1) : 0, ab ? own(i, 2) : 0];
      withAffine(b, c, gamma, beta, (og, ob) =>
        sliced(
          ex,
          b,
          'bn_infer_backward_sums',
          parts.map(([e0, k], i) => {
            const [g, be, s2, a1] = outs(i) as [number, number, number, number];
            return [
              ox + 4 * e0 * p * c,
              ody + 4 * e0 * p * c,
              og,
              ob,
              os,
              heapOffset(b, dx) + 4 * e0 * p * c,
              g,
              be,
              scratch + 4 * c * 8 * i,
              s2,
              a1,
              sq && weights ? heapOffset(b, weights) + 4 * e0 : 0,
              k,
              p,
              c,
              ...actCap(attrs.cap),
            ];
          }),
        ),
      );
      for (let i = 1; i < parts.length; i++) {
        const [g, be, s2, a1] = outs(i) as [number, number, number, number];
        ex.add_into(g, heapOffset(b, dgamma), c);
        ex.add_into(be, heapOffset(b, dbeta), c);
        if (sq) ex.add_into(s2, heapOffset(b, sq), 2 * c);
        if (ab) ex.add_into(a1, heapOffset(b, ab), 2 * c);
      }
    } finally {
      b.wasm._free(scratch);
    }
    return outputs;
  }) as unknown as tf.KernelFunc,
};

const KERNELS: tf.KernelConfig[] = [
  inferForward,
  inferBackward,
  inferBackwardSums,
  exampleSums,
  forwardKernel(BN_FORWARD, false),
  forwardKernel(BN_RELU_FORWARD, true),
  backwardKernel(BN_RELU_BACKWARD, true),
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
      if (n > 0) ex.clip_grad(heapOffset(b, x as tf.TensorInfo), heapOffset(b, dy as tf.TensorInfo), heapOffset(b, dx), n, attrs.lo as number, attrs.hi as number);
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
      if (n > 0) ex.relu6_grad(heapOffset(b, x as tf.TensorInfo), heapOffset(b, dy as tf.TensorInfo), heapOffset(b, dx), n);
      return dx;
    }) as unknown as tf.KernelFunc,
  },
];

let registered = false;

/**
 * Registers the kernels (once; again only if something unregistered them: one registry look-up a
 * call, where checking all six cost a step of MobileNetV2 ~600 look-ups).
 */
export function ensureNormKernels(): void {
  if (registered && tf.getKernel(BN_FORWARD, 'wasm')) return;
  for (const k of KERNELS) if (!tf.getKernel(k.kernelName, 'wasm')) tf.registerKernel(k);
  registered = true;
}

/**
 * The training-mode batch norm forward kernel (`cap` > 0: fused with the ReLU capped there) as one differentiable op
 * with a single output y: a `tf.customGrad` whose forward runs the four-output kernel untaped, saves
 * x, the [2, C] statistics (μ, r) and γ (and β for the ReLU's mask) for the backward kernel, and keeps
 * the updated moving statistics for the caller (who assigns and disposes them). As a gradient
 * registered for the kernel itself (until 2026-11-30), its other outputs (then μ, r and the moving
 * statistics apart) made tfjs build a zero tensor for each absent upstream gradient in every backward
 * pass, and each saved copy of an output not yet known to depend on the parameters costs tfjs's tape
 * filter a scan of every variable: with one output and one statistics tensor, a MobileNetV2 step
 * runs ~360 tensors and ~16 k of those look-ups fewer.
 */
function batchNormTrainOp(
  cap: ReluCap,
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  epsilon: number,
  momentum: number,
): TrainOutputs {
  ensureNormKernels();
  let newMean: tf.Tensor | undefined;
  let newVar: tf.Tensor | undefined;
  // variables (never plain tensors, which tfjs keeps immutable) held by nothing else are updated in place
  const backend = tf.backend();
  const inPlace = movingStatsInPlace(backend, movingMean, movingVariance);
  const relu = cap > 0;
  const op = tf.customGrad(((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, stats, nm, nv] = tf.engine().runKernel(relu ? BN_RELU_FORWARD : BN_FORWARD, { x: xi, gamma: g, beta: b, movingMean, movingVariance }, {
      epsilon,
      momentum,
      inPlace: inPlace ? 1 : 0,
      ...(relu ? { cap } : {}),
    } as never) as unknown as tf.Tensor[];
    // kept: customGrad's forward runs in a tidy that keeps only its value (the statistics live on as the saved copy)
    if (!inPlace) {
      newMean = tf.keep(nm as tf.Tensor);
      newVar = tf.keep(nv as tf.Tensor);
    }
    // β only where the ReLU's mask needs it (recomputed from x, γ, β)
    save(relu ? [xi, stats as tf.Tensor, g, b] : [xi, stats as tf.Tensor, g]);
    return {
      value: y as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, st, sg, sb] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const [dx, dgamma, dbeta] = tf
          .engine()
          .runKernel(
            relu ? BN_RELU_BACKWARD : BN_BACKWARD,
            relu ? { x: sx, dy, gamma: sg, beta: sb as tf.Tensor, stats: st } : { x: sx, dy, gamma: sg, stats: st },
            (relu ? { cap } : {}) as never,
          ) as unknown as tf.Tensor[];
        return [dx as tf.Tensor, dgamma as tf.Tensor, dbeta as tf.Tensor];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const y = op(x, gamma, beta) as tf.Tensor;
  return newMean && newVar ? { y, movingMean: newMean, movingVariance: newVar } : { y };
}

/**
 * A training-mode batch norm's output y and its updated moving statistics, for the caller to assign
 * and dispose; absent where the kernel wrote them over the moving statistics' own memory (variables
 * that no other tensor shares, `in-place.ts`).
 */
export interface TrainOutputs {
  y: tf.Tensor;
  movingMean?: tf.Tensor;
  movingVariance?: tf.Tensor;
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
 * Training-mode batch norm over the last axis of x by the SIMD kernel, one tfjs kernel call in a
 * custom gradient (∂x, ∂γ, ∂β by the backward kernel from the saved x, γ, μ, r): y, and the
 * moving statistics updated with the batch's μ and biased σ² (m·momentum + batch·(1 − momentum)),
 * for the caller to assign and dispose (`TrainOutputs`: variables that nothing else shares are
 * updated in place instead). Only where `simdBatchNormUsable`.
 */
export function simdBatchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  epsilon: number,
  momentum: number,
): TrainOutputs {
  return batchNormTrainOp(0, x, gamma, beta, movingMean, movingVariance, epsilon, momentum);
}

/**
 * min(max(y, 0), cap) of a training-mode batch norm y over the last axis of x (cap 6: ReLU6, +∞:
 * ReLU), as `simdBatchNormTrain` (same μ, σ², moving statistics) but in one kernel with the ReLU in
 * its last pass, and one kernel back (the ReLU's gradient inside the batch norm's). Only where
 * `simdBatchNormUsable`.
 */
export function simdBatchNormReluTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  epsilon: number,
  momentum: number,
  cap: ReluCap,
): TrainOutputs {
  if (!(cap > 0)) throw new Error(`simdBatchNormReluTrain: cap must be > 0 (6: ReLU6, Infinity: ReLU), got ${cap}`);
  return batchNormTrainOp(cap, x, gamma, beta, movingMean, movingVariance, epsilon, momentum);
}

let inferenceOn = true;
let exampleSumsOn = true;

/**
 * Turns the inference-mode batch norm kernels off (false: inference composes tfjs ops, as before
 * them) or back on; for same-process before/after benchmarks and tests.
 */
export function setSimdBatchNormInference(on: boolean): void {
  inferenceOn = on;
}

/**
 * Turns the importances' kernels off (false: `batchNormExampleSums`, `convPerExampleSum` and
 * `tapAbsSums` return undefined and the callers' own formulations serve, as before them) or back on;
 * for same-process before/after benchmarks and tests.
 */
export function setSimdPerExampleSums(on: boolean): void {
  exampleSumsOn = on;
}

/** Whether `setSimdPerExampleSums` left the per-example sums kernels on. */
export function simdPerExampleSumsOn(): boolean {
  return exampleSumsOn;
}

/** Whether `simdBatchNormInfer` runs for these tensors now (wasm, 'auto', float32, the module usable; per-channel vectors [C], γ and β optional). */
export function simdBatchNormInferUsable(x: tf.Tensor, gamma: tf.Tensor | undefined, beta: tf.Tensor | undefined, movingMean: tf.Tensor, movingVariance: tf.Tensor): boolean {
  const c = x.shape[x.rank - 1];
  const vectors = [gamma, beta, movingMean, movingVariance].filter((t): t is tf.Tensor => t !== undefined);
  return inferenceOn && x.rank >= 2 && vectors.every((t) => t.rank === 1 && t.shape[0] === c) && normSimdUsable(x, ...vectors);
}

/**
 * A request, from the per-example importances, for an inference-mode batch norm's per-example γ/β sums
 * (`batchNormExampleSums`' values, to the bit) computed inside its backward kernel, which reads x and
 * the upstream gradient anyway: one pass over both instead of two. `deliver` receives, when that
 * backward runs, one [2, C] tensor per statistic (row 0 γ, row 1 β), kept: the receiver disposes them.
 * Nothing is delivered where the SIMD kernels do not run (the caller computes the sums itself).
 * `weights` ([N], the batch's examples, float32): the squares weighted, Σ_n w_n·g_n² (the exact
 * Fisher's p(k|x_n)); the absolute values are not weighted.
 */
export interface BatchNormSumsRequest {
  readonly stats: readonly ('square' | 'abs')[];
  readonly weights?: tf.Tensor1D;
  deliver(sums: Partial<Record<'square' | 'abs', tf.Tensor2D>>): void;
}

/**
 * An inference-mode batch norm over the last axis of x with the moving statistics μ, σ² (min(max(·, 0), cap)
 * of it when `cap` > 0: 6 ReLU6, +∞ ReLU) by the SIMD kernels: y = (x − μ)·(γ·r) + β, r = 1/√(σ² + ε), in one kernel call, and
 * (a custom gradient from the saved x, γ, β and the [2, C] statistics) ∂x = δ·γ·r, ∂γ = Σ δ·x̂,
 * ∂β = Σ δ in one more, δ the upstream gradient (through the ReLU's mask when `cap` > 0). γ or β may be
 * absent (a batch norm without scale or center: 1 and 0). tfjs's ops take four full-size passes
 * forward and about six back. Where no gradient is being recorded, the kernel runs without the custom
 * gradient's wrapper. Only where `simdBatchNormInferUsable`.
 */
export function simdBatchNormInfer(
  x: tf.Tensor,
  gamma: tf.Tensor | undefined,
  beta: tf.Tensor | undefined,
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  epsilon: number,
  cap: ReluCap,
  sums?: BatchNormSumsRequest,
): tf.Tensor {
  const w = sums?.weights;
  if (w && (w.rank !== 1 || w.shape[0] !== x.shape[0])) {
    throw new Error(`batch norm per-example sums (forgetless): weights must have shape [${x.shape[0]}] (one per example of x [${x.shape}]), got [${w.shape}]`);
  }
  ensureNormKernels();
  const affine = (g: tf.Tensor | undefined, b: tf.Tensor | undefined) => ({ ...(g ? { gamma: g } : {}), ...(b ? { beta: b } : {}) });
  const run = (xi: tf.Tensor, g: tf.Tensor | undefined, b: tf.Tensor | undefined) =>
    tf.engine().runKernel(BN_INFER, { x: xi, ...affine(g, b), movingMean, movingVariance }, { epsilon, cap } as never) as unknown as [tf.Tensor, tf.Tensor];
  if (!((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0)) {
    const [y, stats] = run(x, gamma, beta);
    stats.dispose();
    return y;
  }
  // the op's inputs: x, then γ and β where present
  const op = tf.customGrad(((...args: tf.Tensor[]) => {
    const save = args.pop() as unknown as tf.GradSaveFunc;
    const [xi, ...rest] = args as [tf.Tensor, ...tf.Tensor[]];
    const g = gamma ? rest.shift() : undefined;
    const b = beta ? rest.shift() : undefined;
    const [y, stats] = run(xi, g, b);
    save([xi, stats, ...(g ? [g] : []), ...(b ? [b] : [])]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, st, ...sr] = saved as [tf.Tensor, tf.Tensor, ...tf.Tensor[]];
        const sg = gamma ? sr.shift() : undefined;
        const sb = beta ? sr.shift() : undefined;
        // the per-example sums asked for, in the same pass (when the kernel can run them: exampleSumsOn, batched x)
        const wanted = sums && exampleSumsOn && sx.rank >= 2 ? sums.stats : [];
        const weights = wanted.includes('square') ? sums?.weights : undefined;
        const inputs = { x: sx, dy, ...affine(sg, sb), stats: st, ...(weights ? { weights: weights.dtype === 'float32' ? weights : tf.cast(weights, 'float32') } : {}) };
        const [dx, dg, db, ...rest] =
          wanted.length > 0
            ? (tf.engine().runKernel(BN_INFER_GRAD_SUMS, inputs, { cap, square: wanted.includes('square'), abs: wanted.includes('abs') } as never) as unknown as tf.Tensor[])
            : (tf.engine().runKernel(BN_INFER_GRAD, inputs, { cap } as never) as unknown as tf.Tensor[]);
        if (sums && wanted.length > 0) {
          const result: Partial<Record<'square' | 'abs', tf.Tensor2D>> = {};
          for (const stat of ['square', 'abs'] as const) if (wanted.includes(stat)) result[stat] = tf.keep(rest.shift() as tf.Tensor2D);
          sums.deliver(result);
        }
        const out = [dx as tf.Tensor];
        if (gamma) out.push(dg as tf.Tensor);
        else (dg as tf.Tensor).dispose();
        if (beta) out.push(db as tf.Tensor);
        else (db as tf.Tensor).dispose();
        return out;
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])) as tf.Tensor;
}

/**
 * Σ_n stat(g_n) over the examples n of a batch of an inference-mode batch norm's γ and β (moving
 * statistics, last axis), g_γ,n = Σ δ_n·x̂_n and g_β,n = Σ δ_n over example n's positions, stat the
 * square or the absolute value: [2, C], row 0 for γ, row 1 for β, by one SIMD kernel call (one read
 * of x and dy, no per-example tensors). x, dy: [N, …, C]. With `relu`, dy is the gradient at the
 * output of a ReLU capped at `relu.cap` (6, the default: ReLU6; +∞: ReLU) fused into the batch norm (`simdBatchNormInfer(…, cap)`:
 * a tap after it) and δ_n is dy through that ReLU's mask, from x and the batch norm's γ and β (either may be
 * absent: 1 and 0) as its forward computes them. Undefined where the kernels do not run (`normSimdUsable`).
 */
export function batchNormExampleSums(
  x: tf.Tensor,
  dy: tf.Tensor,
  movingMean: tf.Tensor,
  movingVariance: tf.Tensor,
  epsilon: number,
  stat: 'square' | 'abs',
  relu?: { cap?: ReluCap; gamma?: tf.Tensor; beta?: tf.Tensor },
): tf.Tensor2D | undefined {
  const c = x.shape[x.rank - 1] as number;
  if (!exampleSumsOn || x.rank < 2 || dy.rank !== x.rank || dy.shape.some((v, i) => v !== x.shape[i]) || movingMean.size !== c || movingVariance.size !== c) return undefined;
  const cap = relu ? (relu.cap ?? 6) : 0;
  if (relu && !(cap > 0)) throw new Error(`batchNormExampleSums: relu.cap must be > 0 (6: ReLU6, Infinity: ReLU), got ${relu.cap}`);
  const affine = relu ? [relu.gamma, relu.beta].filter((t): t is tf.Tensor => t !== undefined) : [];
  if (affine.some((t) => t.size !== c) || !normSimdUsable(x, dy, movingMean, movingVariance, ...affine)) return undefined;
  ensureNormKernels();
  const inputs = { x, dy, movingMean, movingVariance, ...(relu?.gamma ? { gamma: relu.gamma } : {}), ...(relu?.beta ? { beta: relu.beta } : {}) };
  return tf.engine().runKernel(BN_EXAMPLE_SUMS, inputs, { epsilon, stat, cap } as never) as tf.Tensor2D;
}

/** ReLU6's gradient dy·[0 < x ≤ 6] by the SIMD kernel (x NaN gives 0 where tfjs's gives NaN). Only where `normSimdUsable(x, dy)`. */
export function simdRelu6Grad(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  if (dy.size !== x.size) throw new Error(`ReLU6 gradient on wasm (forgetless): dy has shape [${dy.shape}], x [${x.shape}]`);
  ensureNormKernels();
  return tf.engine().runKernel(RELU6_GRAD, { x, dy }, {}) as tf.Tensor;
}

/**
 * ClipByValue's gradient dy·[lo ≤ x ≤ hi] by the SIMD kernel (tfjs's stock one: where(x ≥ lo ∧ x ≤ hi,
 * dy, 0), four slow wasm kernels; stock tfjs-layers' ReLU(max_value) clips). Only where `normSimdUsable(x, dy)`.
 */
export function simdClipGrad(x: tf.Tensor, dy: tf.Tensor, lo: number, hi: number): tf.Tensor {
  if (dy.size !== x.size) throw new Error(`ClipByValue gradient on wasm (forgetless): dy has shape [${dy.shape}], x [${x.shape}]`);
  ensureNormKernels();
  return tf.engine().runKernel(CLIP_GRAD, { x, dy }, { lo, hi } as never) as tf.Tensor;
}

/** ReLU6 of x by the SIMD kernel, as a wasm kernel function's output (wasm's Relu6 under 'auto': `wasm-kernels.ts`). */
export function simdRelu6(ex: Exports, backend: unknown, x: tf.TensorInfo): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const y = b.makeOutput(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  if (n > 0) ex.relu6(heapOffset(b, x), heapOffset(b, y), n);
  return y;
}
