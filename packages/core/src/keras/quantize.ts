/**
 * Float values → a weight's stored form, in the dtype and quantization scheme it came in, as stock
 * tfjs (`tf.io.decodeWeights`) reads them back:
 *
 *   float32                    4-byte IEEE floats, little-endian
 *   uint8 / uint16 (affine)    q ∈ [0, 2^b − 1], read as fround(q·scale + min)
 *   float16                    IEEE binary16 bits, read exactly (every binary16 is a float32)
 *
 * A weight whose values are bitwise those its original bytes decode to keeps those bytes and spec
 * (so a model loaded and saved unchanged is byte-identical). Otherwise uint8/uint16 are quantized
 * anew as tensorflowjs_converter does (tfjs-converter/python/tensorflowjs/quantization.py):
 *
 *   lo, hi = min(x), max(x)
 *   lo = hi:   scale = 1, min = lo, q = 0
 *   else:      scale = (hi − lo) / (2^b − 1)
 *              if lo ≤ 0 ≤ hi:  z = round((0 − lo) / scale), min = −z·scale   (0 decodes to z·scale − z·scale = 0)
 *              else:            min = lo
 *              q = round((clip(x, min, min + (2^b − 1)·scale) − min) / scale)   (round half to even)
 *
 * so every value reads back within scale/2 (plus float32 rounding) and zeros read back as exactly 0.
 * float16 rounds to nearest, ties to even, with subnormals (|x| < 2^−14) and signed zeros.
 * Non-finite values are refused (their weight named), as are values beyond float16's range.
 */
import * as tf from '@tensorflow/tfjs-core';

export type StoredDtype = 'float32' | 'uint8' | 'uint16' | 'float16';

export interface WeightReport {
  name: string;
  /** The dtype written: the quantization's, or float32. */
  dtype: StoredDtype;
  /** `unchanged`: the original bytes and spec; `requantized`: new uint8/uint16/float16 bytes; `written`: float32 values. */
  action: 'unchanged' | 'requantized' | 'written';
  /** max |read back − value| over the weight (0 when unchanged or float32). */
  maxError: number;
}

export interface EncodedWeight {
  spec: tf.io.WeightsManifestEntry;
  data: Uint8Array;
  report: WeightReport;
}

export interface EncodeOptions {
  /** Write quantized weights in their quantization (default true); false writes float32. */
  keepQuantization?: boolean;
}

/** The dtype a spec's values are stored in. */
export function storedDtype(spec: tf.io.WeightsManifestEntry): StoredDtype | 'int32' | 'bool' {
  return (spec.quantization?.dtype ?? spec.dtype) as StoredDtype | 'int32' | 'bool';
}

/** tensorflowjs's `_get_affine_quantization_range`: the step and the range, nudged so 0 is a level when lo ≤ 0 ≤ hi. */
export function affineQuantizationRange(lo: number, hi: number, dtype: 'uint8' | 'uint16'): { scale: number; min: number; max: number } {
  const qmax = dtype === 'uint8' ? 255 : 65535;
  const scale = (hi - lo) / qmax;
  if (lo <= 0 && 0 <= hi) {
    const z = roundHalfEven((0 - lo) / scale);
    const min = -z * scale;
    return { scale, min, max: qmax * scale + min };
  }
  return { scale, min: lo, max: hi };
}

