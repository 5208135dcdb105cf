import '@tensorflow/tfjs-backend-wasm';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { depthwisePerExampleSum, depthwiseSimd, disableDepthwiseSimd, prepareDepthwiseSimd, simdKernelsStatus, whenSimdKernelsReady } from './depthwise-simd.js';
import { DEPTHWISE_SIMD_SHARED_WASM, DEPTHWISE_SIMD_WASM } from './depthwise-simd.wasm.js';
import { dilateKernel } from './depthwise.test-helpers.js';
import { withConvFormulation } from './formulation.js';
import { depthwiseBackpropFilter, depthwiseBackpropInput, withGradientMode } from './gradients.js';
import { ensureWasmKernels, isForgetlessKernel } from './wasm-kernels.js';

type Pad = 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
type Case = { n: number; h: number; w: number; c: number; m: number; k: [number, number]; s: [number, number]; d?: [number, number]; pad: Pad };
const cases: Case[] = [
  { n: 1, h: 7, w: 9, c: 6, m: 1, k: [3, 3], s: [1, 1], pad: 'same' },
  { n: 3, h: 9, w: 8, c: 13, m: 1, k: [3, 3], s: [2, 2], pad: 'same' },
  { n: 3, h: 11, w: 10, c: 8, m: 2, k: [5, 5], s: [1, 1], pad: 'valid' },
  { n: 1, h: 13, w: 12, c: 6, m: 1, k: [5, 5], s: [2, 2], pad: 'valid' },
  { n: 1, h: 9, w: 11, c: 13, m: 2, k: [3, 3], s: [1, 1], d: [2, 2], pad: 'same' },
  { n: 3, h: 10, w: 9, c: 5, m: 1, k: [3, 3], s: [1, 1], d: [2, 1], pad: 'valid' },
  {
    n: 3,
    h: 8,
    w: 9,
    c: 5,
    m: 1,
    k: [3, 3],
    s: [2, 2],
    pad: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  },
  { n: 1, h: 7, w: 6, c: 4, m: 3, k: [2, 4], s: [2, 1], pad: 'same' },
  { n: 2, h: 5, w: 7, c: 7, m: 1, k: [1, 1], s: [1, 1], pad: 'valid' },
  { n: 2, h: 14, w: 14, c: 36, m: 1, k: [3, 3], s: [1, 1], pad: 'same' },
  // narrow images (2–8 columns, 3 wide, unit stride, padding 1 each side): whole rows in registers, edges included
  { n: 2, h: 6, w: 6, c: 16, m: 1, k: [3, 3], s: [1, 1], pad: 'same' },
  { n: 2, h: 3, w: 3, c: 12, m: 1, k: [3, 3], s: [1, 1], pad: 'same' },
  { n: 1, h: 5, w: 2, c: 4, m: 1, k: [3, 3], s: [1, 1], pad: 'same' },
  { n: 1, h: 4, w: 8, c: 8, m: 1, k: [3, 3], s: [1, 1], pad: 'same' },
  { n: 1, h: 9, w: 7, c: 4, m: 2, k: [3, 3], s: [1, 1], d: [2, 1], pad: 'same' },
  { n: 1, h: 5, w: 5, c: 6, m: 1, k: [3, 3], s: [1, 1], pad: 'same' }, // 6 channels: not a multiple of 4, the general rows
  {
    n: 1,
    h: 4,
    w: 4,
    c: 8,
    m: 1,
    k: [3, 3],
    s: [1, 1],
    pad: [
      [0, 0],
      [0, 2],
      [1, 1],
      [0, 0],
    ],
  },
  { n: 2, h: 15, w: 13, c: 24, m: 1, k: [3, 3], s: [2, 2], pad: 'same' },
  { n: 2, h: 11, w: 21, c: 13, m: 1, k: [3, 3], s: [2, 2], pad: 'same' },
  { n: 1, h: 9, w: 23, c: 6, m: 2, k: [3, 3], s: [2, 2], pad: 'valid' },
  { n: 2, h: 7, w: 37, c: 8, m: 1, k: [3, 3], s: [2, 2], pad: 'same' }, // the stride-2 forward's blocks: 17 interior columns = 6 + 6 + 5
  // the stride-2 forward's other splits of a row's interior columns: 6, 4 + 3, 4 + 4, 5 + 4
  { n: 1, h: 5, w: 13, c: 4, m: 1, k: [3, 3], s: [2, 2], pad: 'valid' },
  { n: 1, h: 5, w: 15, c: 8, m: 1, k: [3, 3], s: [2, 2], pad: 'valid' },
  { n: 1, h: 6, w: 17, c: 4, m: 1, k: [3, 3], s: [2, 2], pad: 'valid' },
  { n: 1, h: 5, w: 19, c: 12, m: 1, k: [3, 3], s: [2, 2], pad: 'valid' },
  {
    // padding wider than the filter: the unit-stride ∂x's transposed padding is negative
    n: 1,
    h: 5,
    w: 6,
    c: 5,
    m: 1,
    k: [3, 3],
    s: [1, 1],
    pad: [
      [0, 0],
      [3, 1],
      [0, 4],
      [0, 0],
    ],
  },
  {
    n: 1,
    h: 12,
    w: 20,
    c: 9,
    m: 1,
    k: [3, 3],
    s: [1, 1],
    pad: [
      [0, 0],
      [2, 0],
      [0, 2],
      [0, 0],
    ],
  },
];

