/**
 * Gzip detection and decompression for IDX files, shared by the browser and Node entries.
 * fflate is pure JavaScript, so the same synchronous code runs in Node and in every browser.
 * Inflating streams: the compressed bytes are fed in small chunks and each inflated chunk handed to a
 * sink as it comes, so a reader can look at the first bytes (an IDX header) and refuse the data before
 * the rest is inflated (a gzip bomb: 1.5 MB that inflates to 1.5 GiB). fflate does not check the gzip
 * trailer, so this module does: the CRC-32 and length of the output must match the values stored at
 * the end of the file, which catches corrupt data that still inflates.
 */
import { Gunzip } from 'fflate';

/** True when `bytes` start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Compressed bytes fed to the inflater at a time: 256 first, doubling up to 16 KiB. Deflate inflates
 * at most ~1032:1, so the first chunks (where a header is) inflate fast, and no chunk inflates to more
 * than ~17 MB: the most a sink is handed at once.
 */
const FIRST_CHUNK = 256;
const MAX_CHUNK = 16 * 1024;

/**
 * Inflates a single-member gzip stream chunk by chunk, handing each inflated chunk to `sink` (the
 * chunk is only valid during the call: copy what is kept). An error thrown by `sink` stops inflating
 * at once and is thrown as is. At the end the trailer is checked (CRC-32 and length mod 2³²).
 * Returns the number of inflated bytes. `file` names the source in errors.
 */
export function gunzipStream(bytes: Uint8Array, file: string, sink: (chunk: Uint8Array) => void): number {
  if (bytes.length < 18) throw new Error(`${file}: truncated gzip data (${bytes.length} bytes, less than a gzip header and trailer)`);
  let length = 0;
  let crc = 0;
  let stopped: { error: unknown } | undefined;
  const inflater = new Gunzip((chunk) => {
    if (chunk.length === 0) return;
    crc = crc32(chunk, crc);
    length += chunk.length;
    try {
      sink(chunk);
    } catch (e) {
      stopped = { error: e };
      throw e;
    }
  });
  try {
    for (let at = 0, step = FIRST_CHUNK; at < bytes.length; at += step, step = Math.min(2 * step, MAX_CHUNK)) {
      const end = Math.min(at + step, bytes.length);
      inflater.push(bytes.subarray(at, end), end === bytes.length);
    }
  } catch (e) {
    if (stopped) throw stopped.error;
    throw new Error(`${file}: corrupt or truncated gzip data (${(e as Error).message})`);
  }
  const n = bytes.length;
  const storedCrc = readUint32LE(bytes, n - 8);
  const storedSize = readUint32LE(bytes, n - 4);
  if (storedSize !== length >>> 0) {
    throw new Error(`${file}: corrupt or truncated gzip data (trailer says ${storedSize} bytes, inflated ${length})`);
  }
  if (crc !== storedCrc) {
    throw new Error(`${file}: corrupt gzip data (CRC-32 ${hex8(crc)} of the inflated bytes, trailer says ${hex8(storedCrc)})`);
  }
  return length;
}

export interface GunzipOptions {
  /**
   * The most bytes the output may have: inflating stops, with an error naming the file, as soon as
   * the output passes it (default: no limit).
   */
  maxBytes?: number;
}

/**
 * Decompresses a single-member gzip stream and checks its trailer (CRC-32 and length mod 2³²).
 * `file` names the source in errors: a truncated or corrupt stream is an error naming the file, and so
 * is an output longer than `maxBytes` (inflating stops there).
 */
export function gunzip(bytes: Uint8Array, file = 'data', options: GunzipOptions = {}): Uint8Array {
  const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const chunks: Uint8Array[] = [];
  let size = 0;
  gunzipStream(bytes, file, (chunk) => {
    size += chunk.length;
    if (size > max) throw new Error(`${file}: the gzip data inflates to more than ${max} bytes (maxBytes); stopped inflating`);
    chunks.push(chunk.slice());
  });
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

let table: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, the gzip checksum) of `bytes`; pass the CRC-32 of earlier bytes as `crc` to continue it. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  const t = table;
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (t[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function readUint32LE(b: Uint8Array, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
}

function hex8(v: number): string {
  return v.toString(16).padStart(8, '0');
}
