import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { depthwiseSimd, simdKernelsStatus } from './depthwise-simd.js';
import { artifactsOf } from '../keras/artifacts.test-helpers.js';
import { loadLayersModelFromArtifacts } from '../keras/load.js';
import { Rng } from '../rng.js';
import { withConvFormulation, withLayerFusion } from './formulation.js';
import { type TapPads, convPerExampleSum, filterGradBlock, simdPointwiseForward, tapAbsSums } from './gemm-simd.js';
import { conv2dBackpropFilter, conv2dBackpropInput, withGradientMode } from './gradients.js';
import { ensureWasmKernels } from './wasm-kernels.js';
import { type Host, dev, expectWritesOnly, host, onWasm, patchKernelGeometry, rawSimdModule } from './wasm.test-helpers.js';

// [N, H, W, C, O, stride]: channels not multiples of 4 or 8, one example and three, more pixels than a reduction chunk (256), stride 2 (not taken: the composed path)
const cases: Array<[number, number, number, number, number, number]> = [
  [1, 5, 7, 13, 6, 1],
  [3, 9, 9, 6, 21, 1],
  [3, 12, 11, 16, 24, 1],
  [1, 3, 3, 3, 1, 1],
  [3, 9, 8, 10, 7, 2],
  // B over 256 KB, taken in panels of 16 columns: the forward and ∂x (260·290 floats; the last panels 2 and 4 wide, 35 rows), ∂W (64 rows · 1100; C = 6 rows)
  [1, 5, 7, 260, 290, 1],
  [2, 8, 9, 6, 1100, 1],
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

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
/** x shape, filter [kh, kw] and O (C = x's last axis), strides, dilations, padding. */
type FewCase = { x: [number, number, number, number]; k: [number, number]; o: number; s: [number, number]; d: [number, number]; pad: Pad; what: string };
const few: FewCase[] = [
  { x: [1, 97, 97, 3], k: [3, 3], o: 16, s: [2, 2], d: [1, 1], pad: 'valid', what: "MobileNetV2's stem (ZeroPadding2D, then 3×3 stride 2 valid, 3 → 16)" },
  { x: [3, 13, 12, 3], k: [3, 3], o: 32, s: [2, 2], d: [1, 1], pad: 'same', what: '3×3 stride 2 same, 3 → 32, batch 3' },
  { x: [1, 23, 22, 3], k: [7, 7], o: 64, s: [2, 2], d: [1, 1], pad: 'same', what: '7×7 stride 2 same (pad 3 on top), 3 → 64' },
  {
    x: [1, 16, 16, 3],
    k: [7, 7],
    o: 64,
    s: [2, 2],
    d: [1, 1],
    pad: [
      [0, 0],
      [3, 3],
      [3, 3],
      [0, 0],
    ],
    what: "ResNet's stem, explicit padding 3, 7×7 stride 2, 3 → 64",
  },
  { x: [2, 28, 28, 1], k: [5, 5], o: 64, s: [1, 1], d: [1, 1], pad: 'same', what: "paper 2's conv1 (5×5 same, 1 → 64)" },
  { x: [3, 11, 10, 2], k: [3, 3], o: 6, s: [1, 1], d: [2, 2], pad: 'same', what: '3×3 dilation 2 same, O = 6, batch 3' },
  { x: [1, 12, 13, 1], k: [3, 2], o: 5, s: [1, 1], d: [3, 2], pad: 'valid', what: '3×2 dilations [3, 2] valid, 1 → 5' },
  { x: [3, 9, 11, 5], k: [2, 3], o: 7, s: [2, 1], d: [1, 1], pad: 'same', what: '2×3 strides [2, 1] same, 5 → 7 (K = 30)' },
  { x: [1, 6, 5, 7], k: [1, 1], o: 9, s: [2, 2], d: [1, 1], pad: 'valid', what: '1×1 stride 2, 7 → 9' },
  // 8 or more input channels (every Conv2D is routed since "the filter gradient of every Conv2D on SIMD")
  { x: [1, 9, 10, 8], k: [3, 3], o: 13, s: [1, 1], d: [1, 1], pad: 'same', what: '3×3 same, 8 → 13, batch 1' },
  { x: [3, 11, 9, 12], k: [3, 3], o: 10, s: [2, 2], d: [1, 1], pad: 'valid', what: '3×3 stride 2 valid, 12 → 10, batch 3' },
  { x: [3, 10, 11, 9], k: [3, 3], o: 6, s: [1, 1], d: [2, 2], pad: 'same', what: '3×3 dilation 2 same, 9 → 6, batch 3' },
  { x: [1, 8, 9, 16], k: [1, 7], o: 12, s: [1, 1], d: [1, 1], pad: 'same', what: '1×7 same, 16 → 12' },
  { x: [2, 9, 8, 16], k: [7, 1], o: 18, s: [1, 1], d: [1, 1], pad: 'same', what: '7×1 same, 16 → 18, batch 2' },
  { x: [1, 8, 8, 24], k: [1, 1], o: 10, s: [2, 2], d: [1, 1], pad: 'same', what: '1×1 stride 2 same, 24 → 10' },
  // ∂W in blocks (K4·O over `filterGradBlock`'s one-block limit): blocks end inside taps and filter rows
  { x: [1, 6, 7, 57], k: [3, 3], o: 255, s: [1, 1], d: [1, 1], pad: 'same', what: 'blocked: 3×3 same, 57 → 255 (K = 513, padded: ∂W through scratch)' },
  { x: [3, 5, 6, 64], k: [3, 3], o: 230, s: [1, 1], d: [1, 1], pad: 'valid', what: 'blocked: 3×3 valid, 64 → 230, batch 3 (K = 576)' },
  { x: [1, 9, 9, 60], k: [3, 3], o: 250, s: [1, 1], d: [2, 2], pad: 'valid', what: 'blocked: 3×3 dilation 2 valid, 60 → 250' },
];

/** ∂W by tfjs's stock Conv2DBackpropFilter on cpu; a dilated filter as its undilated extent (stride 1), every d-th tap taken. */
function stockFilterGrad(c: FewCase, x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor {
  const [kh, kw] = c.k;
  const [dh, dw] = c.d;
  const ext = [(kh - 1) * dh + 1, (kw - 1) * dw + 1, x.shape[3], c.o];
  const full = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: ext } as never) as tf.Tensor;
  return dh === 1 && dw === 1 ? full : tf.stridedSlice(full, [0, 0, 0, 0], ext, [dh, dw, 1, 1]);
}

