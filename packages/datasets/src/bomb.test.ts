// Gzip bombs: small files that inflate to gigabytes. The IDX header is read from the first inflated
// bytes and the file refused before the rest is inflated: the declared size against the cap, and
// inflating stops just past the declared size. A file of its own, so that the process's peak RSS
// (`resourceUsage().maxRSS`, which vitest's forked worker keeps per file) measures these tests alone.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createGunzip, deflateRawSync, crc32 as zlibCrc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchMnistFormat } from './fetch-cache.js';
import { DEFAULT_IDX_MAX_BYTES, encodeIdx, parseIdx } from './idx.js';
import { MNIST_FORMAT_FILES } from './mnist-format.js';
import { loadMnistFormat, readIdxFile } from './read-files.js';
import { fixtureDataset, fixtureFiles } from './test-fixtures.js';

const MiB = 2 ** 20;
const BLOCK = 16 * MiB;
const zeroBlock = Buffer.alloc(BLOCK);
// 16 MiB of zeros deflated once, ending on a full flush: the segment needs nothing before it, so
// copies of it concatenate into a valid deflate stream of as many blocks of zeros
const zeroSegment = deflateRawSync(zeroBlock, { level: 9, finishFlush: constants.Z_FULL_FLUSH });

/**
 * A gzip file holding an IDX header of `dims` (uint8) followed by `zeros` zero bytes, built without
 * ever holding the inflated bytes: about 1 KB of gzip per MiB of zeros, with a correct trailer.
 */
function idxBomb(dims: number[], zeros: number): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE((0x08 << 8) | dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  const parts: Buffer[] = [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), deflateRawSync(header, { finishFlush: constants.Z_FULL_FLUSH })];
  let crc = zlibCrc32(header);
  const whole = Math.floor(zeros / BLOCK);
  for (let i = 0; i < whole; i++) {
    parts.push(zeroSegment);
    crc = zlibCrc32(zeroBlock, crc);
  }
  const rest = zeros - whole * BLOCK;
  if (rest > 0) {
    parts.push(deflateRawSync(zeroBlock.subarray(0, rest), { level: 9, finishFlush: constants.Z_FULL_FLUSH }));
    crc = zlibCrc32(zeroBlock.subarray(0, rest), crc);
  }
  parts.push(deflateRawSync(Buffer.alloc(0))); // the final (empty) block
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE((header.length + zeros) % 2 ** 32, 4);
  parts.push(trailer);
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * Runs `f`, returning how long it took and a bound on how far it raised the RSS: the process's peak RSS
 * after it, less the RSS before it (at least the growth; more when an earlier peak was higher).
 */
async function measured(f: () => unknown): Promise<{ growth: number; ms: number }> {
  const before = process.memoryUsage.rss();
  const t0 = performance.now();
  await f();
  return { growth: process.resourceUsage().maxRSS * 1024 - before, ms: performance.now() - t0 };
}

const F = 'train-images-idx3-ubyte.gz';
// 2 054 400 images of 28×28: 1.5 GiB of pixels, the bomb
const HUGE: [number, number, number] = [2_054_400, 28, 28];
const HUGE_BYTES = HUGE[0] * 784;
let bomb: Uint8Array;
let root: string;

