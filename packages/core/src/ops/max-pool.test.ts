import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { simdKernelsStatus } from './depthwise-simd.js';
import { setConvFormulation, withConvFormulation } from './formulation.js';
import { type GradientMode, withGradientMode } from './gradients.js';
import { avgPoolGrad, maxPoolGrad, poolAxis } from './max-pool.js';
import { expectWritesOnly, rawSimdModule } from './wasm.test-helpers.js';

type Case = { shape: [number, number, number, number]; k: number; s: number; padding: 'same' | 'valid'; relu?: boolean };
const cases: Case[] = [
  { shape: [2, 8, 8, 3], k: 2, s: 2, padding: 'valid' },
  { shape: [2, 7, 9, 2], k: 3, s: 2, padding: 'same' },
  { shape: [1, 6, 6, 2], k: 3, s: 1, padding: 'valid' },
  { shape: [2, 5, 5, 1], k: 2, s: 2, padding: 'same' },
  { shape: [3, 8, 8, 2], k: 2, s: 2, padding: 'valid', relu: true }, // many tied zeros
];

function grad(mode: GradientMode, xs: tf.TypedArray, c: Case, dys: tf.TypedArray) {
  return withGradientMode(mode, () =>
    tf.tidy(() => {
      const x = tf.tensor(xs, c.shape);
      const f = (t: tf.Tensor) => tf.maxPool((c.relu ? tf.relu(t) : t) as tf.Tensor4D, c.k, c.s, c.padding);
      const y = f(x);
      return tf
        .grad((t) => tf.sum(tf.mul(f(t), tf.tensor(dys, y.shape))))(x)
        .dataSync()
        .slice();
    }),
  );
}

