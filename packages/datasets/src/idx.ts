/**
 * The IDX format of MNIST and its relatives (LeCun et al.): a 4-byte magic number
 * (0, 0, element type, number of dimensions), one big-endian uint32 per dimension, then the
 * elements in row-major order, big-endian. Images are `idx3` (count × rows × cols, uint8),
 * labels are `idx1` (count, uint8). Files may be gzip-compressed; `parseIdx` inflates them.
 *
 * The header is checked before the data costs memory: a gzip file is inflated as a stream, its header
 * read from the first inflated bytes, and the file refused before the rest is inflated when the size
 * the header declares is over the cap (`maxBytes`), or as soon as the data runs past that size.
 */
import { gzipSync } from 'fflate';
import { gunzipStream, isGzip } from './gzip.js';

export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** An n-dimensional array read from (or written to) an IDX file. */
export interface IdxArray {
  type: IdxType;
  dims: number[];
  data: IdxData;
}

/**
 * The default cap on the data an IDX file may declare: 1 GiB, about twice the largest published
 * MNIST-format file (EMNIST ByClass training images: 697 932 × 28 × 28 = 547 MB).
 */
export const DEFAULT_IDX_MAX_BYTES = 2 ** 30;

/** The most bytes any IDX file's header takes (255 dimensions). */
export const IDX_MAX_HEADER_BYTES = 4 + 4 * 255;

export interface ParseIdxOptions {
  /** The file's name, used in every error message. */
  file?: string;
  /** Required number of dimensions (3 for images, 1 for labels). */
  ndims?: number;
  /** Required element type. */
  type?: IdxType;
  /**
   * The most bytes of data (dims × element size, the header excluded) a file may declare
   * (default `DEFAULT_IDX_MAX_BYTES`, 1 GiB). A larger declaration is refused before it is inflated.
   */
  maxBytes?: number;
}

// biome-ignore-start lint/complexity/useSimpleNumberKeys: the keys are the IDX format's type codes, written in hex as in its specification
const CODES: Record<number, { type: IdxType; size: number }> = {
  0x08: { type: 'uint8', size: 1 },
  0x09: { type: 'int8', size: 1 },
  0x0b: { type: 'int16', size: 2 },
  0x0c: { type: 'int32', size: 4 },
  0x0d: { type: 'float32', size: 4 },
  0x0e: { type: 'float64', size: 8 },
};
// biome-ignore-end lint/complexity/useSimpleNumberKeys: hex type codes
const TYPE_CODE: Record<IdxType, number> = { uint8: 0x08, int8: 0x09, int16: 0x0b, int32: 0x0c, float32: 0x0d, float64: 0x0e };

/** A checked header: the element type, the dimensions and the byte counts they imply. */
interface IdxHeader {
  type: IdxType;
  size: number;
  dims: number[];
  count: number;
  headerBytes: number;
  dataBytes: number;
}

/**
 * The most bytes an IDX file whose data is within `maxBytes` can take, raw or gzip (deflate's stored
 * blocks add 5 bytes per 64 KiB to incompressible data; gzip's header and trailer a few more): a file
 * or download longer than this is refused before it is read.
 */
export function idxFileMaxBytes(maxBytes: number): number {
  const raw = maxBytes + IDX_MAX_HEADER_BYTES;
  return raw + 5 * Math.ceil(raw / 65535) + 4096;
}

/** The cap of `options`, checked. */
export function idxMaxBytes(options: { maxBytes?: number }): number {
  const max = options.maxBytes ?? DEFAULT_IDX_MAX_BYTES;
  if (typeof max !== 'number' || !(max >= 0)) throw new Error(`maxBytes must be a number ≥ 0, got ${String(max)}`);
  return max;
}

/**
 * Reads and checks the header at the start of `bytes`. Returns undefined when more bytes are needed
 * and `complete` is false (the bytes are the first of a stream); with `complete`, a short header is an
 * error. Errors name the file: a bad or unexpected magic number, a truncated header, a declared size
 * over the cap.
 */
