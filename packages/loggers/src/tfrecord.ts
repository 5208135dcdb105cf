/**
 * TFRecord framing (TensorFlow's `tensorflow/core/lib/io/record_writer.cc`), the container of
 * TensorBoard event files: per record, the data length as uint64 little-endian, the masked CRC-32C of
 * those 8 bytes, the data, and the masked CRC-32C of the data (both CRCs uint32 little-endian).
 */
import { maskedCrc32c } from './crc32c.js';

/** One framed record: 8 + 4 + `data.length` + 4 bytes. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length >>> 0, true);
  view.setUint32(4, Math.floor(data.length / 2 ** 32), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}