describe('maxPool gradient from forward ops', () => {
  it("is needed: the wasm MaxPoolGrad kernel of tfjs 4.22 disagrees with cpu; forgetless's, registered in its place, agrees", async () => {
    const c = cases[0] as Case;
    const xs = tf.tidy(() => tf.randomNormal(c.shape, 0, 1, 'float32', 3).dataSync().slice());
    const dys = tf.tidy(() => tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 4).dataSync().slice());
    const stock = grad('stock', xs, c, dys);
    await tf.setBackend('wasm');
    try {
      setConvFormulation('forward-conv'); // forgetless 0.1's state: the wasm package's own kernel
      expect(relErr(grad('stock', xs, c, dys), stock)).toBeGreaterThan(0.01);
      setConvFormulation('im2col');
      expect(relErr(grad('stock', xs, c, dys), stock)).toBeLessThanOrEqual(1e-6);
    } finally {
      setConvFormulation('im2col');
      await tf.setBackend('cpu');
    }
  });

  it.each(cases)('equals the cpu stock gradient, ties included, on cpu and on wasm: %o', async (c) => {
    const xs = tf.tidy(() => tf.randomNormal(c.shape, 0, 1, 'float32', 3).dataSync().slice());
    const yShape = tf.tidy(() => tf.maxPool(tf.zeros(c.shape) as tf.Tensor4D, c.k, c.s, c.padding).shape);
    const dys = tf.tidy(() => tf.randomNormal(yShape, 0, 1, 'float32', 4).dataSync().slice());
    const stock = grad('stock', xs, c, dys);
    expect(relErr(grad('custom', xs, c, dys), stock)).toBeLessThanOrEqual(1e-6);
    await tf.setBackend('wasm');
    try {
      expect(relErr(grad('auto', xs, c, dys), stock)).toBeLessThanOrEqual(1e-6);
    } finally {
      await tf.setBackend('cpu');
    }
  });

  // the SIMD kernel (wasm, 'auto'): the stems of InceptionV3 and ResNet (3×3 stride 2), 'same' padding on both
  // sides, channels not a multiple of 4 (the scalar tail), overlapping and non-square windows, ties after a ReLU
  type SimdCase = { shape: [number, number, number, number]; k: [number, number]; s: [number, number]; padding: 'same' | 'valid'; relu?: boolean };
  const simdCases: SimdCase[] = [
    { shape: [2, 11, 11, 8], k: [3, 3], s: [2, 2], padding: 'valid' },
    { shape: [2, 12, 10, 13], k: [3, 3], s: [2, 2], padding: 'same' },
    { shape: [3, 9, 9, 6], k: [3, 3], s: [1, 1], padding: 'same', relu: true },
    { shape: [2, 8, 8, 4], k: [2, 2], s: [2, 2], padding: 'valid', relu: true },
    { shape: [1, 7, 10, 19], k: [2, 3], s: [1, 2], padding: 'same' },
    { shape: [2, 5, 5, 3], k: [3, 3], s: [3, 3], padding: 'same' },
  ];
  it.each(simdCases)(
    "by the SIMD kernel on wasm ('auto') equals the cpu stock gradient within 1e-6, ties included, and the composed one; one kernel call, no tensor left: %o",
    async (c) => {
      const xs = tf.tidy(() => tf.randomNormal(c.shape, 0, 1, 'float32', 13).dataSync().slice());
      const pooled = (t: tf.Tensor) => tf.maxPool((c.relu ? tf.relu(t) : t) as tf.Tensor4D, c.k, c.s, c.padding);
      const yShape = tf.tidy(() => pooled(tf.zeros(c.shape)).shape);
      const dys = tf.tidy(() => tf.randomNormal(yShape, 0, 1, 'float32', 14).dataSync().slice());
      const gradOf = (mode: GradientMode) =>
        withGradientMode(mode, () =>
          tf.tidy(() =>
            tf
              .grad((t) => tf.sum(tf.mul(pooled(t), tf.tensor(dys, yShape))))(tf.tensor(xs, c.shape))
              .dataSync()
              .slice(),
          ),
        );
      const stock = gradOf('stock');
      if (c.relu) expect(Array.from(xs).filter((v) => v <= 0).length, 'ties: windows of zeros after the ReLU').toBeGreaterThan(xs.length / 4);
      await tf.setBackend('wasm');
      setConvFormulation('auto');
      try {
        const before = simdKernelsStatus().calls.max_pool_grad ?? 0;
        await expectNoLeak(() => {
          expect(relErr(gradOf('auto'), stock), 'auto (SIMD kernel)').toBeLessThanOrEqual(1e-6);
        });
        expect((simdKernelsStatus().calls.max_pool_grad ?? 0) - before, 'kernel calls').toBe(1);
        // maxPoolGrad itself, against the composed form ('composed': the SIMD module off)
        const [got, composed] = tf.tidy(() => {
          const x = tf.tensor(xs, c.shape) as tf.Tensor4D;
          const xin = (c.relu ? tf.relu(x) : x) as tf.Tensor4D;
          const y = tf.maxPool(xin, c.k, c.s, c.padding);
          const dy = tf.tensor(dys, yShape) as tf.Tensor4D;
          return [
            maxPoolGrad(xin, y, dy, c.k, c.s, c.padding).dataSync().slice(),
            withConvFormulation('composed', () => maxPoolGrad(xin, y, dy, c.k, c.s, c.padding).dataSync().slice()),
          ];
        });
        expect(relErr(got, composed), 'against the composed form').toBeLessThanOrEqual(1e-6);
      } finally {
        setConvFormulation('im2col');
        await tf.setBackend('cpu');
      }
    },
  );

  it('the kernel writes nothing but ∂x in the memory it imports, both variants, and passes each window its δ at its first maximum (a hand computation, ties and NaN)', () => {
    const [n, h, w, c, kh, kw, sh, sw] = [2, 7, 6, 5, 3, 3, 2, 2];
    const ph = poolAxis(h, kh, sh, 'same');
    const pw = poolAxis(w, kw, sw, 'same');
    const [ho, wo] = [ph.out, pw.out];
    // values from a small set, so that windows tie; one NaN
    const x = Float32Array.from({ length: n * h * w * c }, (_, i) => ((i * 7919) % 5) - 2);
    x[17] = Number.NaN;
    const at = (b: number, i: number, j: number, k: number, hh: number, ww: number) => ((b * hh + i) * ww + j) * c + k;
    const y = new Float32Array(n * ho * wo * c);
    const dy = Float32Array.from({ length: n * ho * wo * c }, (_, i) => 0.5 + (i % 7));
    // by hand: the forward's output (max over the taps inside the image, NaN taken as tfjs's XNNPACK does not matter: y is given), and ∂x
    const want = new Float64Array(n * h * w * c);
    let ties = 0;
    for (let b = 0; b < n; b++)
      for (let i = 0; i < ho; i++)
        for (let j = 0; j < wo; j++)
          for (let k = 0; k < c; k++) {
            const taps: number[] = [];
            for (let a = 0; a < kh; a++)
              for (let e = 0; e < kw; e++) {
                const r = i * sh - ph.before + a;
                const q = j * sw - pw.before + e;
                if (r >= 0 && r < h && q >= 0 && q < w) taps.push(at(b, r, q, k, h, w));
              }
            const m = Math.max(...taps.map((t) => x[t] as number).filter((v) => !Number.isNaN(v)));
            const o = at(b, i, j, k, ho, wo);
            y[o] = m;
            const first = taps.find((t) => x[t] === m) as number;
            if (taps.filter((t) => x[t] === m).length > 1) ties++;
            want[first] = (want[first] as number) + (dy[o] as number);
          }
    for (const shared of [false, true]) {
      const { call, heap } = rawSimdModule(shared);
      const off = { x: 1001, y: 3001, dy: 4001, dx: 5001 };
      heap.set(x, off.x);
      heap.set(y, off.y);
      heap.set(dy, off.dy);
      const before = heap.slice();
      call('max_pool_grad', off.x * 4, off.y * 4, off.dy * 4, off.dx * 4, n, h, w, c, ho, wo, kh, kw, sh, sw, ph.before, pw.before);
      expectWritesOnly(heap, before, [[off.dx, n * h * w * c]], `${shared ? 'shared' : 'plain'}: max_pool_grad`);
      expect(relErr(heap.subarray(off.dx, off.dx + n * h * w * c), Float32Array.from(want)), shared ? 'shared' : 'plain').toBeLessThanOrEqual(1e-6);
    }
    // the NaN got nothing, and windows had ties that only their first maximum took
    expect(want[17]).toBe(0);
    expect(ties, 'windows with tied maxima').toBeGreaterThan(20);
  });
});

