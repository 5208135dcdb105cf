// Encodings checked against stock tf.io.decodeWeights (the independent reader).
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { affineQuantizationRange, encodeFloat16, encodeWeight, float32ToFloat16Bits, quantizeAffine } from './quantize.js';

let tensors = 0;
beforeEach(() => {
  tensors = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensors);
});

/** What stock tfjs reads from `data` under `spec`. */
function stockRead(data: Uint8Array, spec: tf.io.WeightsManifestEntry): Float32Array {
  const t = tf.io.decodeWeights(data.slice().buffer, [spec])[spec.name] as tf.Tensor;
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

function randomValues(n: number, seed: number, zeroFraction = 0): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => (rng.next() < zeroFraction ? 0 : rng.normal() * 0.3 + 0.05));
}

const spec = (name: string, n: number, quantization?: tf.io.WeightsManifestEntry['quantization']): tf.io.WeightsManifestEntry => ({
  name,
  shape: [n],
  dtype: 'float32',
  ...(quantization ? { quantization } : {}),
});

describe('float16', () => {
  // hand-computed: sign | exponent+15 << 10 | mantissa, subnormals k·2^-24, ties to even
  const reference: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff], // largest finite
    [65519, 0x7bff], // below the tie with 65536
    [65520, 0x7c00], // tie → even → Inf
    [2 ** -24, 0x0001], // smallest subnormal
    [-(2 ** -24), 0x8001],
    [2 ** -25, 0x0000], // tie between 0 and 2^-24 → 0
    [Math.fround(2 ** -25 * 1.0000001), 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 → 2
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -14 - 2 ** -24, 0x03ff], // largest subnormal
    [1 + 2 ** -11, 0x3c00], // tie → even mantissa 0
    [1 + 3 * 2 ** -11, 0x3c02], // tie → even mantissa 2
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [1e-8, 0x0000],
    [1e-45, 0x0000], // float32 subnormal
    [2 ** -15 + 2 ** -24, 0x0201],
  ];
  it('matches the hand-computed bits', () => {
    for (const [x, bits] of reference) expect([x, float32ToFloat16Bits(x)]).toEqual([x, bits]);
    expect(float32ToFloat16Bits(Infinity)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(float32ToFloat16Bits(NaN)).toBe(0x7e00);
  });

  it('is the inverse of the stock decoder on every finite binary16', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((b) => (b & 0x7c00) !== 0x7c00);
    const back = stockRead(new Uint8Array(all.buffer), { name: 'h', shape: [all.length], dtype: 'float32', quantization: { dtype: 'float16' } });
    expect(Array.from(encodeFloat16(back))).toEqual(Array.from(all));
  });

  it('rounds to the nearest binary16 (ties to even) on random float32s', () => {
    const rng = new Rng(7);
    const x = Float32Array.from({ length: 5000 }, () => (rng.normal() * 2 ** Math.floor(rng.next() * 40 - 30)) as number);
    const back = stockRead(new Uint8Array(encodeFloat16(x).buffer), { name: 'h', shape: [x.length], dtype: 'float32', quantization: { dtype: 'float16' } });
    for (let i = 0; i < x.length; i++) {
      const v = x[i] as number;
      const r = back[i] as number;
      const a = Math.abs(v);
      const ulp = a < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(a)) - 10);
      expect(Math.abs(r - v)).toBeLessThanOrEqual(ulp / 2);
    }
  });
});

describe('affine uint8/uint16', () => {
  it('nudges the range so 0 is a level, as tensorflowjs_converter does', () => {
    // reference: quantization.py's _get_affine_quantization_range run with numpy (np.round: ties to even, 76.5 → 76)
    expect(affineQuantizationRange(-0.3, 0.7, 'uint8')).toEqual({ scale: 0.00392156862745098, min: -0.2980392156862745, max: 0.7019607843137254 });
    expect(affineQuantizationRange(-0.5, 0.25, 'uint16')).toEqual({ scale: 1.1444266422522316e-5, min: -0.5, max: 0.25 });
    expect(affineQuantizationRange(-1, 3, 'uint8')).toEqual({ scale: 0.01568627450980392, min: -1.003921568627451, max: 2.996078431372549 });
    expect(affineQuantizationRange(0.2, 0.7, 'uint16')).toEqual({ scale: 0.5 / 65535, min: 0.2, max: 0.7 });
  });

  for (const dtype of ['uint8', 'uint16'] as const) {
    it(`${dtype}: within half a step, zeros exactly 0`, () => {
      const x = randomValues(3000, 1, 0.4);
      const { data, scale, min } = quantizeAffine(x, dtype);
      const back = stockRead(data, spec('w', x.length, { dtype, scale, min }));
      for (let i = 0; i < x.length; i++) {
        if (x[i] === 0) expect(back[i]).toBe(0);
        expect(Math.abs((back[i] as number) - (x[i] as number))).toBeLessThanOrEqual(scale / 2 + 1e-6 * Math.abs(x[i] as number) + 1e-12);
      }
    });
  }

  it('quantizes as quantize_weights does (numpy reference)', () => {
    const x = new Float32Array([-0.3, 0, 0.1, 0.7, 0.35, -0.15, 0.5]);
    const u8 = quantizeAffine(x, 'uint8');
    expect({ q: Array.from(u8.data), scale: u8.scale, min: u8.min }).toEqual({ q: [0, 77, 103, 255, 166, 39, 204], scale: 0.00392156862745098, min: -0.30196078431372547 });
    const u16 = quantizeAffine(x, 'uint16');
    expect({ q: Array.from(new Uint16Array(u16.data.slice().buffer)), scale: u16.scale, min: u16.min }).toEqual({
      q: [0, 19661, 26215, 65535, 42598, 9831, 52428],
      scale: 1.5259021896696422e-5,
      min: -0.30000762951094834,
    });
  });

  it('a constant weight reads back exactly (scale 1, q = 0)', () => {
    const { data, scale, min } = quantizeAffine(new Float32Array([0.25, 0.25, 0.25]), 'uint8');
    expect({ scale, min, data: Array.from(data) }).toEqual({ scale: 1, min: 0.25, data: [0, 0, 0] });
    const zeros = quantizeAffine(new Float32Array(4), 'uint16');
    expect(Array.from(stockRead(zeros.data, spec('z', 4, { dtype: 'uint16', scale: zeros.scale, min: zeros.min })))).toEqual([0, 0, 0, 0]);
  });
});

