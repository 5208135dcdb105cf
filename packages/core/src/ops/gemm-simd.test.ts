import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { depthwiseSimd } from './depthwise-simd.js';
import { withConvFormulation } from './formulation.js';
import { simdPointwiseForward } from './gemm-simd.js';
import { conv2dBackpropFilter, conv2dBackpropInput, withGradientMode } from './gradients.js';
import { ensureWasmKernels } from './wasm-kernels.js';
import { type Host, host, dev } from './wasm.test-helpers.js';

// [N, H, W, C, O, stride]: channels not multiples of 4 or 8, one example and three, more pixels than a reduction chunk (256), stride 2 (not taken: the composed path)
const cases: Array<[number, number, number, number, number, number]> = [
  [1, 5, 7, 13, 6, 1],
  [3, 9, 9, 6, 21, 1],
  [3, 12, 11, 16, 24, 1],
  [1, 3, 3, 3, 1, 1],
  [3, 9, 8, 10, 7, 2],
];

describe("forgetless's SIMD 1×1 convolution kernels on wasm", () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(cases)(
    "[%i,%i,%i,%i]→%i stride %i: ∂x and ∂W (kernels and forgetless's gradient) and the forward (kernel and tf.conv2d) match tfjs on cpu within 1e-5",
    async (n, h, w, c, o, s) => {
      const x = tf.randomNormal([n, h, w, c], 0, 1, 'float32', 1) as tf.Tensor4D;
      const f = tf.randomNormal([1, 1, c, o], 0, 0.5, 'float32', 2) as tf.Tensor4D;
      const y = tf.conv2d(x, f, s, 'same');
      const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
      const [dx, df] = withGradientMode('stock', () => tf.grads((a, b) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, 'same'), dy)))([x, f]));
      const [hx, hf, hdy, hy, hdx, hdf] = [x, f, dy, y, dx as tf.Tensor, df as tf.Tensor].map(host) as Host[];
      tf.dispose([x, f, y, dy, dx as tf.Tensor, df as tf.Tensor]);
      await tf.setBackend('wasm');
      ensureWasmKernels();
      const ex = depthwiseSimd(tf.backend());
      expect(ex).toBeDefined();
      const [xw, fw, dyw] = [dev(hx as Host), dev(hf as Host), dev(hdy as Host)] as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      await expectNoLeak(() => {
        const attrs = { strides: [s, s], pad: 'same', dataFormat: 'NHWC' };
        for (const f of ['auto', 'composed'] as const) {
          const got = withConvFormulation(f, () =>
            tf.tidy(() =>
              [
                tf.engine().runKernel('Conv2DBackpropInput', { dy: dyw, filter: fw }, { ...attrs, inputShape: xw.shape } as never) as tf.Tensor,
                tf.engine().runKernel('Conv2DBackpropFilter', { x: xw, dy: dyw }, { ...attrs, filterShape: fw.shape } as never) as tf.Tensor,
                conv2dBackpropInput(dyw, fw, xw.shape, s, 'same'),
                conv2dBackpropFilter(xw, dyw, fw.shape, s, 'same'),
                tf.grads((a, b) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, 'same'), dyw)))([xw, fw]),
              ]
                .flat()
                .map(host),
            ),
          );
          got.forEach((g, i) => expect(relErr(g.v, ((i % 2 === 0 ? hdx : hdf) as Host).v), `${f} #${i}`).toBeLessThanOrEqual(1e-5));
        }
        if (s === 1) {
          const fwd = simdPointwiseForward(ex as NonNullable<typeof ex>, tf.backend(), xw, fw);
          const t = tf.engine().makeTensorFromTensorInfo(fwd);
          expect(relErr(t.dataSync(), (hy as Host).v)).toBeLessThanOrEqual(1e-5);
          t.dispose();
        }
        // the Conv2D kernel (ours under 'auto' at unit stride, the stock one otherwise)
        for (const f of ['auto', 'composed'] as const) {
          const t = withConvFormulation(f, () => tf.conv2d(xw, fw, s, 'same'));
          expect(relErr(t.dataSync(), (hy as Host).v), f).toBeLessThanOrEqual(1e-5);
          t.dispose();
        }
      });
      tf.dispose([xw, fw, dyw]);
      await tf.setBackend('cpu');
    },
  );
});
