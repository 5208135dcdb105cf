/**
 * NumPy's `.npy` format (numpy.lib.format, versions 1.0, 2.0 and 3.0): the magic string `\x93NUMPY`,
 * the version (2 bytes), the header length (uint16 little-endian in 1.0, uint32 in 2.0 and 3.0), a
 * Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }` (latin-1,
 * UTF-8 in 3.0) padded with spaces to a multiple of 64 (16 in old writers), then the data in C order.
 */
import type { NumericArray } from './image-set.js';

export type NpyData = NumericArray;

export interface NpyArray {
  data: NpyData;
  shape: number[];
  /** The file's element type in NumPy's words ('uint8', 'float32', 'int64', ...), before any conversion. */
  dtype: string;
}

export interface ParseNpyOptions {
  /** The most bytes of data the header may declare; default 2 GiB. */
  maxBytes?: number;
}

export const DEFAULT_NPY_MAX_BYTES = 2 * 2 ** 30;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface Kind {
  dtype: string;
  size: number;
  /** Reads n little-endian elements from aligned-or-not bytes. */
  make: (buf: ArrayBuffer, offset: number, n: number) => NpyData;
}

const view =
  <T extends NpyData>(Ctor: { new (b: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }) =>
  (buf: ArrayBuffer, offset: number, n: number): T =>
    offset % Ctor.BYTES_PER_ELEMENT === 0 ? new Ctor(buf, offset, n) : new Ctor(buf.slice(offset, offset + n * Ctor.BYTES_PER_ELEMENT), 0, n);

/** int64 / uint64 become Int32Array (labels), refused when a value does not fit. */
const int64 =
  (signed: boolean) =>
  (buf: ArrayBuffer, offset: number, n: number): Int32Array => {
    const dv = new DataView(buf, offset, n * 8);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = signed ? dv.getBigInt64(i * 8, true) : dv.getBigUint64(i * 8, true);
      if (v > 2147483647n || v < -2147483648n) throw new RangeError(`value ${v} at element ${i} does not fit in int32`);
      out[i] = Number(v);
    }
    return out;
  };

/** float16 becomes Float32Array. */
const float16 = (buf: ArrayBuffer, offset: number, n: number): Float32Array => {
  const dv = new DataView(buf, offset, n * 2);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const h = dv.getUint16(i * 2, true);
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    out[i] = e === 0 ? s * 2 ** -14 * (f / 1024) : e === 31 ? (f ? Number.NaN : s * Number.POSITIVE_INFINITY) : s * 2 ** (e - 15) * (1 + f / 1024);
  }
  return out;
};

const KINDS: Record<string, Kind> = {
  b1: { dtype: 'bool', size: 1, make: view(Uint8Array) },
  u1: { dtype: 'uint8', size: 1, make: view(Uint8Array) },
  i1: { dtype: 'int8', size: 1, make: view(Int8Array) },
  u2: { dtype: 'uint16', size: 2, make: view(Uint16Array) },
  i2: { dtype: 'int16', size: 2, make: view(Int16Array) },
  u4: { dtype: 'uint32', size: 4, make: view(Uint32Array) },
  i4: { dtype: 'int32', size: 4, make: view(Int32Array) },
  u8: { dtype: 'uint64', size: 8, make: int64(false) },
  i8: { dtype: 'int64', size: 8, make: int64(true) },
  f2: { dtype: 'float16', size: 2, make: float16 },
  f4: { dtype: 'float32', size: 4, make: view(Float32Array) },
  f8: { dtype: 'float64', size: 8, make: view(Float64Array) },
};

/**
 * Parses a .npy file. Every numeric dtype is read, little- or big-endian (big-endian data is byte-swapped
 * into a copy); uint8 and other aligned little-endian data are zero-copy views on `bytes`. int64 and
 * uint64 become Int32Array (refused if a value does not fit), float16 becomes Float32Array, bool
 * Uint8Array; `dtype` keeps the file's type. Refused, with errors naming `source`: a bad magic string or
 * header, Fortran order, object, string and structured dtypes, data shorter or longer than the shape
 * says, and a declared size above `maxBytes`.
 */
