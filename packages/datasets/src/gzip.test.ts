import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { crc32, gunzip, isGzip } from './gzip.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('gzip', () => {
  it('computes the standard CRC-32 check value', () => {
    expect(crc32(text('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('inflates what fflate deflates and detects the gzip magic', () => {
    const raw = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) % 256);
    const gz = gzipSync(raw);
    expect(isGzip(gz)).toBe(true);
    expect(isGzip(raw)).toBe(false);
    expect(Array.from(gunzip(gz))).toEqual(Array.from(raw));
  });

  it('rejects a truncated stream, naming the file', () => {
    const gz = gzipSync(Uint8Array.from({ length: 5000 }, (_, i) => i % 7));
    expect(() => gunzip(gz.subarray(0, gz.length - 20), 'a.gz')).toThrow(/^a\.gz: corrupt or truncated gzip data/);
    expect(() => gunzip(gz.subarray(0, 10), 'a.gz')).toThrow('a.gz: truncated gzip data (10 bytes');
  });

  it('catches a damaged byte that still inflates, through the CRC-32 in the trailer', () => {
    // level 0 stores the bytes verbatim, so a flipped data byte inflates without complaint
    const raw = Uint8Array.from({ length: 1000 }, (_, i) => i % 256);
    const gz = gzipSync(raw, { level: 0 });
    const bad = gz.slice();
    bad[gz.length - 100] = (bad[gz.length - 100] as number) ^ 0xff;
    expect(() => gunzip(bad, 'b.gz')).toThrow(/^b\.gz: corrupt gzip data \(CRC-32 [0-9a-f]{8} of the inflated bytes, trailer says [0-9a-f]{8}\)$/);
    const wrongSize = gz.slice();
    wrongSize[gz.length - 1] = 1;
    expect(() => gunzip(wrongSize, 'c.gz')).toThrow(/c\.gz: corrupt or truncated gzip data/);
  });
});
