/**
 * tfjs's Adam step (`tf.train.adam`: per variable ten element-wise ops, three `assign`s, and the
 * β-power updates) as one kernel call on wasm: each variable takes one pass of `adam_update`
 * (`update-simd.c`), which rounds every product, sum, quotient and square root as tfjs's separate
 * kernels do, so θ, m and v come out bit for bit as `optimizer.applyGradients` leaves them. On
 * MobileNetV2's 158 parameters that is ~2 200 kernel calls fewer per step.
 *
 * Used by `trainStep` only for an optimizer that is exactly tfjs's `AdamOptimizer` (not a subclass,
 * `applyGradients` not replaced), once its moments exist (its first step runs tfjs's own, which
 * creates them) and belong to these variables in this order, with float32 variables and gradients,
 * on wasm where forgetless's SIMD module runs (the 'auto' formulation). Anything else goes through the
 * optimizer's own `applyGradients`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type WasmHeapBackend, heapOffset, simdKernelsFor } from './depthwise-simd.js';
import { rewritten } from './in-place.js';
import { inPlaceFlags, type UpdateExports } from './sgd-wasm.js';

const ADAM_UPDATE = 'ForgetlessAdamUpdate';
const stockApply = tf.AdamOptimizer.prototype.applyGradients;

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };
type Moment = { originalName: string; variable: tf.Variable } | undefined;
type AdamInternals = {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
  accumulatedFirstMoment?: Moment[];
  accumulatedSecondMoment?: Moment[];
  incrementIterations?: () => void;
};

/**
 * Inputs `acc1`, `acc2` (β1ᵗ, β2ᵗ before the step), then `t<i>`, `g<i>`, `m<i>`, `v<i>` per variable;
 * outputs β1ᵗ⁺¹, β2ᵗ⁺¹, then θ', m', v' per variable, each written over θ, m or v instead where attr
 * `inPlace[3i]`, `[3i + 1]` or `[3i + 2]` is 1 (`in-place.ts`; those are not among the outputs).
 */
const config: tf.KernelConfig = {
  kernelName: ADAM_UPDATE,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }: KernelArgs) => {
    const acc1 = inputs.acc1 as tf.TensorInfo;
    const acc2 = inputs.acc2 as tf.TensorInfo;
    const ex = simdKernelsFor(backend, acc1) as unknown as UpdateExports | undefined;
    if (!ex) throw new Error(`${ADAM_UPDATE} (forgetless): the SIMD module does not run here`);
    const b = backend as WasmHeapBackend;
    const f = Math.fround;
    const { n, beta1, beta2, epsilon, learningRate } = attrs as { n: number; beta1: number; beta2: number; epsilon: number; learningRate: number };
    const read = (t: tf.TensorInfo) => new Float32Array(b.wasm.HEAPU8.buffer, heapOffset(b, t), 1)[0] as number;
    const a1 = read(acc1);
    const a2 = read(acc2);
    // as tfjs: sub(1, accBeta) and mul(accBeta, beta) in float32; 1 − β and −lr made float32 scalars
    const out: tf.TensorInfo[] = [b.makeOutput([], 'float32'), b.makeOutput([], 'float32')];
    const heap = new Float32Array(b.wasm.HEAPU8.buffer); // after the allocations (they may grow the memory)
    heap[heapOffset(b, out[0] as tf.TensorInfo) / 4] = f(a1 * f(beta1));
    heap[heapOffset(b, out[1] as tf.TensorInfo) / 4] = f(a2 * f(beta2));
    const args = [f(beta1), f(1 - beta1), f(beta2), f(1 - beta2), f(1 - a1), f(1 - a2), f(epsilon), f(-learningRate)] as const;
    const inPlace = attrs.inPlace as number[];
    for (let i = 0; i < n; i++) {
      const t = inputs[`t${i}`] as tf.TensorInfo;
      // θ, m, v themselves where they may be overwritten (element-wise: each value read before its result is written)
      const [ot, om, ov] = (['t', 'm', 'v'] as const).map((k, j) => (inPlace[3 * i + j] ? (inputs[`${k}${i}`] as tf.TensorInfo) : b.makeOutput(t.shape, 'float32'))) as [
        tf.TensorInfo,
        tf.TensorInfo,
        tf.TensorInfo,
      ];
      const size = tf.util.sizeFromShape(t.shape);
      if (size > 0) {
        const [pt, pg, pm, pv] = ['t', 'g', 'm', 'v'].map((k) => heapOffset(b, inputs[`${k}${i}`] as tf.TensorInfo)) as [number, number, number, number];
        ex.adam_update(pt, pg, pm, pv, heapOffset(b, ot), heapOffset(b, om), heapOffset(b, ov), size, ...args);
      }
      [ot, om, ov].forEach((o, j) => {
        if (inPlace[3 * i + j]) rewritten(backend, o);
        else out.push(o);
      });
    }
    return out;
  }) as unknown as tf.KernelFunc,
};

