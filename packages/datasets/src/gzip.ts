/**
 * Gzip detection and decompression for IDX files, shared by the browser and Node entries.
 * fflate is pure JavaScript, so the same synchronous code runs in Node and in every browser.
 * fflate does not check the gzip trailer, so `gunzip` does: the CRC-32 and length of the output
 * must match the values stored at the end of the file, which catches corrupt data that still inflates.
 */
import { gunzipSync } from 'fflate';

/** True when `bytes` start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses a single-member gzip stream and checks its trailer (CRC-32 and length mod 2³²).
 * `file` names the source in errors: a truncated or corrupt stream is an error naming the file.
 */
export function gunzip(bytes: Uint8Array, file = 'data'): Uint8Array {
  if (bytes.length < 18) throw new Error(`${file}: truncated gzip data (${bytes.length} bytes, less than a gzip header and trailer)`);
  let out: Uint8Array;
  try {
    out = gunzipSync(bytes);
  } catch (e) {
    throw new Error(`${file}: corrupt or truncated gzip data (${(e as Error).message})`);
  }
  const n = bytes.length;
  const storedCrc = readUint32LE(bytes, n - 8);
  const storedSize = readUint32LE(bytes, n - 4);
  if (storedSize !== out.length >>> 0) {
    throw new Error(`${file}: corrupt or truncated gzip data (trailer says ${storedSize} bytes, inflated ${out.length})`);
  }
  const crc = crc32(out);
  if (crc !== storedCrc) {
    throw new Error(`${file}: corrupt gzip data (CRC-32 ${hex8(crc)} of the inflated bytes, trailer says ${hex8(storedCrc)})`);
  }
  return out;
}

let table: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, the gzip checksum) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c >>> 0;
    }
  }
  const t = table;
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (t[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function readUint32LE(b: Uint8Array, at: number): number {
  return ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 24)) >>> 0;
}

function hex8(v: number): string {
  return v.toString(16).padStart(8, '0');
}