describe("forgetless's SIMD filter gradient of every Conv2D (few input channels and wide) on wasm", () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(few)("$what: the kernel, forgetless's gradient and tf.grads match tfjs's stock Conv2DBackpropFilter on cpu within 1e-5", async (c) => {
    await tf.setBackend('cpu'); // the reference on cpu, also after a failed case
    const [kh, kw] = c.k;
    const fs: [number, number, number, number] = [kh, kw, c.x[3], c.o];
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
    const f = tf.randomNormal(fs, 0, 0.5, 'float32', 2) as tf.Tensor4D;
    const y = tf.conv2d(x, f, c.s, c.pad, 'NHWC', c.d);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3) as tf.Tensor4D;
    const ref = stockFilterGrad(c, x, dy);
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
        // the composed fallback takes 'same'/'valid' only (wasm's kernel), as before
        if (explicit && formulation === 'composed') continue;
        const calls = () => simdKernelsStatus().calls.conv_filter_grad ?? 0;
        const before = calls();
        const got = withConvFormulation(formulation, () =>
          tf.tidy(() => {
            const out: tf.Tensor[] = [];
            if (!dilated)
              out.push(tf.engine().runKernel('Conv2DBackpropFilter', { x: xw, dy: dyw }, { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: fs } as never) as tf.Tensor);
            if (!explicit) out.push(conv2dBackpropFilter(xw, dyw, fs, c.s, c.pad as 'same', c.d));
            out.push(tf.grad((w) => tf.sum(tf.mul(tf.conv2d(xw, w as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d), dyw)))(fw));
            return out.map(host);
          }),
        );
        got.forEach((g, i) => expect(relErr(g.v, (href as Host).v), `${formulation} #${i}`).toBeLessThanOrEqual(1e-5));
        expect(calls() - before, `${formulation}: conv_filter_grad calls`).toBe(formulation === 'auto' ? got.length : 0);
      }
    });
    tf.dispose([xw, dyw, fw]);
    await tf.setBackend('cpu');
  });

  it('the blocked cases are blocked, the others one block', () => {
    for (const c of few) {
      const k4 = (c.k[0] * c.k[1] * c.x[3] + 3) & ~3;
      expect(filterGradBlock(k4, c.o) < k4, c.what).toBe(c.what.startsWith('blocked'));
    }
  });

  it('conv_filter_grad writes nothing but its output and its scratch in the memory it imports, both variants, one block and blocks of 8 rows', async () => {
    await tf.setBackend('cpu');
    for (const c of [few[6], few[2], few.find((f) => f.what.startsWith('3×3 dilation 2 same, 9'))] as FewCase[]) {
      // K = 6 (padded to 8: ∂W through scratch) and K = 147 (also padded), then K = 4·k below
      const [kh, kw] = c.k;
      const fs: [number, number, number, number] = [kh, kw, c.x[3], c.o];
      const x = tf.randomNormal(c.x, 0, 1, 'float32', 4) as tf.Tensor4D;
      const info = tf.backend_util.computeConv2DInfo(c.x, fs as never, c.s, c.d, c.pad as 'same');
      const dy = tf.randomNormal([c.x[0], info.outHeight, info.outWidth, c.o], 0, 1, 'float32', 5) as tf.Tensor4D;
      const ref = stockFilterGrad(c, x, dy);
      const [hx, hdy, href] = [x, dy, ref].map(host) as Host[];
      tf.dispose([x, dy, ref]);
      const k = kh * kw * c.x[3];
      const k4 = (k + 3) & ~3;
      for (const [variant, shared, kb] of [
        ['plain', false, k4],
        ['shared', true, k4],
        ['plain, blocks of 8', false, 8],
        ['shared, blocks of 8', true, 8],
      ] as const) {
        const { call, heap } = rawSimdModule(shared);
        const at = { x: 1001, dy: 30001, out: 70001, scratch: 90000 }; // float indices (8 mod 16 bytes, as tfjs-wasm's heap places tensors)
        const kc = 16;
        const scratchLen = kc * kb + (k4 > k ? k4 * c.o : 0);
        heap.set((hx as Host).v, at.x);
        heap.set((hdy as Host).v, at.dy);
        const before = heap.slice();
        call('conv_filter_grad', at.x * 4, at.dy * 4, at.out * 4, at.scratch * 4, ...patchKernelGeometry(c, info, kh, kw), kc, kb);
        const n = (href as Host).v.length;
        expect(relErr(heap.subarray(at.out, at.out + n), (href as Host).v), variant).toBeLessThanOrEqual(1e-5);
        expectWritesOnly(
          heap,
          before,
          [
            [at.out, n],
            [at.scratch, scratchLen],
          ],
          `${variant}: conv_filter_grad`,
        );
      }
    }
  });
});