beforeAll(async () => {
  bomb = idxBomb(HUGE, HUGE_BYTES);
  root = await mkdtemp(join(tmpdir(), 'forgetless-bomb-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('gzip bombs', () => {
  it('refuses a header declaring more than the cap from the first inflated bytes: the file, the dims and the cap named', async () => {
    let error: Error | undefined;
    const { growth, ms } = await measured(() => {
      try {
        parseIdx(bomb, { file: F, ndims: 3, type: 'uint8' });
      } catch (e) {
        error = e as Error;
      }
    });
    expect(error?.message).toBe(
      `${F}: the header declares 2054400×28×28 = ${HUGE_BYTES} bytes of pixels, more than the cap of ${DEFAULT_IDX_MAX_BYTES} bytes (1 GiB); refused before inflating it (pass maxBytes to allow more)`,
    );
    expect(growth).toBeLessThan(100 * MiB);
    expect(ms).toBeLessThan(2000);
  });

  it('stops inflating just past the declared size when the data is longer than the header says', async () => {
    const small = idxBomb([10, 28, 28], HUGE_BYTES);
    let error: Error | undefined;
    const { growth, ms } = await measured(() => {
      try {
        parseIdx(small, { file: F });
      } catch (e) {
        error = e as Error;
      }
    });
    expect(error?.message).toMatch(new RegExp(`^${F}: corrupt: header says 10×28×28 = 7840 bytes of pixels, but the data inflates to more \\(stopped after \\d+ bytes\\)$`));
    expect(growth).toBeLessThan(100 * MiB);
    expect(ms).toBeLessThan(2000);
  });

  it('refuses the bomb read from a folder or a URL, naming the file', async () => {
    const dir = join(root, 'folder');
    await mkdir(dir, { recursive: true });
    const files = fixtureFiles(fixtureDataset({ trainCount: 10, testCount: 10 }));
    await writeFile(join(dir, MNIST_FORMAT_FILES.trainImages), bomb);
    await writeFile(join(dir, MNIST_FORMAT_FILES.trainLabels), files.trainLabels);
    await writeFile(join(dir, MNIST_FORMAT_FILES.testImages), files.testImages);
    await writeFile(join(dir, MNIST_FORMAT_FILES.testLabels), files.testLabels);
    const path = join(dir, MNIST_FORMAT_FILES.trainImages);
    const byName: Record<string, Uint8Array> = {
      ...Object.fromEntries(Object.entries(MNIST_FORMAT_FILES).map(([role, name]) => [name, files[role as keyof typeof files]])),
      [F]: bomb,
    };
    const fetchMock = async (url: string) => new Response(byName[url.slice(url.lastIndexOf('/') + 1)] as Uint8Array<ArrayBuffer>);
    // the message of the refusal, or 'loaded' (a loaded bomb is too large to print)
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => 'loaded',
        (e: Error) => e.message,
      );
    const messages: string[] = [];
    const { growth } = await measured(async () => {
      messages.push(await refusal(readIdxFile(path)));
      messages.push(await refusal(loadMnistFormat(dir)));
      messages.push(await refusal(fetchMnistFormat({ baseUrl: 'https://example.org/data/', checksums: false, fetch: fetchMock })));
    });
    expect(messages[0]).toMatch(`${path}: the header declares 2054400×28×28`);
    expect(messages[1]).toMatch(`${path}: the header declares 2054400×28×28`);
    expect(messages[2]).toMatch(`${F}: the header declares 2054400×28×28`);
    expect(growth).toBeLessThan(100 * MiB);
  });

  it('maxBytes sets the cap, for gzip and raw files alike', async () => {
    const px = new Uint8Array(3 * 784);
    for (const gzip of [false, true]) {
      const bytes = encodeIdx({ type: 'uint8', dims: [3, 28, 28], data: px }, { gzip });
      expect(() => parseIdx(bytes, { file: 'f', maxBytes: 2000 })).toThrow(
        `f: the header declares 3×28×28 = 2352 bytes of pixels, more than the cap of 2000 bytes (maxBytes); refused before ${gzip ? 'inflating' : 'decoding'} it (pass maxBytes to allow more)`,
      );
      expect(parseIdx(bytes, { file: 'f', maxBytes: 2352 }).dims).toEqual([3, 28, 28]);
    }
    const dir = join(root, 'capped');
    await mkdir(dir, { recursive: true });
    const files = fixtureFiles(fixtureDataset({ trainCount: 10, testCount: 10 }));
    for (const [role, name] of Object.entries(MNIST_FORMAT_FILES)) await writeFile(join(dir, name), files[role as keyof typeof files]);
    await expect(loadMnistFormat({ dir, maxBytes: 5000 })).rejects.toThrow(/the header declares 10×28×28 = 7840 bytes of pixels, more than the cap of 5000 bytes/);
    // a file longer than any IDX file under the cap is not even read
    await expect(loadMnistFormat({ dir, maxBytes: 100 })).rejects.toThrow(
      /: \d+ bytes, more than any IDX file under the cap of 100 bytes can take; not read \(pass maxBytes to allow more\)$/,
    );
    expect((await loadMnistFormat({ dir, maxBytes: 7840 })).train.count).toBe(10);
  });

  it('refuses a download longer than the cap allows without reading all of it', async () => {
    let pulled = 0;
    // 64 MiB, sent 1 MiB at a time, with no Content-Length
    const endless = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            if (++pulled > 64) c.close();
            else c.enqueue(new Uint8Array(MiB));
          },
        }),
      );
    await expect(fetchMnistFormat({ baseUrl: 'https://example.org/', checksums: false, fetch: async () => endless(), maxBytes: 4 * MiB })).rejects.toThrow(
      /: the download from https:\/\/example\.org\/\S+ runs past \d+ bytes, more than any IDX file under the cap of 4194304 bytes can take \(pass maxBytes to allow more\); stopped reading$/,
    );
    expect(pulled).toBeLessThan(4 * 8); // four downloads, each stopped after about 5 MiB
    const declared = () => new Response(new Uint8Array(10), { headers: { 'content-length': String(2 ** 40) } });
    await expect(fetchMnistFormat({ baseUrl: 'https://example.org/', checksums: false, fetch: async () => declared(), maxBytes: 4 * MiB })).rejects.toThrow(
      /: the download from https:\/\/example\.org\/\S+ has Content-Length 1099511627776 bytes, more than any IDX file under the cap of 4194304 bytes can take/,
    );
  });
  // last: inflating it with node:zlib raises the peak RSS a little
  it('the bomb is a valid gzip of 1.5 GiB, under 2 MB on disk', async () => {
    expect(bomb.length).toBeLessThan(2e6);
    expect(HUGE_BYTES).toBeGreaterThan(1.5 * 2 ** 30);
    // node:zlib inflates it as a stream (checking the trailer's CRC-32 and length), counting the bytes
    let inflated = 0;
    const count = new Writable({
      write(chunk: Buffer, _enc, done) {
        inflated += chunk.length;
        done();
      },
    });
    await pipeline(Readable.from([Buffer.from(bomb)]), createGunzip(), count);
    expect(inflated).toBe(16 + HUGE_BYTES);
  });
});