/** Affine uint8/uint16 quantization of finite values (see the header). */
export function quantizeAffine(values: ArrayLike<number>, dtype: 'uint8' | 'uint16'): { data: Uint8Array; scale: number; min: number } {
  const qmax = dtype === 'uint8' ? 255 : 65535;
  const q = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (values.length === 0 || lo === hi) return { data: bytesOf(q), scale: 1, min: values.length ? lo : 0 };
  const { scale, min, max } = affineQuantizationRange(lo, hi, dtype);
  for (let i = 0; i < values.length; i++) {
    const v = Math.min(max, Math.max(min, values[i] as number));
    q[i] = Math.min(qmax, Math.max(0, roundHalfEven((v - min) / scale)));
  }
  return { data: bytesOf(q), scale, min };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bits of `x` rounded to float32 then to binary16, to nearest, ties to even (±Inf on overflow, NaN → 0x7e00). */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  const bits = u32[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const e = (bits >>> 23) & 0xff;
  const m = bits & 0x7fffff;
  if (e === 0xff) return sign | (m ? 0x7e00 : 0x7c00);
  const E = e - 127;
  if (E > 15) return sign | 0x7c00;
  if (E >= -14) {
    // normal: exponent E + 15, top 10 mantissa bits; a carry out of the mantissa bumps the exponent (to Inf at 31)
    const h = ((E + 15) << 10) | (m >>> 13);
    const rest = m & 0x1fff;
    return sign | (rest > 0x1000 || (rest === 0x1000 && h & 1) ? h + 1 : h);
  }
  // subnormal: k·2^−24 with k = round(1.m·2^E·2^24) = round(M / 2^shift), M = 1.m·2^23, shift = −(E + 1) ≥ 14
  const shift = -(E + 1);
  if (shift > 24 || e === 0) return sign;
  const M = m | 0x800000;
  const k = M >>> shift;
  const rest = M & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (rest > half || (rest === half && k & 1) ? k + 1 : k);
}

/** binary16 encoding of values (native byte order, as tfjs reads them). */
export function encodeFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32ToFloat16Bits(values[i] as number);
  return out;
}

/**
 * Encodes `values` (the weight's current float32 values, in the spec's shape) in `spec`'s stored
 * form. With `original` (the weight's stored bytes) and values equal to what those bytes decode to,
 * the original bytes and spec are returned. Throws naming the weight on a non-float32 spec, a size
 * mismatch, a non-finite value, or a value beyond float16's range.
 */
export function encodeWeight(values: Float32Array, spec: tf.io.WeightsManifestEntry, original?: Uint8Array, options: EncodeOptions = {}): EncodedWeight {
  const name = spec.name;
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.dtype !== 'float32') throw new Error(`weight '${name}' has dtype '${spec.dtype}'; only float32 weights can be re-encoded`);
  if (values.length !== size) throw new Error(`weight '${name}' has ${values.length} values but its shape [${spec.shape}] holds ${size}`);
  const stored = storedDtype(spec) as StoredDtype;
  if (!['float32', 'uint8', 'uint16', 'float16'].includes(stored)) throw new Error(`weight '${name}' has quantization '${stored}' (uint8, uint16 or float16 expected)`);
  const keep = options.keepQuantization ?? true;
  const target: StoredDtype = keep ? stored : 'float32';
  if (original && target === stored && sameBits(values, decode(original, spec))) {
    return { spec: structuredClone(spec), data: original.slice(), report: { name, dtype: stored, action: 'unchanged', maxError: 0 } };
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`weight '${name}' holds ${values[i]} at index ${i}, which cannot be stored`);
  }
  const { quantization: _q, ...plain } = structuredClone(spec);
  if (target === 'float32') {
    const data = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    return { spec: { ...plain, dtype: 'float32' }, data, report: { name, dtype: 'float32', action: 'written', maxError: 0 } };
  }
  let data: Uint8Array;
  let out: tf.io.WeightsManifestEntry;
  if (target === 'float16') {
    const h = encodeFloat16(values);
    const at = h.findIndex((b) => (b & 0x7fff) === 0x7c00);
    if (at >= 0) throw new Error(`weight '${name}' holds ${values[at]} at index ${at}, beyond float16's range (|x| < 65520)`);
    data = bytesOf(h);
    out = { ...plain, quantization: { ...spec.quantization, dtype: 'float16' } };
  } else {
    const { data: q, scale, min } = quantizeAffine(values, target);
    data = q;
    out = { ...plain, quantization: { ...spec.quantization, dtype: target, scale, min } };
  }
  const back = decode(data, out);
  let maxError = 0;
  for (let i = 0; i < values.length; i++) maxError = Math.max(maxError, Math.abs((back[i] as number) - (values[i] as number)));
  return { spec: out, data, report: { name, dtype: target, action: 'requantized', maxError } };
}

/** The values stock tfjs reads from a weight's bytes. */
function decode(bytes: Uint8Array, spec: tf.io.WeightsManifestEntry): Float32Array {
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const t = tf.io.decodeWeights(buf, [spec])[spec.name] as tf.Tensor;
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function bytesOf(a: Uint8Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