/** The forward's cases: the filter gradient's, and stems at batch 3 with O not a multiple of 4. */
const fewForward: FewCase[] = [
  ...few.filter((c) => c.x[3] < 8), // the forward kernel serves few input channels only (the filter-gradient cases include wide ones)
  { x: [3, 33, 31, 3], k: [3, 3], o: 13, s: [2, 2], d: [1, 1], pad: 'valid', what: 'a stem at batch 3, 3×3 stride 2 valid, 3 → 13' },
  { x: [1, 75, 75, 3], k: [3, 3], o: 32, s: [2, 2], d: [1, 1], pad: 'valid', what: "InceptionV3's stem at 75² (3×3 stride 2 valid, 3 → 32)" },
  { x: [3, 12, 12, 1], k: [5, 5], o: 64, s: [1, 1], d: [1, 1], pad: 'valid', what: "paper 2's conv1 valid, batch 3" },
  {
    x: [1, 10, 9, 3],
    k: [3, 3],
    o: 10,
    s: [1, 1],
    d: [2, 2],
    pad: [
      [0, 0],
      [1, 2],
      [0, 3],
      [0, 0],
    ],
    what: 'dilation 2, explicit uneven padding, 3 → 10',
  },
];

describe("per-example Σ g² and Σ |g| of a Conv2D's filter by forgetless's SIMD kernels on wasm (convPerExampleSum)", () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  // the filter-gradient cases (one of the blocked ones) with 2 or more examples, and 1×1 unit-stride filters (pw_filter_grad)
  const cases: FewCase[] = [
    ...few
      .filter((c, i) => !c.what.startsWith('blocked') || i === few.findIndex((b) => b.what.startsWith('blocked')))
      .map((c) => ({ ...c, x: [c.x[0] === 1 ? 2 : c.x[0], ...c.x.slice(1)] as FewCase['x'] })),
    { x: [3, 6, 5, 7], k: [1, 1], o: 9, s: [1, 1], d: [1, 1], pad: 'same', what: '1×1, 7 → 9' },
    { x: [4, 8, 8, 24], k: [1, 1], o: 40, s: [1, 1], d: [1, 1], pad: 'valid', what: '1×1, 24 → 40 (MobileNetV2-like)' },
    // more pixels than a reduction chunk (64): two chunks an example; 11 outputs: an 8-wide tile, then 3 one by one
    { x: [2, 10, 9, 6], k: [1, 1], o: 11, s: [1, 1], d: [1, 1], pad: 'same', what: '1×1, 6 → 11, 90 pixels an example (two chunks)' },
    // B over 256 KB (64 · 1100 floats): panels of 16 columns, the last one 12 wide
    { x: [2, 9, 8, 5], k: [1, 1], o: 1100, s: [1, 1], d: [1, 1], pad: 'same', what: '1×1, 5 → 1100, 72 pixels an example (panels)' },
  ];
  it.each(cases)("$what: equals a per-example loop of tfjs's stock Conv2DBackpropFilter on cpu within 1e-5", async (c) => {
    await tf.setBackend('cpu'); // the reference on cpu, also after a failed case
    const [kh, kw] = c.k;
    const fs: [number, number, number, number] = [kh, kw, c.x[3], c.o];
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 11) as tf.Tensor4D;
    const f = tf.zeros(fs) as tf.Tensor4D;
    const y = tf.conv2d(x, f, c.s, c.pad, 'NHWC', c.d);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 12) as tf.Tensor4D;
    expect(convPerExampleSum(x, dy, fs, c.s, c.pad, c.d, 'square'), 'not on cpu').toBeUndefined();
    const ref = tf.tidy(() => {
      const sq: tf.Tensor[] = [];
      const ab: tf.Tensor[] = [];
      for (let e = 0; e < c.x[0]; e++) {
        const g = stockFilterGrad(c, tf.slice(x, e, 1), tf.slice(dy, e, 1));
        sq.push(tf.square(g));
        ab.push(tf.abs(g));
      }
      return [tf.addN(sq), tf.addN(ab)].map(host);
    });
    const [hx, hdy] = [x, dy].map(host) as [Host, Host];
    tf.dispose([x, f, y, dy]);
    await tf.setBackend('wasm');
    ensureWasmKernels();
    const [xw, dyw] = [dev(hx), dev(hdy)] as [tf.Tensor4D, tf.Tensor4D];
    const kernel = 'conv_example_sums';
    await expectNoLeak(() => {
      (['square', 'abs'] as const).forEach((stat, i) => {
        const before = simdKernelsStatus().calls[kernel] ?? 0;
        const got = convPerExampleSum(xw, dyw, fs, c.s, c.pad, c.d, stat) as tf.Tensor;
        // the loop over the examples in one kernel call (one thread here: a single slice)
        expect((simdKernelsStatus().calls[kernel] ?? 0) - before, `${kernel} calls`).toBe(1);
        expect(got.shape).toEqual(fs);
        expect(relErr(got, (ref[i] as Host).v), stat).toBeLessThanOrEqual(1e-5);
        got.dispose();
      });
      // 'composed' (the before) leaves it to the caller's formulation
      expect(withConvFormulation('composed', () => convPerExampleSum(xw, dyw, fs, c.s, c.pad, c.d, 'square'))).toBeUndefined();
    });
    tf.dispose([xw, dyw]);
    await tf.setBackend('cpu');
  });
});