describe('encodeWeight', () => {
  for (const dtype of ['uint8', 'uint16', 'float16'] as const) {
    it(`${dtype}: values read from the original bytes keep bytes and spec; changed values are requantized`, () => {
      const x = randomValues(500, 2);
      let orig: { data: Uint8Array; spec: tf.io.WeightsManifestEntry };
      if (dtype === 'float16') orig = { data: new Uint8Array(encodeFloat16(x).buffer), spec: spec('d/kernel', x.length, { dtype }) };
      else {
        const q = quantizeAffine(x, dtype);
        orig = { data: q.data, spec: spec('d/kernel', x.length, { dtype, scale: q.scale, min: q.min }) };
      }
      const read = stockRead(orig.data, orig.spec);
      const same = encodeWeight(read, orig.spec, orig.data);
      expect(same.report).toEqual({ name: 'd/kernel', dtype, action: 'unchanged', maxError: 0 });
      expect(same.spec).toEqual(orig.spec);
      expect(Array.from(same.data)).toEqual(Array.from(orig.data));

      // prune 60 % and perturb the rest
      const rng = new Rng(3);
      const pruned = read.map((v) => (rng.next() < 0.6 ? 0 : v * 1.01));
      const re = encodeWeight(pruned, orig.spec, orig.data);
      expect(re.report.action).toBe('requantized');
      expect(re.report.dtype).toBe(dtype);
      expect(re.spec.quantization?.dtype).toBe(dtype);
      expect(re.data.byteLength).toBe(orig.data.byteLength);
      const back = stockRead(re.data, re.spec);
      const step = dtype === 'float16' ? 0 : (re.spec.quantization?.scale as number);
      let err = 0;
      for (let i = 0; i < pruned.length; i++) {
        const e = Math.abs((back[i] as number) - (pruned[i] as number));
        err = Math.max(err, e);
        if (pruned[i] === 0) expect(back[i]).toBe(0);
        if (dtype === 'float16') expect(e).toBeLessThanOrEqual(Math.abs(pruned[i] as number) * 2 ** -11 + 2 ** -25);
        else expect(e).toBeLessThanOrEqual(step / 2 + 1e-6 * Math.abs(pruned[i] as number) + 1e-12);
      }
      expect(re.report.maxError).toBe(err);
    });
  }

  it('float32: unchanged values give the original bytes; others are written', () => {
    const x = randomValues(64, 4);
    const s = spec('b', 64);
    const bytes = new Uint8Array(x.slice().buffer);
    const same = encodeWeight(x, s, bytes);
    expect(same.report).toEqual({ name: 'b', dtype: 'float32', action: 'unchanged', maxError: 0 });
    const y = x.map((v) => v * 2);
    const w = encodeWeight(y, s, bytes);
    expect(w.report).toEqual({ name: 'b', dtype: 'float32', action: 'written', maxError: 0 });
    expect(Array.from(stockRead(w.data, w.spec))).toEqual(Array.from(y));
  });

  it('keepQuantization: false writes float32', () => {
    const x = randomValues(32, 5);
    const q = quantizeAffine(x, 'uint8');
    const s = spec('k', 32, { dtype: 'uint8', scale: q.scale, min: q.min });
    const read = stockRead(q.data, s);
    const w = encodeWeight(read, s, q.data, { keepQuantization: false });
    expect(w.spec).toEqual({ name: 'k', shape: [32], dtype: 'float32' });
    expect(w.report.action).toBe('written');
    expect(w.data.byteLength).toBe(128);
    expect(Array.from(stockRead(w.data, w.spec))).toEqual(Array.from(read));
  });

  it('names the weight when a value cannot be stored', () => {
    const bad = new Float32Array([0, 1, NaN]);
    expect(() => encodeWeight(bad, spec('conv/kernel', 3, { dtype: 'uint8', scale: 1, min: 0 }))).toThrow(/'conv\/kernel'.*NaN at index 2/);
    expect(() => encodeWeight(new Float32Array([Infinity]), spec('b', 1))).toThrow(/'b'.*Infinity/);
    expect(() => encodeWeight(new Float32Array([1e5]), spec('h', 1, { dtype: 'float16' }))).toThrow(/'h'.*float16's range/);
    expect(() => encodeWeight(new Float32Array(2), spec('s', 3))).toThrow(/'s' has 2 values/);
  });
});
