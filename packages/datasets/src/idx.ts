/**
 * The IDX format of MNIST and its relatives (LeCun et al.): a 4-byte magic number
 * (0, 0, element type, number of dimensions), one big-endian uint32 per dimension, then the
 * elements in row-major order, big-endian. Images are `idx3` (count × rows × cols, uint8),
 * labels are `idx1` (count, uint8). Files may be gzip-compressed; `parseIdx` inflates them.
 */
import { gzipSync } from 'fflate';
import { gunzip, isGzip } from './gzip.js';

export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** An n-dimensional array read from (or written to) an IDX file. */
export interface IdxArray {
  type: IdxType;
  dims: number[];
  data: IdxData;
}

export interface ParseIdxOptions {
  /** The file's name, used in every error message. */
  file?: string;
  /** Required number of dimensions (3 for images, 1 for labels). */
  ndims?: number;
  /** Required element type. */
  type?: IdxType;
}

const CODES: Record<number, { type: IdxType; size: number }> = {
  0x08: { type: 'uint8', size: 1 },
  0x09: { type: 'int8', size: 1 },
  0x0b: { type: 'int16', size: 2 },
  0x0c: { type: 'int32', size: 4 },
  0x0d: { type: 'float32', size: 4 },
  0x0e: { type: 'float64', size: 8 },
};
const TYPE_CODE: Record<IdxType, number> = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };

/**
 * Reads an IDX array from raw or gzip bytes. Checks the magic number, the dimensions and that the
 * data length is exactly what the header says; errors name the file and what is wrong.
 * A uint8 array is a view on the (inflated) bytes, not a copy.
 */
export function parseIdx(input: Uint8Array | ArrayBuffer, options: ParseIdxOptions = {}): IdxArray {
  const file = options.file ?? 'IDX data';
  let bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (isGzip(bytes)) bytes = gunzip(bytes, file);
  if (bytes.length < 4) throw new Error(`${file}: truncated: ${bytes.length} bytes, too short for an IDX magic number`);
  const magic = readUint32BE(bytes, 0);
  const code = CODES[bytes[2] as number];
  const ndims = bytes[3] as number;
  const expected =
    options.type !== undefined && options.ndims !== undefined
      ? `; expected ${hex32((TYPE_CODE[options.type] << 8) | options.ndims)} (${options.type}, ${options.ndims} dimension${options.ndims === 1 ? '' : 's'})`
      : '';
  if (bytes[0] !== 0 || bytes[1] !== 0 || !code || ndims === 0) {
    throw new Error(`${file}: not an IDX file: bad magic number ${hex32(magic)}${expected}`);
  }
  if ((options.type !== undefined && code.type !== options.type) || (options.ndims !== undefined && ndims !== options.ndims)) {
    throw new Error(`${file}: wrong IDX magic number ${hex32(magic)} (${code.type}, ${ndims} dimension${ndims === 1 ? '' : 's'})${expected}`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new Error(`${file}: truncated: the header of ${ndims} dimensions needs ${headerBytes} bytes, file has ${bytes.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(readUint32BE(bytes, 4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const needed = count * code.size;
  const have = bytes.length - headerBytes;
  if (have !== needed) {
    const what = ndims === 3 && code.type === 'uint8' ? 'pixels' : ndims === 1 ? 'labels' : 'values';
    const sizeText = code.size === 1 ? '' : ` × ${code.size} bytes`;
    const claim = `header says ${dims.join('×')}${sizeText} = ${needed} bytes of ${what}`;
    if (have < needed) throw new Error(`${file}: truncated: ${claim}, file has ${have}`);
    throw new Error(`${file}: corrupt: ${claim}, file has ${have} (${have - needed} bytes too many)`);
  }
  return { type: code.type, dims, data: decode(bytes, headerBytes, count, code.type) };
}

/** Writes an IDX array (big-endian), gzip-compressed when `gzip` is set (deterministic: mtime 0). */
export function encodeIdx(array: IdxArray, options: { gzip?: boolean; level?: number } = {}): Uint8Array {
  const { type, dims, data } = array;
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new Error(`encodeIdx: dims ${dims.join('×')} = ${count} elements, data has ${data.length}`);
  const size = (CODES[TYPE_CODE[type]] as { size: number }).size;
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + count * size);
  const view = new DataView(out.buffer);
  view.setUint32(0, (TYPE_CODE[type] << 8) | dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  if (type === 'uint8') out.set(data as Uint8Array, header);
  else {
    for (let i = 0; i < count; i++) {
      const at = header + i * size;
      const v = data[i] as number;
      if (type === 'int8') view.setInt8(at, v);
      else if (type === 'int16') view.setInt16(at, v);
      else if (type === 'int32') view.setInt32(at, v);
      else if (type === 'float32') view.setFloat32(at, v);
      else view.setFloat64(at, v);
    }
  }
  if (!options.gzip) return out;
  return gzipSync(out, { level: (options.level ?? 9) as 9, mtime: 0 });
}

function decode(bytes: Uint8Array, offset: number, count: number, type: IdxType): IdxData {
  if (type === 'uint8') return bytes.subarray(offset, offset + count);
  if (type === 'int8') return new Int8Array(bytes.buffer, bytes.byteOffset + offset, count).slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  if (type === 'int16') return Int16Array.from({ length: count }, (_, i) => view.getInt16(2 * i));
  if (type === 'int32') return Int32Array.from({ length: count }, (_, i) => view.getInt32(4 * i));
  if (type === 'float32') return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i));
  return Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i));
}

function readUint32BE(b: Uint8Array, at: number): number {
  return (((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number)) >>> 0;
}

function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}