describe("SIG's signal under each kernel tap by one SIMD kernel call on wasm (tapAbsSums)", () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  type TapCase = { x: [number, number, number, number]; k: [number, number]; s: [number, number]; d: [number, number]; pads: TapPads; what: string };
  const tapCases: TapCase[] = [
    { x: [2, 7, 6, 5], k: [3, 3], s: [1, 1], d: [1, 1], pads: { top: 1, bottom: 1, left: 1, right: 1 }, what: '3×3 same, C = 5' },
    { x: [3, 9, 9, 8], k: [3, 3], s: [2, 2], d: [1, 1], pads: { top: 0, bottom: 0, left: 0, right: 0 }, what: '3×3 stride 2 valid' },
    { x: [2, 8, 8, 12], k: [3, 3], s: [2, 2], d: [1, 1], pads: { top: 0, bottom: 1, left: 0, right: 1 }, what: "Keras's ZeroPadding2D (0, 1) before a stride-2 3×3" },
    { x: [1, 11, 10, 3], k: [3, 2], s: [1, 1], d: [2, 3], pads: { top: 2, bottom: 2, left: 1, right: 2 }, what: '3×2 dilations [2, 3]' },
    { x: [2, 5, 6, 17], k: [1, 1], s: [1, 1], d: [1, 1], pads: { top: 0, bottom: 0, left: 0, right: 0 }, what: '1×1, C = 17' },
    { x: [1, 13, 12, 3], k: [7, 7], s: [2, 2], d: [1, 1], pads: { top: 3, bottom: 3, left: 3, right: 3 }, what: '7×7 stride 2 pad 3 (a stem)' },
    { x: [3, 1, 9, 6], k: [1, 3], s: [1, 1], d: [1, 2], pads: { top: 0, bottom: 0, left: 4, right: 0 }, what: 'Conv1D causal, dilation 2, as [N, 1, steps, C]' },
  ];

  it.each(tapCases)('$what: equals the mean |x| under each tap computed by hand', async (c) => {
    await tf.setBackend('cpu');
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 21) as tf.Tensor4D;
    const xv = x.dataSync().slice();
    expect(tapAbsSums(x, c.k, c.s, c.d, c.pads), 'not on cpu').toBeUndefined();
    x.dispose();
    // by hand: Σ_n mean over output positions of |xp| under tap (a, b), the padding counting 0
    const [n, h, w, ch] = c.x;
    const ho = Math.floor((h + c.pads.top + c.pads.bottom - (c.k[0] - 1) * c.d[0] - 1) / c.s[0]) + 1;
    const wo = Math.floor((w + c.pads.left + c.pads.right - (c.k[1] - 1) * c.d[1] - 1) / c.s[1]) + 1;
    const want = new Float64Array(c.k[0] * c.k[1] * ch);
    for (let a = 0; a < c.k[0]; a++)
      for (let b = 0; b < c.k[1]; b++)
        for (let q = 0; q < ch; q++) {
          let sum = 0;
          for (let e = 0; e < n; e++)
            for (let i = 0; i < ho; i++)
              for (let j = 0; j < wo; j++) {
                const r = i * c.s[0] + a * c.d[0] - c.pads.top;
                const col = j * c.s[1] + b * c.d[1] - c.pads.left;
                if (r >= 0 && r < h && col >= 0 && col < w) sum += Math.abs(xv[((e * h + r) * w + col) * ch + q] as number);
              }
          want[(a * c.k[1] + b) * ch + q] = sum / (ho * wo);
        }
    await onWasm(async () => {
      const xw = tf.tensor(xv, c.x) as tf.Tensor4D;
      await expectNoLeak(() => {
        const got = tapAbsSums(xw, c.k, c.s, c.d, c.pads) as tf.Tensor;
        expect(got.shape).toEqual([...c.k, ch]);
        expect(relErr(got, want)).toBeLessThanOrEqual(1e-6);
        got.dispose();
        expect(
          withConvFormulation('composed', () => tapAbsSums(xw, c.k, c.s, c.d, c.pads)),
          "'composed'",
        ).toBeUndefined();
      });
      expect(() => tapAbsSums(xw, [0, 3], c.s, c.d, c.pads)).toThrow(/tapAbsSums: expected .* kernel \[0,3\]/);
      xw.dispose();
    });
  });

  it('tap_abs_sums writes nothing but its output and its row scratch in the memory it imports, both variants', () => {
    for (const c of [tapCases[2], tapCases[3]] as TapCase[]) {
      const [n, h, w, ch] = c.x;
      const r = new Rng(9);
      const x = Float32Array.from({ length: n * h * w * ch }, () => r.next() * 2 - 1);
      const ho = Math.floor((h + c.pads.top + c.pads.bottom - (c.k[0] - 1) * c.d[0] - 1) / c.s[0]) + 1;
      const wo = Math.floor((w + c.pads.left + c.pads.right - (c.k[1] - 1) * c.d[1] - 1) / c.s[1]) + 1;
      const k = c.k[0] * c.k[1] * ch;
      for (const shared of [false, true]) {
        const { call, heap } = rawSimdModule(shared);
        const at = { x: 1001, out: 9001, row: 12001 };
        heap.set(x, at.x);
        const before = heap.slice();
        call('tap_abs_sums', at.x * 4, at.out * 4, at.row * 4, n, h, w, ch, ho, wo, ...c.k, ...c.s, ...c.d, c.pads.top, c.pads.left);
        expectWritesOnly(
          heap,
          before,
          [
            [at.out, k],
            [at.row, k],
          ],
          `${c.what} (${shared ? 'shared' : 'plain'}): tap_abs_sums`,
        );
        const out = heap.subarray(at.out, at.out + k);
        expect(Array.from(out).every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      }
    }
  });
});