function readHeader(bytes: Uint8Array, file: string, options: ParseIdxOptions, complete: boolean, gzip: boolean): IdxHeader | undefined {
  if (bytes.length < 4) {
    if (!complete) return undefined;
    throw new Error(`${file}: truncated: ${bytes.length} bytes, too short for an IDX magic number`);
  }
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
    if (!complete) return undefined;
    throw new Error(`${file}: truncated: the header of ${ndims} dimensions needs ${headerBytes} bytes, file has ${bytes.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(readUint32BE(bytes, 4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const header: IdxHeader = { type: code.type, size: code.size, dims, count, headerBytes, dataBytes: count * code.size };
  const max = idxMaxBytes(options);
  if (header.dataBytes > max) {
    const cap = options.maxBytes === undefined ? ` (${describeBytes(max)})` : ' (maxBytes)';
    throw new Error(
      `${file}: the header declares ${claimOf(header)}, more than the cap of ${max} bytes${cap}; refused before ${gzip ? 'inflating' : 'decoding'} it (pass maxBytes to allow more)`,
    );
  }
  return header;
}

/** `3×28×28 = 2352 bytes of pixels`: what a header declares. */
function claimOf(h: IdxHeader): string {
  const what = h.dims.length === 3 && h.type === 'uint8' ? 'pixels' : h.dims.length === 1 ? 'labels' : 'values';
  const sizeText = h.size === 1 ? '' : ` × ${h.size} bytes`;
  return `${h.dims.join('×')}${sizeText} = ${h.dataBytes} bytes of ${what}`;
}

function describeBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/**
 * Assembles an IDX file from its bytes as they are inflated, chunk by chunk: the header is read from
 * the first bytes and checked (its declared size against the cap) before anything else is kept; the
 * output is allocated at the declared size, and a chunk that runs past it is an error (stop inflating
 * there). `finish` gives the bytes received, for `parseIdx` to check and decode.
 */
export class IdxAssembler {
  private head = new Uint8Array(0);
  private header: IdxHeader | undefined;
  private out: Uint8Array | undefined;
  private written = 0;

  constructor(
    private readonly file: string,
    private readonly options: ParseIdxOptions = {},
  ) {
    idxMaxBytes(options);
  }

  push(chunk: Uint8Array): void {
    if (this.out) {
      this.put(chunk);
      return;
    }
    const take = Math.min(chunk.length, IDX_MAX_HEADER_BYTES - this.head.length);
    const grown = new Uint8Array(this.head.length + take);
    grown.set(this.head);
    grown.set(chunk.subarray(0, take), this.head.length);
    this.head = grown;
    const header = readHeader(grown, this.file, this.options, grown.length >= IDX_MAX_HEADER_BYTES, true);
    if (!header) return;
    this.header = header;
    this.out = allocate(header.headerBytes + header.dataBytes, this.file);
    this.put(grown);
    this.put(chunk.subarray(take));
  }

  /** The IDX bytes received: the header and at most the data it declares. */
  finish(): Uint8Array {
    if (!this.out) {
      readHeader(this.head, this.file, this.options, true, true); // throws: the data ended inside the header
      throw new Error(`${this.file}: truncated IDX header`);
    }
    return this.out.subarray(0, this.written);
  }

  private put(chunk: Uint8Array): void {
    const out = this.out as Uint8Array;
    if (this.written + chunk.length > out.length) {
      const h = this.header as IdxHeader;
      throw new Error(`${this.file}: corrupt: header says ${claimOf(h)}, but the data inflates to more (stopped after ${this.written + chunk.length - h.headerBytes} bytes)`);
    }
    out.set(chunk, this.written);
    this.written += chunk.length;
  }
}

function allocate(n: number, file: string): Uint8Array {
  try {
    return new Uint8Array(n);
  } catch (e) {
    throw new Error(`${file}: cannot allocate the ${n} bytes the header declares (${(e as Error).message})`);
  }
}

/**
 * Reads an IDX array from raw or gzip bytes. Checks the magic number, the dimensions, the declared
 * size against the cap (`maxBytes`, before a gzip file is inflated) and that the data length is
 * exactly what the header says; errors name the file and what is wrong.
 * A uint8 array is a view on the (inflated) bytes, not a copy.
 */
export function parseIdx(input: Uint8Array | ArrayBuffer, options: ParseIdxOptions = {}): IdxArray {
  const file = options.file ?? 'IDX data';
  let bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const gzip = isGzip(bytes);
  if (gzip) {
    const assembler = new IdxAssembler(file, options);
    gunzipStream(bytes, file, (chunk) => assembler.push(chunk));
    bytes = assembler.finish();
  }
  const header = readHeader(bytes, file, options, true, gzip) as IdxHeader;
  const needed = header.dataBytes;
  const have = bytes.length - header.headerBytes;
  if (have !== needed) {
    const claim = `header says ${claimOf(header)}`;
    if (have < needed) throw new Error(`${file}: truncated: ${claim}, file has ${have}`);
    throw new Error(`${file}: corrupt: ${claim}, file has ${have} (${have - needed} bytes too many)`);
  }
  return { type: header.type, dims: header.dims, data: decode(bytes, header.headerBytes, header.count, header.type) };
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
