import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { encodeIdx, parseIdx } from './idx.js';

const F = 'train-images-idx3-ubyte.gz';

function images(count: number, rows = 28, cols = 28): Uint8Array {
  return Uint8Array.from({ length: count * rows * cols }, (_, i) => (i * 7 + 3) % 256);
}

describe('IDX reader', () => {
  it('reads raw and gzip files identically; uint8 data is a view, not a copy', () => {
    const px = images(3);
    const raw = encodeIdx({ type: 'uint8', dims: [3, 28, 28], data: px });
    expect(raw.length).toBe(16 + 3 * 784);
    // the magic number of an image file is 0x00000803, dimensions big-endian
    expect(Array.from(raw.subarray(0, 8))).toEqual([0, 0, 8, 3, 0, 0, 0, 3]);
    for (const bytes of [raw, encodeIdx({ type: 'uint8', dims: [3, 28, 28], data: px }, { gzip: true })]) {
      const a = parseIdx(bytes, { file: F, ndims: 3, type: 'uint8' });
      expect(a.dims).toEqual([3, 28, 28]);
      expect(a.type).toBe('uint8');
      expect(Array.from(a.data)).toEqual(Array.from(px));
    }
    const view = parseIdx(raw);
    expect(view.data.buffer).toBe(raw.buffer);
    expect(parseIdx(raw.buffer as ArrayBuffer).dims).toEqual([3, 28, 28]);
  });

  it('decodes multi-byte types big-endian', () => {
    const ints = Int32Array.from([1, -2, 70000, -2147483648]);
    const floats = Float32Array.from([0.5, -1.25, 3e10]);
    const i = parseIdx(encodeIdx({ type: 'int32', dims: [2, 2], data: ints }));
    expect(i.type).toBe('int32');
    expect(Array.from(i.data)).toEqual([1, -2, 70000, -2147483648]);
    const f = parseIdx(encodeIdx({ type: 'float32', dims: [3], data: floats }, { gzip: true }));
    expect(Array.from(f.data)).toEqual(Array.from(floats));
    const raw = encodeIdx({ type: 'int16', dims: [1], data: Int16Array.from([0x0102]) });
    expect(Array.from(raw)).toEqual([0, 0, 0x0b, 1, 0, 0, 0, 1, 1, 2]);
  });

  it('rejects a truncated body with the header claim and the actual length', () => {
    const raw = encodeIdx({ type: 'uint8', dims: [3, 28, 28], data: images(3) });
    const cut = raw.subarray(0, 16 + 1234);
    expect(() => parseIdx(cut, { file: F })).toThrow(`${F}: truncated: header says 3×28×28 = 2352 bytes of pixels, file has 1234`);
    // the same through gzip: the gzip stream is whole, the IDX content is short
    expect(() => parseIdx(gzipSync(cut), { file: F })).toThrow(`${F}: truncated: header says 3×28×28 = 2352 bytes of pixels, file has 1234`);
    const labels = encodeIdx({ type: 'uint8', dims: [10], data: new Uint8Array(10) }).subarray(0, 8 + 4);
    expect(() => parseIdx(labels, { file: 'l' })).toThrow('l: truncated: header says 10 = 10 bytes of labels, file has 4');
  });

  it('rejects a truncated header and a truncated gzip stream', () => {
    const raw = encodeIdx({ type: 'uint8', dims: [3, 28, 28], data: images(3) });
    expect(() => parseIdx(raw.subarray(0, 10), { file: F })).toThrow(`${F}: truncated: the header of 3 dimensions needs 16 bytes, file has 10`);
    expect(() => parseIdx(raw.subarray(0, 2), { file: F })).toThrow(`${F}: truncated: 2 bytes, too short for an IDX magic number`);
    const gz = encodeIdx({ type: 'uint8', dims: [3, 28, 28], data: images(3) }, { gzip: true });
    expect(() => parseIdx(gz.subarray(0, gz.length - 30), { file: F })).toThrow(`${F}: corrupt or truncated gzip data`);
  });

  it('rejects trailing bytes as corrupt', () => {
    const raw = encodeIdx({ type: 'uint8', dims: [2, 28, 28], data: images(2) });
    const longer = new Uint8Array(raw.length + 5);
    longer.set(raw);
    expect(() => parseIdx(longer, { file: F })).toThrow(`${F}: corrupt: header says 2×28×28 = 1568 bytes of pixels, file has 1573 (5 bytes too many)`);
  });

  it('rejects a bad or unexpected magic number', () => {
    const html = new TextEncoder().encode('<!DOCTYPE html><p>Not found</p>');
    expect(() => parseIdx(html, { file: F, ndims: 3, type: 'uint8' })).toThrow(`${F}: not an IDX file: bad magic number 0x3c21444f; expected 0x00000803 (uint8, 3 dimensions)`);
    const labels = encodeIdx({ type: 'uint8', dims: [4], data: new Uint8Array(4) });
    expect(() => parseIdx(labels, { file: F, ndims: 3, type: 'uint8' })).toThrow(
      `${F}: wrong IDX magic number 0x00000801 (uint8, 1 dimension); expected 0x00000803 (uint8, 3 dimensions)`,
    );
    const badType = labels.slice();
    badType[2] = 0x0a;
    expect(() => parseIdx(badType, { file: 'x' })).toThrow('x: not an IDX file: bad magic number 0x00000a01');
  });

  it('refuses to encode data that disagrees with its dimensions', () => {
    expect(() => encodeIdx({ type: 'uint8', dims: [2, 2], data: new Uint8Array(3) })).toThrow('dims 2×2 = 4 elements, data has 3');
  });
});