describe("forgetless's SIMD forward for few input channels on wasm", () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(fewForward)("$what: wasm's Conv2D (the kernel under 'auto', XNNPACK under 'composed') matches tfjs's stock Conv2D on cpu within 1e-5", async (c) => {
    await tf.setBackend('cpu');
    const [kh, kw] = c.k;
    const fs: [number, number, number, number] = [kh, kw, c.x[3], c.o];
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 6) as tf.Tensor4D;
    const f = tf.randomNormal(fs, 0, 0.5, 'float32', 7) as tf.Tensor4D;
    const ref = tf.conv2d(x, f, c.s, c.pad, 'NHWC', c.d);
    const [hx, hf, href] = [x, f, ref].map(host) as Host[];
    tf.dispose([x, f, ref]);
    await tf.setBackend('wasm');
    ensureWasmKernels();
    expect(depthwiseSimd(tf.backend())).toBeDefined();
    const [xw, fw] = [dev(hx as Host), dev(hf as Host)] as [tf.Tensor4D, tf.Tensor4D];
    await expectNoLeak(() => {
      for (const formulation of ['auto', 'composed'] as const) {
        if (Array.isArray(c.pad) && formulation === 'composed') continue; // XNNPACK's kernel: 'same'/'valid'
        const calls = () => simdKernelsStatus().calls.conv_forward ?? 0;
        const before = calls();
        const got = withConvFormulation(formulation, () => tf.tidy(() => host(tf.conv2d(xw, fw, c.s, c.pad, 'NHWC', c.d))));
        expect(got.s, formulation).toEqual((href as Host).s);
        expect(relErr(got.v, (href as Host).v), formulation).toBeLessThanOrEqual(1e-5);
        expect(calls() - before, `${formulation}: conv_forward calls`).toBe(formulation === 'auto' ? 1 : 0);
      }
    });
    tf.dispose([xw, fw]);
    await tf.setBackend('cpu');
  });

  it('conv_forward writes nothing but its output and its scratch in the memory it imports, both variants', async () => {
    await tf.setBackend('cpu');
    for (const c of [few[5], few[3], fewForward[fewForward.length - 1]] as FewCase[]) {
      const [kh, kw] = c.k;
      const fs: [number, number, number, number] = [kh, kw, c.x[3], c.o];
      const x = tf.randomNormal(c.x, 0, 1, 'float32', 8) as tf.Tensor4D;
      const f = tf.randomNormal(fs, 0, 0.5, 'float32', 9) as tf.Tensor4D;
      const ref = tf.conv2d(x, f, c.s, c.pad, 'NHWC', c.d);
      const info = tf.backend_util.computeConv2DInfo(c.x, fs as never, c.s, c.d, c.pad as 'same');
      const [hx, hf, href] = [x, f, ref].map(host) as Host[];
      tf.dispose([x, f, ref]);
      const k4 = (kh * kw * c.x[3] + 3) & ~3;
      for (const [variant, shared] of [
        ['plain', false],
        ['shared', true],
      ] as const) {
        const { call, heap } = rawSimdModule(shared);
        const at = { x: 1001, w: 30001, out: 40001, scratch: 90000 };
        const kc = 16;
        heap.set((hx as Host).v, at.x);
        heap.set((hf as Host).v, at.w);
        const before = heap.slice();
        call('conv_forward', at.x * 4, at.w * 4, at.out * 4, at.scratch * 4, ...patchKernelGeometry(c, info, kh, kw), kc);
        const n = (href as Host).v.length;
        expect(relErr(heap.subarray(at.out, at.out + n), (href as Host).v), variant).toBeLessThanOrEqual(1e-5);
        expectWritesOnly(
          heap,
          before,
          [
            [at.out, n],
            [at.scratch, kc * k4],
          ],
          `${variant}: conv_forward`,
        );
      }
    }
  });
});