/**
 * avgPool as an independent formulation on cpu, differentiated by tfjs's stock autodiff (PadV2 and
 * Conv2D, whose gradients are right): x padded with zeros as the pooling pads it, each channel's
 * window sums by a Conv2D with a block-diagonal ones filter over the padded input ('valid'), divided by
 * the number of each window's taps inside the image, counted in JavaScript. Returns y and ∂(Σ y·dy)/∂x.
 */
function avgPoolReference(xs: Float32Array, shape: [number, number, number, number], k: [number, number], s: [number, number], pad: 'same' | 'valid', dys: Float32Array) {
  const [n, h, w, c] = shape;
  const info = tf.backend_util.computePool2DInfo(shape, k, s, 1, pad);
  const { top, left, bottom, right } = info.padInfo;
  const [ho, wo] = [info.outHeight, info.outWidth];
  const counts = new Float32Array(ho * wo);
  for (let i = 0; i < ho; i++)
    for (let j = 0; j < wo; j++) {
      const rows = Math.min(h, i * s[0] - top + k[0]) - Math.max(0, i * s[0] - top);
      const cols = Math.min(w, j * s[1] - left + k[1]) - Math.max(0, j * s[1] - left);
      counts[i * wo + j] = rows * cols;
    }
  return withGradientMode('stock', () =>
    tf.tidy(() => {
      const ones = tf.tensor4d(
        Float32Array.from({ length: k[0] * k[1] * c * c }, (_, i) => (Math.floor(i / c) % c === i % c ? 1 : 0)),
        [k[0], k[1], c, c],
      );
      const count = tf.tensor4d(counts, [1, ho, wo, 1]);
      const f = (t: tf.Tensor) =>
        tf.div(
          tf.conv2d(
            tf.pad(t as tf.Tensor4D, [
              [0, 0],
              [top, bottom],
              [left, right],
              [0, 0],
            ]) as tf.Tensor4D,
            ones,
            s,
            'valid',
          ),
          count,
        );
      const x = tf.tensor4d(xs, shape);
      const dy = tf.tensor4d(dys, [n, ho, wo, c]);
      return {
        y: f(x).dataSync().slice(),
        dx: tf
          .grad((t) => tf.sum(tf.mul(f(t), dy)))(x)
          .dataSync()
          .slice(),
      };
    }),
  );
}

