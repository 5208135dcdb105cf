import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { ensureWasmKernels } from './wasm-kernels.js';

/** spaceToBatchND (tfjs-wasm's kernel pads through PadV2's wasm function), its gradient (BatchToSpaceND), and a dilated pool built on them. */
function run(): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.randomNormal([2, 6, 7, 3], 0, 1, 'float32', 5);
    const f = (t: tf.Tensor) =>
      tf.spaceToBatchND(
        t as tf.Tensor4D,
        [2, 2],
        [
          [1, 1],
          [0, 1],
        ],
      );
    const w = tf.randomNormal(f(x).shape, 0, 1, 'float32', 6);
    const dx = tf.grad((t) => tf.sum(tf.mul(f(t), w)))(x);
    const pooled = tf.pool(x as tf.Tensor4D, [2, 2], 'avg', 'same', [2, 2]);
    return [f(x), dx, pooled].map((t) => t.dataSync().slice() as Float32Array);
  });
}

describe("stock wasm kernels that call a kernel forgetless replaced (it carries the stock one's setup)", () => {
  it('spaceToBatchND, its gradient and a dilated pool run on a wasm backend created after the replacement, and equal cpu', async () => {
    const want = run();
    // forgetless's kernels replace the stock ones before this file's wasm backend is created: its initialisation
    // runs the setups of the kernels registered then (once tfjs-backend-wasm is loaded, replacing PadV2 among them)
    ensureWasmKernels();
    expect(tf.engine().registry.wasm, 'no wasm backend yet in this file').toBeUndefined();
    await tf.setBackend('wasm');
    try {
      const got = run();
      got.forEach((g, i) => expect(relErr(g, want[i] as Float32Array), ['spaceToBatchND', 'its gradient', 'dilated avg pool'][i]).toBeLessThanOrEqual(1e-6));
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