export function parseNpy(bytes: Uint8Array, source: string, options: ParseNpyOptions = {}): NpyArray {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail(`not a .npy file (no \\x93NUMPY magic string${bytes.length < 10 ? `; ${bytes.length} bytes` : ''})`);
  const major = bytes[6] as number;
  const minor = bytes[7] as number;
  if (major < 1 || major > 3) fail(`unsupported .npy version ${major}.${minor} (1.0, 2.0 and 3.0 are read)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail('truncated in the header');
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  const dataStart = start + headerLen;
  if (dataStart > bytes.length) fail(`truncated in the header: it declares ${headerLen} bytes, the file has ${bytes.length - start} after the preamble`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, dataStart));
  const descrM = /['"]descr['"]\s*:\s*(['"])(.*?)\1/.exec(header);
  const fortranM = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shapeM = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (/['"]descr['"]\s*:\s*\[/.test(header)) fail('structured dtypes (a list descr) are not supported; save a plain numeric array');
  if (!descrM || !fortranM || !shapeM) fail(`bad header ${JSON.stringify(header.trim())} (expected descr, fortran_order and shape)`);
  const descr = (descrM as RegExpExecArray)[2] as string;
  if ((fortranM as RegExpExecArray)[1] === 'True') fail('fortran_order arrays are not supported; save with np.ascontiguousarray(a) (C order)');
  const shapeText = ((shapeM as RegExpExecArray)[1] as string).trim();
  const shape = shapeText === '' ? [] : shapeText.split(',').flatMap((s) => (s.trim() === '' ? [] : [Number(s.trim().replace(/L$/, ''))]));
  for (const d of shape) if (!Number.isSafeInteger(d) || d < 0) fail(`bad shape (${shapeText}) in the header`);
  const m = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(descr);
  if (!m) fail(`unsupported dtype '${descr}'`);
  const [, order, letter, width] = m as RegExpExecArray;
  if (letter === 'O') fail(`object arrays (dtype '${descr}') cannot be read; save a numeric array (allow_pickle is not supported)`);
  const kind = KINDS[`${letter === '?' ? 'b' : letter}${width}`];
  if (!kind) fail(`unsupported dtype '${descr}' (numeric types are read: bool, int8..int64, uint8..uint64, float16/32/64)`);
  const { size, make, dtype } = kind as Kind;
  const count = shape.reduce((a, b) => a * b, 1);
  const dataBytes = count * size;
  const maxBytes = options.maxBytes ?? DEFAULT_NPY_MAX_BYTES;
  const dims = `(${shape.join(', ')}) ${dtype}`;
  if (dataBytes > maxBytes) fail(`header declares ${dims} = ${dataBytes} bytes, more than the cap of ${maxBytes} bytes (pass maxBytes to allow more)`);
  const have = bytes.length - dataStart;
  if (have < dataBytes) fail(`truncated: header says ${dims} = ${dataBytes} bytes of data, file has ${have}`);
  if (have > dataBytes) fail(`oversized: header says ${dims} = ${dataBytes} bytes of data, file has ${have} (${have - dataBytes} extra)`);
  let buf = bytes.buffer as ArrayBuffer;
  let offset = bytes.byteOffset + dataStart;
  if (order === '>' && size > 1) {
    const swapped = new Uint8Array(dataBytes);
    for (let i = 0; i < dataBytes; i += size) for (let k = 0; k < size; k++) swapped[i + k] = bytes[offset - bytes.byteOffset + i + size - 1 - k] as number;
    buf = swapped.buffer;
    offset = 0;
  }
  try {
    return { data: make(buf, offset, count), shape, dtype };
  } catch (e) {
    return fail((e as Error).message);
  }
}

const DESCR: [new (...args: never[]) => NpyData, string][] = [
  [Uint8Array, '|u1'],
  [Int8Array, '|i1'],
  [Uint16Array, '<u2'],
  [Int16Array, '<i2'],
  [Uint32Array, '<u4'],
  [Int32Array, '<i4'],
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
];

/** Writes a C-order little-endian .npy file (version 1.0, or 2.0 when the header needs it). */
export function encodeNpy(data: NpyData, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`encodeNpy: shape [${shape}] has ${count} elements, data has ${data.length}`);
  const descr = DESCR.find(([C]) => data instanceof C)?.[1];
  if (!descr) throw new Error('encodeNpy: unsupported array type');
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const v1 = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10 <= 0xffff;
  const pre = v1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = `${dict}${' '.repeat(total - pre - dict.length - 1)}\n`;
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC);
  out[6] = v1 ? 1 : 2;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (v1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  // typed arrays are little-endian on every platform JavaScript runs on in practice
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