describe('ZeroPadding2D folded into a following conv with few input channels', () => {
  it('a stock tfjs-layers model (ZeroPadding2D → Conv2D stride 2 valid, twice) imported into forgetless takes one SGD step on wasm as on cpu, the paddings folded as run apart', async () => {
    const input = tfl.input({ shape: [13, 12, 3] });
    const pad = (p: [[number, number], [number, number]]) => tfl.layers.zeroPadding2d({ padding: p });
    const conv = (filters: number, seed: number) =>
      tfl.layers.conv2d({
        filters,
        kernelSize: 3,
        strides: 2,
        padding: 'valid',
        activation: 'relu',
        kernelInitializer: 'glorotNormal',
        biasInitializer: 'glorotNormal',
        seed,
      } as never);
    // the stem as Keras MobileNetV2 pads it (uneven), then a second one that is not first (its ∂x is needed), 5 → 7 channels
    let h = conv(5, 1).apply(
      pad([
        [0, 1],
        [0, 1],
      ]).apply(input),
    ) as tfl.SymbolicTensor;
    h = conv(7, 2).apply(
      pad([
        [1, 1],
        [2, 1],
      ]).apply(h),
    ) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 4, kernelInitializer: 'glorotNormal', seed: 3 } as never).apply(tfl.layers.globalAveragePooling2d({}).apply(h)) as tfl.SymbolicTensor;
    const keras = tfl.model({ inputs: input, outputs: out });
    const artifacts = await artifactsOf(keras);
    keras.dispose();
    const xs = tf.tidy(() => host(tf.randomNormal([3, 13, 12, 3], 0, 1, 'float32', 11)));
    /** One SGD step (lr 0.5, mean squared output): the weights after it, and the kernels run. */
    const step = async () => {
      const loaded = await loadLayersModelFromArtifacts(artifacts);
      const m = loaded.model;
      let got: ({ name: string } & Host)[] = [];
      const profile = await tf.profile(() => {
        got = tf.tidy(() => {
          const x = dev(xs);
          const vars = Object.values(m.params);
          const { grads } = tf.variableGrads(() => tf.mean(tf.square(m.apply(x, { training: true, rng: new Rng(0) }))) as tf.Scalar, vars);
          for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 0.5)));
          return vars.map((v) => ({ name: v.name, ...host(v) }));
        });
        return [];
      });
      loaded.dispose();
      return { got, kernels: profile.kernels.map((k) => k.name) };
    };
    const ref = (await withGradientMode('stock', step)).got; // cpu, tfjs's own gradients
    await onWasm(async () => {
      await expectNoLeak(async () => {
        const calls = () => simdKernelsStatus().calls.conv_forward ?? 0;
        const c0 = calls();
        const fused = await step();
        const c1 = calls();
        const apart = await withLayerFusion(false, step);
        const count = (ks: string[], name: string) => ks.filter((k) => k === name).length;
        // both paddings folded (explicit padding): two PadV2 fewer; both forwards on conv_forward either way
        expect(count(apart.kernels, 'PadV2') - count(fused.kernels, 'PadV2')).toBe(2);
        expect([c1 - c0, calls() - c1]).toEqual([2, 2]);
        expect(fused.got.length).toBe(ref.length);
        fused.got.forEach((g, i) => {
          expect(relErr(g.v, (apart.got[i] as Host).v), `${g.name} fused vs apart`).toBeLessThanOrEqual(1e-5);
          expect(relErr(g.v, (ref[i] as Host).v), g.name).toBeLessThanOrEqual(1e-5);
        });
      });
    });
  });
});