const name = (c: Case) =>
  `${c.k.join('×')} stride ${c.s.join(',')}${c.d ? ` dilation ${c.d.join(',')}` : ''} ${typeof c.pad === 'string' ? c.pad : 'explicit'}, [${c.n},${c.h},${c.w},${c.c}]×${c.m}`;

interface Host {
  x: Float32Array;
  f: Float32Array;
  dy: Float32Array;
  yShape: number[];
}

/** Inputs, and the cpu references: tfjs's forward op, and its stock gradients (dilated: through the zero-dilated kernel). */
function reference(c: Case, seed: number): { host: Host; y: Float32Array; dx: Float32Array; df: Float32Array } {
  return tf.tidy(() => {
    const x = tf.randomNormal([c.n, c.h, c.w, c.c], 0, 1, 'float32', seed) as tf.Tensor4D;
    const f = tf.randomNormal([...c.k, c.c, c.m], 0, 0.3, 'float32', seed + 1) as tf.Tensor4D;
    const y = tf.depthwiseConv2d(x, f, c.s, c.pad, 'NHWC', c.d ?? 1);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', seed + 2);
    const fwd = (xx: tf.Tensor4D, ff: tf.Tensor4D) => (c.d ? tf.depthwiseConv2d(xx, dilateKernel(ff, c.d), 1, c.pad) : tf.depthwiseConv2d(xx, ff, c.s, c.pad));
    const [dx, df] = withGradientMode('stock', () => tf.grads((xx, ff) => tf.sum(tf.mul(fwd(xx as tf.Tensor4D, ff as tf.Tensor4D), dy)))([x, f]));
    const data = (t: tf.Tensor) => t.dataSync() as Float32Array;
    return { host: { x: data(x), f: data(f), dy: data(dy), yShape: y.shape }, y: data(y), dx: data(dx as tf.Tensor), df: data(df as tf.Tensor) };
  });
}

const refs = new Map<Case, ReturnType<typeof reference>>();
function refOf(c: Case) {
  let r = refs.get(c);
  if (!r) {
    if (tf.getBackend() !== 'cpu') throw new Error(`the reference is computed on cpu, not on ${tf.getBackend()}`);
    r = reference(c, 10 + cases.indexOf(c) * 7);
    refs.set(c, r);
  }
  return r;
}

