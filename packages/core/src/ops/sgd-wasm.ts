/**
 * tfjs's plain SGD step (`tf.train.sgd`: θ ← θ + c·g with c = −lr, one `tidy`, a Multiply, an Add and
 * an `assign` per variable) as one kernel call on wasm. Where forgetless's SIMD module runs (the 'auto'
 * formulation) each variable takes one pass of `sgd_update` (`update-simd.c`: c·g then + θ, each
 * rounded as tfjs's two kernels round it); elsewhere tfjs-backend-wasm's own Multiply and Add kernels,
 * called directly. Either way every value is bit for bit what `optimizer.applyGradients` computes;
 * what goes is the engine's bookkeeping of ~3 kernel calls, a scope and four tensors per variable, and
 * with the module two of three passes over memory and XNNPACK's per-call operator setup (on
 * MobileNetV2's 158 parameters, ~2–3 ms of a 50 ms step).
 * Used by `trainStep` only for an optimizer that is exactly tfjs's `SGDOptimizer` (not a subclass,
 * `applyGradients` not replaced on the instance or the class), float32 variables and gradients, on wasm;
 * anything else goes through the optimizer's own `applyGradients`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type WasmHeapBackend, heapOffset, simdKernelsFor } from './depthwise-simd.js';
import { overwritable, rewritten } from './in-place.js';

/** The update kernels of `update-simd.c` (the module's other exports are typed in `depthwise-simd.ts`). */
export type UpdateExports = {
  sgd_update(theta: number, g: number, out: number, n: number, c: number): void;
  adam_update(
    theta: number,
    g: number,
    m: number,
    v: number,
    ot: number,
    om: number,
    ov: number,
    n: number,
    b1: number,
    omb1: number,
    b2: number,
    omb2: number,
    omab1: number,
    omab2: number,
    eps: number,
    neglr: number,
  ): void;
};

const SGD_UPDATE = 'ForgetlessSgdUpdate';
/** tfjs's own SGD step, as loaded: one replaced since (on the instance or the class) is called instead. */
const stockApply = tf.SGDOptimizer.prototype.applyGradients;

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };
type StockKernel = (args: KernelArgs) => tf.TensorInfo;

/**
 * Inputs `c` (the optimizer's −lr scalar), `v0`, `g0`, `v1`, `g1`, …; v_i + c·g_i written over v_i
 * where attr `inPlace[i]` is 1 (`in-place.ts`), otherwise returned as a new output: the outputs are
 * those of the others, in order.
 */
const config: tf.KernelConfig = {
  kernelName: SGD_UPDATE,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }: KernelArgs) => {
    const c = inputs.c as tf.TensorInfo;
    const n = attrs.n as number;
    const inPlace = attrs.inPlace as number[];
    const out: tf.TensorInfo[] = [];
    const simd = simdKernelsFor(backend, c) as (UpdateExports & object) | undefined;
    if (simd) {
      const h = backend as WasmHeapBackend;
      const cValue = new Float32Array(h.wasm.HEAPU8.buffer, heapOffset(h, c), 1)[0] as number;
      for (let i = 0; i < n; i++) {
        const v = inputs[`v${i}`] as tf.TensorInfo;
        const next = inPlace[i] ? v : h.makeOutput(v.shape, 'float32');
        const size = tf.util.sizeFromShape(v.shape);
        // element-wise, each value read before its result is written: the output may be θ itself
        if (size > 0) simd.sgd_update(heapOffset(h, v), heapOffset(h, inputs[`g${i}`] as tf.TensorInfo), heapOffset(h, next), size, cValue);
        if (inPlace[i]) rewritten(backend, v);
        else out.push(next);
      }
      return out;
    }
    const mul = tf.getKernel('Multiply', 'wasm')?.kernelFunc as unknown as StockKernel | undefined;
    const add = tf.getKernel('Add', 'wasm')?.kernelFunc as unknown as StockKernel | undefined;
    if (!mul || !add) throw new Error(`${SGD_UPDATE} (forgetless): wasm has no Multiply or Add kernel`);
    const b = backend as { disposeData(id: unknown, force?: boolean): boolean };
    // (without the module nothing is updated in place: `sgdUpdateInOne` asks for it only with the module)
    for (let i = 0; i < n; i++) {
      // tfjs's SGD: add(mul(c, gradient), value)
      const step = mul({ inputs: { a: c, b: inputs[`g${i}`] as tf.TensorInfo }, backend, attrs: {} });
      out.push(add({ inputs: { a: step, b: inputs[`v${i}`] as tf.TensorInfo }, backend, attrs: {} }));
      b.disposeData(step.dataId);
    }
    return out;
  }) as unknown as tf.KernelFunc,
};

/**
 * Applies `grads` (one per variable of `vars`, same order) with `optimizer` as its `applyGradients`
 * would, in one kernel where `optimizer` is tfjs's plain SGD on wasm; returns false (nothing done)
 * where it is not, for the caller to call `applyGradients`.
 */
export function sgdUpdateInOne(optimizer: tf.Optimizer, vars: readonly tf.Variable[], grads: readonly tf.Tensor[]): boolean {
  if (vars.length === 0 || optimizer.constructor !== tf.SGDOptimizer || (optimizer as { applyGradients: unknown }).applyGradients !== stockApply) return false;
  if (tf.getBackend() !== 'wasm') return false;
  const o = optimizer as unknown as { c?: tf.Tensor; incrementIterations?: () => void };
  const c = o.c;
  if (!(c instanceof tf.Tensor) || c.isDisposed || c.dtype !== 'float32' || typeof o.incrementIterations !== 'function') return false;
  for (let i = 0; i < vars.length; i++) {
    const v = vars[i] as tf.Variable;
    const g = grads[i] as tf.Tensor | undefined;
    if (!g || v.dtype !== 'float32' || g.dtype !== 'float32' || !tf.util.arraysEqual(g.shape, v.shape) || !v.trainable) return false;
  }
  // a variable listed twice: tfjs updates it twice in turn, each from the value the one before left
  if (new Set(vars).size !== vars.length) return false;
  if (!tf.getKernel(SGD_UPDATE, 'wasm')) tf.registerKernel(config);
  const inputs: tf.NamedTensorMap = { c };
  for (let i = 0; i < vars.length; i++) {
    inputs[`v${i}`] = vars[i] as tf.Variable;
    inputs[`g${i}`] = grads[i] as tf.Tensor;
  }
  const inPlace = inPlaceFlags(tf.backend(), vars, simdKernelsFor(tf.backend(), c) !== undefined);
  const out = tf.engine().runKernel(SGD_UPDATE, inputs, { n: vars.length, inPlace } as never) as unknown as tf.Tensor[];
  let k = 0;
  for (let i = 0; i < vars.length; i++) {
    if (inPlace[i]) continue;
    const next = out[k++] as tf.Tensor;
    (vars[i] as tf.Variable).assign(next);
    next.dispose();
  }
  o.incrementIterations();
  return true;
}

/**
 * Per tensor, 1 where its update may overwrite its memory (`overwritable`, and `module`: the SIMD
 * kernels run), 0 where it gets a new buffer.
 */
export function inPlaceFlags(backend: unknown, tensors: readonly tf.Tensor[], module: boolean): number[] {
  return tensors.map((t) => (module && overwritable(backend, t) ? 1 : 0));
}
