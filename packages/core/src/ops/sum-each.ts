/**
 * Σ of each of many tensors as one vector: `tf.stack(ts.map((t) => tf.sum(t)))`, which the training
 * loop runs after every step to catch a parameter turning NaN or infinite (one sum per parameter).
 * On wasm, one kernel call runs the backend's own Sum kernel for each tensor (so each value is the
 * one `tf.sum` gives, bit for bit) and writes the sums into the vector: MobileNetV2's 158 parameters
 * cost ~160 engine ops and a stack of 158 scalars per step that way, one call this way.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type WasmHeapBackend, heapOffset } from './depthwise-simd.js';

const SUM_EACH = 'ForgetlessSumEach';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: tf.NamedAttrMap };
type WasmBackend = WasmHeapBackend & { disposeData(id: unknown, force?: boolean): boolean };

/** Inputs `t0` … `t{n−1}` (float32); output [n]: Σ of each, by the registered Sum kernel. */
const config: tf.KernelConfig = {
  kernelName: SUM_EACH,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }: KernelArgs) => {
    const sum = tf.getKernel('Sum', 'wasm')?.kernelFunc as unknown as ((args: KernelArgs) => tf.TensorInfo) | undefined;
    if (!sum) throw new Error(`${SUM_EACH} (forgetless): wasm has no Sum kernel`);
    const b = backend as WasmBackend;
    const n = attrs.n as number;
    const sums = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      // tf.sum(t): Sum over every axis
      const r = sum({ inputs: { x: inputs[`t${i}`] as tf.TensorInfo }, backend, attrs: { axis: null, keepDims: false } as unknown as tf.NamedAttrMap });
      sums[i] = new Float32Array(b.wasm.HEAPU8.buffer, heapOffset(b, r), 1)[0] as number;
      b.disposeData(r.dataId);
    }
    const out = b.makeOutput([n], 'float32');
    new Float32Array(b.wasm.HEAPU8.buffer, heapOffset(b, out), n).set(sums);
    return out;
  }) as unknown as tf.KernelFunc,
};

/** [Σ t for t of ts], float32 (a non-float32 tensor is cast first, as before). */
export function sumEach(ts: readonly tf.Tensor[]): tf.Tensor1D {
  if (ts.length > 0 && tf.getBackend() === 'wasm' && ts.every((t) => t.dtype === 'float32')) {
    if (!tf.getKernel(SUM_EACH, 'wasm')) tf.registerKernel(config);
    const inputs: tf.NamedTensorMap = {};
    ts.forEach((t, i) => {
      inputs[`t${i}`] = t;
    });
    return tf.engine().runKernel(SUM_EACH, inputs, { n: ts.length } as never) as tf.Tensor1D;
  }
  return tf.tidy(() => tf.stack(ts.map((t) => tf.sum(t.dtype === 'float32' ? t : tf.cast(t, 'float32')))) as tf.Tensor1D);
}