/**
 * Applies `grads` (one per variable of `vars`, same order) as `optimizer.applyGradients` would, in one
 * kernel where `optimizer` is tfjs's Adam on wasm with forgetless's SIMD module (see the module
 * comment); returns false (nothing done) where it is not, for the caller to call `applyGradients`.
 */
export function adamUpdateInOne(optimizer: tf.Optimizer, vars: readonly tf.Variable[], grads: readonly tf.Tensor[]): boolean {
  if (vars.length === 0 || optimizer.constructor !== tf.AdamOptimizer || (optimizer as { applyGradients: unknown }).applyGradients !== stockApply) return false;
  if (tf.getBackend() !== 'wasm') return false;
  const o = optimizer as unknown as AdamInternals;
  const { accBeta1, accBeta2, accumulatedFirstMoment: ms, accumulatedSecondMoment: vs } = o;
  if (!(accBeta1 instanceof tf.Variable) || !(accBeta2 instanceof tf.Variable) || accBeta1.dtype !== 'float32' || accBeta2.dtype !== 'float32') return false;
  if (!Array.isArray(ms) || !Array.isArray(vs) || typeof o.incrementIterations !== 'function') return false;
  if (![o.beta1, o.beta2, o.epsilon, o.learningRate].every((x) => typeof x === 'number')) return false;
  if (!simdKernelsFor(tf.backend(), accBeta1 as unknown as tf.TensorInfo)) return false;
  const inputs: tf.NamedTensorMap = { acc1: accBeta1, acc2: accBeta2 };
  for (let i = 0; i < vars.length; i++) {
    const v = vars[i] as tf.Variable;
    const g = grads[i] as tf.Tensor | undefined;
    const m = ms[i];
    const s = vs[i];
    // the moments tfjs keeps at index i must be this variable's (its first step creates them)
    if (!m || !s || m.originalName !== `${v.name}/m` || s.originalName !== `${v.name}/v` || m.variable.isDisposed || s.variable.isDisposed) return false;
    if (!g || v.dtype !== 'float32' || g.dtype !== 'float32' || !v.trainable || !tf.util.arraysEqual(g.shape, v.shape)) return false;
    if (m.variable.dtype !== 'float32' || s.variable.dtype !== 'float32' || !tf.util.arraysEqual(m.variable.shape, v.shape) || !tf.util.arraysEqual(s.variable.shape, v.shape))
      return false;
    inputs[`t${i}`] = v;
    inputs[`g${i}`] = g;
    inputs[`m${i}`] = m.variable;
    inputs[`v${i}`] = s.variable;
  }
  // a variable listed twice: tfjs updates it twice in turn, each from the value the one before left
  if (new Set(vars).size !== vars.length) return false;
  if (!tf.getKernel(ADAM_UPDATE, 'wasm')) tf.registerKernel(config);
  // θ, m, v of each variable in order
  const targets = vars.flatMap((v, i) => [v, (ms[i] as NonNullable<Moment>).variable, (vs[i] as NonNullable<Moment>).variable]);
  const inPlace = inPlaceFlags(tf.backend(), targets, true);
  const out = tf.engine().runKernel(ADAM_UPDATE, inputs, {
    n: vars.length,
    beta1: o.beta1,
    beta2: o.beta2,
    epsilon: o.epsilon,
    learningRate: o.learningRate,
    inPlace,
  } as never) as unknown as tf.Tensor[];
  const assign = (target: tf.Variable, value: tf.Tensor) => {
    target.assign(value);
    value.dispose();
  };
  let k = 2;
  targets.forEach((t, j) => {
    if (!inPlace[j]) assign(t, out[k++] as tf.Tensor);
  });
  assign(accBeta1, out[0] as tf.Tensor);
  assign(accBeta2, out[1] as tf.Tensor);
  o.incrementIterations();
  return true;
}