describe('avgPool gradient: the derivative of its forward', () => {
  type AvgCase = { shape: [number, number, number, number]; k: [number, number]; s: [number, number]; padding: 'same' | 'valid' };
  const avgCases: AvgCase[] = [
    // InceptionV3's pool branches: 3×3 stride 1 'same'
    { shape: [2, 8, 8, 8], k: [3, 3], s: [1, 1], padding: 'same' },
    { shape: [2, 7, 9, 13], k: [3, 3], s: [2, 2], padding: 'same' },
    { shape: [1, 5, 7, 6], k: [2, 2], s: [2, 2], padding: 'same' },
    { shape: [2, 6, 7, 5], k: [2, 3], s: [1, 2], padding: 'same' },
    { shape: [2, 8, 8, 4], k: [3, 3], s: [2, 2], padding: 'valid' },
  ];
  it.each(avgCases)(
    "equals an independent formulation's stock gradient within 1e-6 on cpu (every gradient mode) and on wasm ('auto': one SIMD kernel; 'composed'), where tfjs's own AvgPoolGrad is off for 'same': %o",
    async (c) => {
      const xs = tf.tidy(() => tf.randomNormal(c.shape, 0, 1, 'float32', 21).dataSync().slice() as Float32Array);
      const yShape = tf.tidy(() => tf.avgPool(tf.zeros(c.shape) as tf.Tensor4D, c.k, c.s, c.padding).shape);
      const dys = tf.tidy(() => tf.randomNormal(yShape, 0, 1, 'float32', 22).dataSync().slice() as Float32Array);
      const ref = avgPoolReference(xs, c.shape, c.k, c.s, c.padding, dys);
      const gradOf = (mode: GradientMode) =>
        withGradientMode(mode, () =>
          tf.tidy(() => {
            const y = tf.avgPool(tf.tensor4d(xs, c.shape), c.k, c.s, c.padding);
            expect(relErr(y.dataSync(), ref.y), `${mode}: the forward`).toBeLessThanOrEqual(1e-6);
            return tf
              .grad((t) => tf.sum(tf.mul(tf.avgPool(t as tf.Tensor4D, c.k, c.s, c.padding), tf.tensor(dys, yShape))))(tf.tensor4d(xs, c.shape))
              .dataSync()
              .slice();
          }),
        );
      // tfjs's own kernel, for the record: right without padding, off where windows overlap it
      const tfjsOwn = tf.tidy(() =>
        (
          tf
            .engine()
            .runKernel('AvgPoolGrad', { dy: tf.tensor(dys, yShape), input: tf.tensor4d(xs, c.shape) }, { filterSize: c.k, strides: c.s, pad: c.padding } as never) as tf.Tensor
        )
          .dataSync()
          .slice(),
      );
      const { top, left, bottom, right } = tf.backend_util.computePool2DInfo(c.shape, c.k, c.s, 1, c.padding).padInfo;
      const padded = top + left + bottom + right > 0;
      if (padded) expect(relErr(tfjsOwn, ref.dx), "tfjs's AvgPoolGrad against the derivative").toBeGreaterThan(0.05);
      else expect(relErr(tfjsOwn, ref.dx), "tfjs's AvgPoolGrad, nothing padded").toBeLessThanOrEqual(1e-6);
      for (const mode of ['stock', 'custom', 'auto'] as const) expect(relErr(gradOf(mode), ref.dx), `cpu, ${mode}`).toBeLessThanOrEqual(1e-6);
      await tf.setBackend('wasm');
      setConvFormulation('auto');
      try {
        const before = simdKernelsStatus().calls.avg_pool_grad ?? 0;
        await expectNoLeak(() => {
          expect(relErr(gradOf('auto'), ref.dx), 'wasm, auto (SIMD kernel)').toBeLessThanOrEqual(1e-6);
        });
        expect((simdKernelsStatus().calls.avg_pool_grad ?? 0) - before, 'kernel calls').toBe(1);
        setConvFormulation('composed');
        expect(relErr(gradOf('auto'), ref.dx), 'wasm, composed').toBeLessThanOrEqual(1e-6);
        expect(relErr(gradOf('stock'), ref.dx), 'wasm, stock mode').toBeLessThanOrEqual(1e-6);
      } finally {
        setConvFormulation('im2col');
        await tf.setBackend('cpu');
      }
    },
  );

  it('names the shapes when dy does not fit x', () => {
    tf.tidy(() => {
      expect(() => avgPoolGrad(tf.zeros([1, 6, 6, 2]) as tf.Tensor4D, tf.zeros([1, 5, 6, 2]) as tf.Tensor4D, 3, 1, 'same')).toThrow(
        /dy \[1,5,6,2\] does not fit the pooling of x \[1,6,6,2\]/,
      );
    });
  });

  it('the kernel writes nothing but ∂x in the memory it imports, both variants, and equals a hand computation', () => {
    const [n, h, w, c, kh, kw, sh, sw] = [2, 5, 6, 7, 3, 3, 2, 2];
    const ph = poolAxis(h, kh, sh, 'same');
    const pw = poolAxis(w, kw, sw, 'same');
    const [ho, wo] = [ph.out, pw.out];
    const dy = Float32Array.from({ length: n * ho * wo * c }, (_, i) => Math.sin(i) + 0.1);
    const want = new Float64Array(n * h * w * c);
    for (let b = 0; b < n; b++)
      for (let i = 0; i < ho; i++)
        for (let j = 0; j < wo; j++) {
          const taps: [number, number][] = [];
          for (let a = 0; a < kh; a++)
            for (let e = 0; e < kw; e++) {
              const r = i * sh - ph.before + a;
              const q = j * sw - pw.before + e;
              if (r >= 0 && r < h && q >= 0 && q < w) taps.push([r, q]);
            }
          for (let k = 0; k < c; k++)
            for (const [r, q] of taps) {
              const p = ((b * h + r) * w + q) * c + k;
              want[p] = (want[p] as number) + (dy[((b * ho + i) * wo + j) * c + k] as number) / taps.length;
            }
        }
    for (const shared of [false, true]) {
      const { call, heap } = rawSimdModule(shared);
      const off = { dy: 1001, dx: 3001 };
      heap.set(dy, off.dy);
      const before = heap.slice();
      call('avg_pool_grad', off.dy * 4, off.dx * 4, n, h, w, c, ho, wo, kh, kw, sh, sw, ph.before, pw.before);
      expectWritesOnly(heap, before, [[off.dx, n * h * w * c]], `${shared ? 'shared' : 'plain'}: avg_pool_grad`);
      expect(relErr(heap.subarray(off.dx, off.dx + n * h * w * c), Float32Array.from(want)), shared ? 'shared' : 'plain').toBeLessThanOrEqual(1e-6);
    }
  });
});
