import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { depthwiseSimd, simdKernelsStatus } from './depthwise-simd.js';
import { withConvFormulation } from './formulation.js';
import { setSimdConvInputGrad } from './gemm-simd.js';
import { conv2dBackpropInput } from './gradients.js';
import { ensureWasmKernels } from './wasm-kernels.js';
import { type Host, dev, expectWritesOnly, host, patchKernelGeometry, rawSimdModule } from './wasm.test-helpers.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
type Case = { x: [number, number, number, number]; k: [number, number]; o: number; s: [number, number]; d: [number, number]; pad: Pad; what: string };

const cases: Case[] = [
  { x: [3, 9, 8, 10], k: [3, 3], o: 7, s: [1, 1], d: [1, 1], pad: 'same', what: '3×3 stride 1 same, 10 → 7, batch 3' },
  { x: [1, 7, 9, 16], k: [3, 3], o: 24, s: [1, 1], d: [1, 1], pad: 'valid', what: '3×3 stride 1 valid, 16 → 24' },
  { x: [2, 11, 12, 12], k: [3, 3], o: 20, s: [2, 2], d: [1, 1], pad: 'same', what: '3×3 stride 2 same, 12 → 20, batch 2' },
  { x: [1, 13, 13, 6], k: [3, 3], o: 13, s: [2, 2], d: [1, 1], pad: 'valid', what: '3×3 stride 2 valid, 6 → 13' },
  { x: [1, 10, 10, 5], k: [5, 5], o: 8, s: [1, 1], d: [1, 1], pad: 'same', what: '5×5 stride 1 same, 5 → 8' },
  { x: [1, 16, 15, 3], k: [7, 7], o: 16, s: [2, 2], d: [1, 1], pad: 'same', what: '7×7 stride 2 same (pad 3), 3 → 16' },
  { x: [2, 19, 17, 3], k: [3, 3], o: 16, s: [2, 2], d: [1, 1], pad: 'valid', what: "MobileNetV2's stem (3×3 stride 2 valid, 3 → 16: K = 27, padded rows)" },
  { x: [1, 9, 11, 3], k: [5, 5], o: 6, s: [1, 1], d: [1, 1], pad: 'same', what: '5×5 stride 1 same, 3 → 6' },
  { x: [1, 9, 9, 12], k: [1, 7], o: 12, s: [1, 1], d: [1, 1], pad: 'same', what: '1×7 same, 12 → 12' },
  { x: [3, 9, 9, 9], k: [7, 1], o: 10, s: [1, 1], d: [1, 1], pad: 'same', what: '7×1 same, 9 → 10, batch 3' },
  { x: [1, 11, 10, 8], k: [3, 3], o: 12, s: [1, 1], d: [2, 2], pad: 'same', what: '3×3 dilation 2 same, 8 → 12' },
  { x: [2, 9, 10, 7], k: [3, 2], o: 5, s: [1, 1], d: [2, 1], pad: 'valid', what: '3×2 dilations [2, 1] valid, 7 → 5' },
  {
    x: [1, 10, 10, 4],
    k: [3, 3],
    o: 8,
    s: [2, 2],
    d: [1, 1],
    pad: [
      [0, 0],
      [1, 2],
      [2, 1],
      [0, 0],
    ],
    what: '3×3 stride 2, explicit padding [1, 2] × [2, 1], 4 → 8',
  },
  { x: [2, 12, 12, 16], k: [3, 3], o: 32, s: [1, 1], d: [1, 1], pad: 'valid', what: "paper 2's conv2 (reduced), more pixels than a chunk" },
];

/** tfjs's stock Conv2DBackpropInput on cpu, dilation by a filter with zeros between its taps (the stock kernel takes none). */
function stockInputGrad(c: Case, f: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor {
  const [kh, kw] = c.k;
  const [dh, dw] = c.d;
  const ext: [number, number, number, number] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1, c.x[3], c.o];
  let fe: tf.Tensor4D = f;
  if (dh !== 1 || dw !== 1) {
    const v = f.dataSync();
    const e = tf.buffer(ext);
    for (let a = 0; a < kh; a++)
      for (let b = 0; b < kw; b++)
        for (let ch = 0; ch < c.x[3]; ch++) for (let o = 0; o < c.o; o++) e.set(v[((a * kw + b) * c.x[3] + ch) * c.o + o] as number, a * dh, b * dw, ch, o);
    fe = e.toTensor() as tf.Tensor4D;
  }
  const out = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: fe }, { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x } as never) as tf.Tensor;
  if (fe !== f) fe.dispose();
  return out;
}