/** Forward, ∂x and ∂filter by the wasm kernels (DepthwiseConv2dNative and the two backprop kernels). */
function kernels(c: Case, h: Host): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(h.x, [c.n, c.h, c.w, c.c]);
    const f = tf.tensor4d(h.f, [...c.k, c.c, c.m]);
    const dy = tf.tensor(h.dy, h.yShape);
    const attrs = { strides: c.s, pad: c.pad, dilations: c.d ?? [1, 1], dimRoundingMode: undefined };
    const y = tf.depthwiseConv2d(x, f, c.s, c.pad, 'NHWC', c.d ?? 1);
    const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...attrs, inputShape: x.shape } as never) as tf.Tensor;
    const df = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: f.shape } as never) as tf.Tensor;
    expect(dx.shape).toEqual(x.shape);
    expect(df.shape).toEqual(f.shape);
    return [y, dx, df].map((t) => t.dataSync() as Float32Array);
  });
}

describe("forgetless's SIMD depthwise kernels on wasm", () => {
  // back on cpu after every test, a failed one too: the next one's reference must not be computed by the kernels under test
  afterEach(async () => {
    disableDepthwiseSimd(false);
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(cases.map((c) => [name(c), c] as const))('forward, ∂x and ∂filter match tfjs on cpu within 1e-5: %s', async (_, c) => {
    const r = refOf(c);
    await tf.setBackend('wasm');
    ensureWasmKernels();
    expect(depthwiseSimd(tf.backend())).toBeDefined();
    await expectNoLeak(() => {
      const [y, dx, df] = kernels(c, r.host);
      expect(relErr(y as Float32Array, r.y)).toBeLessThanOrEqual(1e-5);
      expect(relErr(dx as Float32Array, r.dx)).toBeLessThanOrEqual(1e-5);
      expect(relErr(df as Float32Array, r.df)).toBeLessThanOrEqual(1e-5);
    });
    await tf.setBackend('cpu');
  });

  it("forgetless's gradient functions take the kernels on wasm (dilated too), and fall back to the composed ops when the module is off", async () => {
    for (const c of [cases[1], cases[4]] as Case[]) {
      const r = refOf(c);
      await tf.setBackend('wasm');
      const pad = c.pad as 'same' | 'valid';
      for (const off of [false, true]) {
        disableDepthwiseSimd(off);
        expect(depthwiseSimd(tf.backend()) === undefined).toBe(off);
        await expectNoLeak(() => {
          const [dx, df] = tf.tidy(() => {
            const x = tf.tensor4d(r.host.x, [c.n, c.h, c.w, c.c]);
            const f = tf.tensor4d(r.host.f, [...c.k, c.c, c.m]);
            const dy = tf.tensor4d(r.host.dy, r.host.yShape as [number, number, number, number]);
            return [depthwiseBackpropInput(dy, f, x.shape, c.s, pad, c.d ?? 1), depthwiseBackpropFilter(x, dy, f.shape, c.s, pad, c.d ?? 1)].map((t) => t.dataSync());
          });
          expect(relErr(dx as Float32Array, r.dx)).toBeLessThanOrEqual(1e-5);
          expect(relErr(df as Float32Array, r.df)).toBeLessThanOrEqual(1e-5);
        });
      }
      await tf.setBackend('cpu');
    }
  });

  it('are not used when the engine does not validate the module (no SIMD), when tfjs is told not to use SIMD, nor under the composed formulation', async () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const fake = { wasm: { asm: { memory } } };
    const validate = vi.spyOn(WebAssembly, 'validate').mockReturnValue(false);
    try {
      expect(depthwiseSimd(fake)).toBeUndefined();
      expect(validate).toHaveBeenCalled();
    } finally {
      validate.mockRestore();
    }
    const other = { wasm: { asm: { memory: new WebAssembly.Memory({ initial: 2 }) } } };
    tf.env().set('WASM_HAS_SIMD_SUPPORT', false); // useBackend('wasm', { simd: false })
    try {
      expect(depthwiseSimd(other)).toBeUndefined();
    } finally {
      tf.env().set('WASM_HAS_SIMD_SUPPORT', true);
    }
    expect(depthwiseSimd(other)).toBeDefined();
    const c = cases[0] as Case;
    const r = refOf(c);
    await tf.setBackend('wasm');
    // 'composed' is 'auto' but for the depthwise kernels: forgetless's other wasm kernels stay in place
    withConvFormulation('composed', () => {
      for (const k of ['Sum', 'Mean', 'Identity', 'LeakyRelu', 'DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropFilter'])
        expect(isForgetlessKernel(tf.getKernel(k, 'wasm') as tf.KernelConfig), k).toBe(true);
    });
    const got = withConvFormulation('composed', () => kernels(c, r.host));
    got.forEach((g, i) => expect(relErr(g, [r.y, r.dx, r.df][i] as Float32Array)).toBeLessThanOrEqual(1e-5));
    await tf.setBackend('cpu');
  });

  it("compile asynchronously where a synchronous compile is refused (browsers' main thread), the composed ops serving meanwhile", async () => {
    const fake = { wasm: { asm: { memory: new WebAssembly.Memory({ initial: 2 }) } } };
    const refuse = vi.spyOn(WebAssembly, 'Module').mockImplementation(() => {
      throw new RangeError('WebAssembly.Module(): synchronous compile refused (test)');
    });
    try {
      expect(depthwiseSimd(fake)).toBeUndefined();
      expect(refuse).toHaveBeenCalledTimes(1);
      expect(depthwiseSimd(fake), 'no second synchronous try while compiling').toBeUndefined();
      expect(refuse).toHaveBeenCalledTimes(1);
      await prepareDepthwiseSimd(fake);
    } finally {
      refuse.mockRestore();
    }
    expect(depthwiseSimd(fake)?.dw_forward).toBeTypeOf('function');
  });

  it("report whether they run, their variant and each kernel's calls (simdKernelsStatus), and why not", async () => {
    await tf.setBackend('cpu');
    expect(simdKernelsStatus()).toMatchObject({ active: false, state: 'not-wasm' });
    await tf.setBackend('wasm');
    ensureWasmKernels();
    const status = await whenSimdKernelsReady();
    expect(status).toMatchObject({ active: true, state: 'active', variant: 'single-thread' });
    expect(['sync', 'async']).toContain(status.compile);
    const c = cases[0] as Case;
    const h = refOf(c).host;
    const forward = () => tf.tidy(() => void tf.depthwiseConv2d(tf.tensor4d(h.x, [c.n, c.h, c.w, c.c]), tf.tensor4d(h.f, [...c.k, c.c, c.m]), c.s, c.pad as 'same').dataSync());
    const calls = () => simdKernelsStatus().calls;
    const before = calls();
    forward();
    expect(calls().dw_forward).toBe((before.dw_forward ?? 0) + 1);
    expect(calls().dw_filter_grad).toBe(before.dw_filter_grad);
    disableDepthwiseSimd(true);
    expect(simdKernelsStatus()).toMatchObject({ active: false, state: 'disabled' });
    forward();
    expect(calls().dw_forward, 'the fallback served').toBe((before.dw_forward ?? 0) + 1);
    disableDepthwiseSimd(false);
    tf.env().set('WASM_HAS_SIMD_SUPPORT', false);
    try {
      expect(simdKernelsStatus()).toMatchObject({ active: false, state: 'simd-off' });
    } finally {
      tf.env().set('WASM_HAS_SIMD_SUPPORT', true);
    }
    await tf.setBackend('cpu');
  });

  it('sum per-example filter gradients squared and absolute (Fisher, MAS) as a per-example loop of stock gradients on cpu', async () => {
    for (const c of [cases[1], cases[2], cases[5], cases[6]] as Case[]) {
      const r = refOf(c);
      // the reference: example by example, tfjs's stock ∂W on cpu (dilated: through the zero-dilated kernel)
      const ref = tf.tidy(() => {
        const f = tf.tensor4d(r.host.f, [...c.k, c.c, c.m]);
        const per = Array.from({ length: c.n }, (_, n) => {
          const x = tf.slice(tf.tensor4d(r.host.x, [c.n, c.h, c.w, c.c]), n, 1) as tf.Tensor4D;
          const dy = tf.slice(tf.tensor(r.host.dy, r.host.yShape), n, 1);
          const fwd = (ff: tf.Tensor4D) => (c.d ? tf.depthwiseConv2d(x, dilateKernel(ff, c.d), 1, c.pad) : tf.depthwiseConv2d(x, ff, c.s, c.pad));
          return withGradientMode('stock', () => tf.grad((ff) => tf.sum(tf.mul(fwd(ff as tf.Tensor4D), dy)))(f));
        });
        return { square: tf.addN(per.map((g) => tf.square(g))).dataSync(), abs: tf.addN(per.map((g) => tf.abs(g))).dataSync() };
      });
      await tf.setBackend('wasm');
      await expectNoLeak(() => {
        for (const stat of ['square', 'abs'] as const) {
          const got = tf.tidy(() => {
            const x = tf.tensor4d(r.host.x, [c.n, c.h, c.w, c.c]);
            const dy = tf.tensor4d(r.host.dy, r.host.yShape as [number, number, number, number]);
            const s = depthwisePerExampleSum(x, dy, [...c.k, c.c, c.m], c.s, c.pad, c.d ?? 1, stat);
            expect(s?.shape).toEqual([...c.k, c.c, c.m]);
            return (s as tf.Tensor).dataSync();
          });
          expect(relErr(got as Float32Array, ref[stat] as Float32Array), `${name(c)} ${stat}`).toBeLessThanOrEqual(1e-5);
        }
        disableDepthwiseSimd(true);
        const off = tf.tidy(() => depthwisePerExampleSum(tf.zeros([1, 4, 4, 2]), tf.zeros([1, 4, 4, 2]), [3, 3, 2, 1], 1, 'same', 1, 'abs'));
        expect(off).toBeUndefined();
        disableDepthwiseSimd(false);
      });
      await tf.setBackend('cpu');
    }
  });

  it('write nothing but their output in the memory they import (no stack, no globals), both variants', () => {
    const c = cases[4] as Case; // dilated, depth multiplier 2 (expand and reduce)
    const r = refOf(c);
    const k = c.c * c.m;
    for (const [variant, b64, shared] of [
      ['plain', DEPTHWISE_SIMD_WASM, false],
      ['shared', DEPTHWISE_SIMD_SHARED_WASM, true],
    ] as const) {
      const memory = new WebAssembly.Memory({ initial: 4, maximum: 16, shared } as WebAssembly.MemoryDescriptor);
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
      const heap = new Float32Array(memory.buffer);
      heap.fill(Number.NaN);
      const xe = c.n * c.h * c.w * k;
      const at = { x: 1000, xe: 20000, f: 40000, dy: 41000, out: 60000 }; // float indices
      heap.set(r.host.x, at.x);
      heap.set(r.host.f, at.f);
      heap.set(r.host.dy, at.dy);
      let before = heap.slice();
      /** Throws unless only heap[from, from + len) changed since the last call. */
      const onlyWrote = (from: number, len: number, what: string) => {
        for (let i = 0; i < heap.length; i++) {
          if (i >= from && i < from + len) continue;
          if (!Object.is(heap[i], before[i])) throw new Error(`${variant} ${what}: wrote float ${i}, outside its output [${from}, ${from + len})`);
        }
        before = heap.slice();
      };
      const info = tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.c], [...c.k, c.c, c.m] as never, c.s, c.d ?? 1, c.pad as 'same', undefined, true);
      const g = [c.n, c.h, c.w, k, ...c.k, ...c.s, ...(c.d ?? [1, 1]), info.padInfo.top, info.padInfo.left, info.outHeight, info.outWidth];
      const call = (f: string, ...args: number[]) => (ex[f] as (...a: number[]) => void)(...args);
      call('dw_expand', at.x * 4, at.xe * 4, c.n * c.h * c.w, c.c, c.m);
      onlyWrote(at.xe, xe, 'dw_expand');
      call('dw_forward', at.xe * 4, at.f * 4, at.out * 4, ...g);
      expect(relErr(heap.subarray(at.out, at.out + r.y.length), r.y)).toBeLessThanOrEqual(1e-5);
      onlyWrote(at.out, r.y.length, 'dw_forward');
      call('dw_filter_grad', at.xe * 4, at.dy * 4, at.out * 4, ...g);
      expect(relErr(heap.subarray(at.out, at.out + r.df.length), r.df)).toBeLessThanOrEqual(1e-5);
      onlyWrote(at.out, r.df.length, 'dw_filter_grad');
      call('dw_input_grad', at.dy * 4, at.f * 4, at.xe * 4, ...g);
      onlyWrote(at.xe, xe, 'dw_input_grad');
      call('dw_reduce', at.xe * 4, at.out * 4, c.n * c.h * c.w, c.c, c.m);
      expect(relErr(heap.subarray(at.out, at.out + r.dx.length), r.dx)).toBeLessThanOrEqual(1e-5);
      onlyWrote(at.out, r.dx.length, 'dw_reduce');
    }
  });

  it('give the forward and the input gradient of 3-wide filters on 400 random shapes (1, 3 or 5 rows, stride 1 or 2 each way, any padding) as a per-element loop', () => {
    // the row kernels' edges, runs and leftovers: odd widths, a leading odd pixel (odd left padding), channels not a multiple of 4
    const bytes = Uint8Array.from(atob(DEPTHWISE_SIMD_WASM), (ch) => ch.charCodeAt(0));
    const memory = new WebAssembly.Memory({ initial: 64 });
    const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
    const forward = ex.dw_forward as (...a: number[]) => void;
    const inputGrad = ex.dw_input_grad as (...a: number[]) => void;
    const heap = new Float32Array(memory.buffer);
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    const values = (n: number) => Float32Array.from({ length: n }, () => rnd() * 2 - 1);
    let shapes = 0;
    while (shapes < 400) {
      const [N, H, W, K, KH, SH, SW, PT, PL] = [int(1, 2), int(1, 14), int(1, 27), int(1, 13), [1, 3, 5][int(0, 2)] as number, int(1, 2), int(1, 2), int(0, 2), int(0, 2)];
      const HO = Math.floor((H + PT + int(0, 2) - KH) / SH) + 1;
      const WO = Math.floor((W + PL + int(0, 2) - 3) / SW) + 1;
      if (HO < 1 || WO < 1) continue;
      shapes++;
      const [nx, ny] = [N * H * W * K, N * HO * WO * K];
      const [x, w, dy] = [values(nx), values(KH * 3 * K), values(ny)];
      // float offsets at 8 mod 16 bytes, as tfjs places tensors; 64 NaNs after each output catch a write past it
      const at = { x: 2, w: nx + 10, dy: nx + w.length + 18, y: nx + w.length + ny + 26, dx: nx + w.length + 2 * ny + 98 };
      heap.set(x, at.x);
      heap.set(w, at.w);
      heap.set(dy, at.dy);
      heap.fill(Number.NaN, at.y, at.dx + nx + 64);
      const geometry = [N, H, W, K, KH, 3, SH, SW, 1, 1, PT, PL, HO, WO];
      forward(at.x * 4, at.w * 4, at.y * 4, ...geometry);
      inputGrad(at.dy * 4, at.w * 4, at.dx * 4, ...geometry);
      const [wantY, wantDx] = [new Float64Array(ny), new Float64Array(nx)];
      for (let n = 0; n < N; n++)
        for (let i = 0; i < HO; i++)
          for (let j = 0; j < WO; j++)
            for (let a = 0; a < KH; a++)
              for (let b = 0; b < 3; b++) {
                const p = i * SH + a - PT;
                const q = j * SW + b - PL;
                if (p < 0 || p >= H || q < 0 || q >= W) continue;
                for (let k = 0; k < K; k++) {
                  const [xi, yi, wv] = [((n * H + p) * W + q) * K + k, ((n * HO + i) * WO + j) * K + k, w[(a * 3 + b) * K + k] as number];
                  wantY[yi] = (wantY[yi] as number) + (x[xi] as number) * wv;
                  wantDx[xi] = (wantDx[xi] as number) + (dy[yi] as number) * wv;
                }
              }
      const shape = JSON.stringify({ N, H, W, K, KH, SH, SW, PT, PL, HO, WO });
      expect(relErr(heap.subarray(at.y, at.y + ny), Float32Array.from(wantY)), `forward ${shape}`).toBeLessThanOrEqual(1e-6);
      expect(relErr(heap.subarray(at.dx, at.dx + nx), Float32Array.from(wantDx)), `input gradient ${shape}`).toBeLessThanOrEqual(1e-6);
      expect(heap.subarray(at.y + ny, at.y + ny + 64).every(Number.isNaN), `${shape}: the forward wrote past y`).toBe(true);
      expect(heap.subarray(at.dx + nx, at.dx + nx + 64).every(Number.isNaN), `${shape}: the input gradient wrote past ∂x`).toBe(true);
    }
  });

  it('train a stock tfjs-layers MobileNet-style model (DepthwiseConv2D, SeparableConv2D, batch norm) on wasm as on cpu', async () => {
    const build = () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({
            inputShape: [13, 13, 3],
            filters: 8,
            kernelSize: 3,
            strides: 2,
            padding: 'same',
            activation: 'relu',
            kernelInitializer: 'glorotNormal',
            seed: 1,
          } as never),
          tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: 'glorotNormal', seed: 2 } as never), // no bias before batch norm (its gradient is 0)
          tfl.layers.batchNormalization(),
          tfl.layers.reLU({ maxValue: 6 }),
          tfl.layers.conv2d({ filters: 6, kernelSize: 1, kernelInitializer: 'glorotNormal', seed: 3 } as never),
          tfl.layers.separableConv2d({
            filters: 10,
            kernelSize: 3,
            strides: 2,
            depthMultiplier: 2,
            padding: 'same',
            depthwiseInitializer: 'glorotNormal',
            pointwiseInitializer: 'glorotNormal',
            seed: 4,
          } as never),
          tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'valid', activation: 'relu', depthwiseInitializer: 'glorotNormal', seed: 5 } as never),
          tfl.layers.globalAveragePooling2d({}),
          tfl.layers.dense({ units: 4, kernelInitializer: 'glorotNormal', seed: 6 } as never),
        ],
      });
    /** One SGD step (training mode): the weights after it. */
    const step = (model: tfl.LayersModel, xs: Float32Array) =>
      tf.tidy(() => {
        const x = tf.tensor4d(xs, [3, 13, 13, 3]);
        const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
        const { grads } = tf.variableGrads(() => tf.mean(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, vars);
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 0.5)));
        return vars.map((v) => v.dataSync().slice() as Float32Array);
      });
    const xs = tf.tidy(() => tf.randomNormal([3, 13, 13, 3], 0, 1, 'float32', 9).dataSync().slice() as Float32Array);
    const onCpu = build();
    const init = onCpu.getWeights().map((w) => ({ v: w.dataSync().slice(), s: w.shape }));
    const ref = step(onCpu, xs);
    onCpu.dispose();
    await tf.setBackend('wasm');
    ensureWasmKernels();
    expect(depthwiseSimd(tf.backend())).toBeDefined();
    const model = build();
    const ws = init.map((w) => tf.tensor(w.v, w.s));
    model.setWeights(ws);
    tf.dispose(ws);
    await expectNoLeak(() => {
      const got = step(model, xs);
      got.forEach((g, i) => expect(relErr(g, ref[i] as Float32Array), model.trainableWeights[i]?.name).toBeLessThanOrEqual(1e-5));
    });
    model.dispose();
    await tf.setBackend('cpu');
  });

  it('the committed module is what the C source builds to (clang 14 + lld)', (ctx) => {
    const clang = ['clang', 'clang-14'].find((c) => spawnSync(c, ['--version']).status === 0);
    if (!clang) {
      console.warn('depthwise-simd: clang is not installed, so the rebuild check is skipped (scripts/install-system-deps.sh installs clang and lld; CI runs it)');
      ctx.skip();
      return;
    }
    const script = join(dirname(fileURLToPath(import.meta.url)), '../../scripts/build-wasm.mjs');
    const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toContain('matches the source');
    expect(r.status).toBe(0);
  }, 60_000);
});