describe("forgetless's SIMD input gradient of every non-1×1 Conv2D on wasm", () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(cases)("$what: the kernel, forgetless's gradient and tf.grad match tfjs's stock Conv2DBackpropInput on cpu within 1e-5", async (c) => {
    await tf.setBackend('cpu');
    const fs: [number, number, number, number] = [...c.k, c.x[3], c.o];
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
    const f = tf.randomNormal(fs, 0, 0.5, 'float32', 2) as tf.Tensor4D;
    const y = tf.conv2d(x, f, c.s, c.pad, 'NHWC', c.d);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3) as tf.Tensor4D;
    const ref = stockInputGrad(c, f, dy);
    const [hx, hdy, hf, href] = [x, dy, f, ref].map(host) as Host[];
    tf.dispose([x, f, y, dy, ref]);
    await tf.setBackend('wasm');
    ensureWasmKernels();
    expect(depthwiseSimd(tf.backend())).toBeDefined();
    const [xw, dyw, fw] = [dev(hx as Host), dev(hdy as Host), dev(hf as Host)] as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const explicit = Array.isArray(c.pad);
    const dilated = c.d[0] !== 1 || c.d[1] !== 1;
    await expectNoLeak(() => {
      for (const formulation of ['auto', 'composed'] as const) {
        // the composed fallback takes 'same'/'valid' only, as before; wasm's stock kernel no dilation
        if (explicit && formulation === 'composed') continue;
        const calls = () => simdKernelsStatus().calls.conv_input_grad ?? 0;
        const before = calls();
        const got = withConvFormulation(formulation, () =>
          tf.tidy(() => {
            const out: tf.Tensor[] = [];
            if (!dilated || formulation === 'auto')
              out.push(
                tf.engine().runKernel('Conv2DBackpropInput', { dy: dyw, filter: fw }, {
                  strides: c.s,
                  pad: c.pad,
                  dataFormat: 'NHWC',
                  inputShape: c.x,
                  dilations: c.d,
                } as never) as tf.Tensor,
              );
            if (!explicit) out.push(conv2dBackpropInput(dyw, fw, c.x, c.s, c.pad as 'same', c.d));
            out.push(tf.grad((v) => tf.sum(tf.mul(tf.conv2d(v as tf.Tensor4D, fw, c.s, c.pad, 'NHWC', c.d), dyw)))(xw));
            return out.map(host);
          }),
        );
        got.forEach((g, i) => expect(relErr(g.v, (href as Host).v), `${formulation} #${i}`).toBeLessThanOrEqual(1e-5));
        expect(calls() - before, `${formulation}: conv_input_grad calls`).toBe(formulation === 'auto' ? got.length : 0);
      }
      // 'auto' with the kernel turned off: the routing before it (taps, a stride-1 forward conv, or wasm's stock kernel)
      const before = simdKernelsStatus().calls.conv_input_grad ?? 0;
      setSimdConvInputGrad(false);
      try {
        const old = tf.tidy(() => host(tf.grad((v) => tf.sum(tf.mul(tf.conv2d(v as tf.Tensor4D, fw, c.s, c.pad, 'NHWC', c.d), dyw)))(xw)));
        expect(relErr(old.v, (href as Host).v), 'auto, kernel off').toBeLessThanOrEqual(1e-5);
      } finally {
        setSimdConvInputGrad(true);
      }
      expect((simdKernelsStatus().calls.conv_input_grad ?? 0) - before, 'auto, kernel off: conv_input_grad calls').toBe(0);
    });
    tf.dispose([xw, dyw, fw]);
    await tf.setBackend('cpu');
  });

  it('conv_input_grad writes nothing but its output and its scratch in the memory it imports, both variants', async () => {
    await tf.setBackend('cpu');
    for (const c of [cases[0], cases[5], cases[6], cases[11], cases[12]] as Case[]) {
      const [kh, kw] = c.k;
      const fs: [number, number, number, number] = [kh, kw, c.x[3], c.o];
      const f = tf.randomNormal(fs, 0, 0.5, 'float32', 9) as tf.Tensor4D;
      const info = tf.backend_util.computeConv2DInfo(c.x, fs, c.s, c.d, c.pad as 'same');
      const dy = tf.randomNormal(info.outShape, 0, 1, 'float32', 8) as tf.Tensor4D;
      const ref = stockInputGrad(c, f, dy);
      const [hdy, hf, href] = [dy, f, ref].map(host) as Host[];
      tf.dispose([dy, f, ref]);
      // Wᵀ's and the patch gradients' rows are padded to a multiple of 4 floats
      const k4 = (kh * kw * c.x[3] + 3) & ~3;
      for (const [variant, shared] of [
        ['plain', false],
        ['shared', true],
      ] as const) {
        const { call, heap } = rawSimdModule(shared);
        const at = { dy: 1001, w: 30001, out: 40001, scratch: 90001 };
        const kc = 16;
        heap.set((hdy as Host).v, at.dy);
        heap.set((hf as Host).v, at.w);
        const before = heap.slice();
        call('conv_input_grad', at.dy * 4, at.w * 4, at.out * 4, at.scratch * 4, ...patchKernelGeometry(c, info, kh, kw), kc);
        const n = (href as Host).v.length;
        expect(relErr(heap.subarray(at.out, at.out + n), (href as Host).v), variant).toBeLessThanOrEqual(1e-5);
        expectWritesOnly(
          heap,
          before,
          [
            [at.out, n],
            [at.scratch, k4 * c.o + kc * k4],
          ],
          `${variant}: conv_input_grad`,
        );
      }
    }
  });
});
