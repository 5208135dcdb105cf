import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchMnistFormat, fetchVerified, memoryCache } from './fetch-cache.js';
import { MNIST_FILE_ROLES, mnistFormatFileNames } from './mnist-format.js';
import { loadDataset } from './load.js';
import { locateDataset } from './locate.js';
import { loadMnistFormat, sha256HexNode } from './read-files.js';
import { sha256Hex } from './sha256.js';
import { fixtureDataset, fixtureFiles } from './test-fixtures.js';

// A loopback HTTP server serving files made by the test; it counts the requests per path.
const served = new Map<string, Uint8Array>();
const requests: string[] = [];
let server: Server;
let baseUrl: string;
const data = fixtureDataset({ trainCount: 60, testCount: 20, seed: 9 });
const files = fixtureFiles(data);
const names = mnistFormatFileNames();
const checksums = Object.fromEntries(MNIST_FILE_ROLES.map((r) => [names[r], sha256HexNode(files[r])]));
const root = mkdtempSync(join(tmpdir(), 'forgetless-fetch-'));

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    requests.push(path);
    const body = served.get(path);
    if (!body) {
      res.writeHead(404, 'Not Found').end('no such file');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mnist/`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  requests.length = 0;
  served.clear();
  for (const r of MNIST_FILE_ROLES) served.set(`/mnist/${names[r]}`, files[r]);
});

describe('loading from a base URL', () => {
  it('downloads the four files once, verifies them, and then loads from the cache folder', async () => {
    const cacheDir = join(root, 'cache-a');
    const first = await loadMnistFormat({ baseUrl, cacheDir, checksums, name: 'served' });
    expect(requests.sort()).toEqual(MNIST_FILE_ROLES.map((r) => `/mnist/${names[r]}`).sort());
    expect(first.name).toBe('served');
    expect(first.source).toBe(baseUrl);
    expect(Array.from(first.train.images)).toEqual(Array.from(data.train.images));
    expect(readdirSync(cacheDir).sort()).toEqual(Object.values(names).sort());
    expect(sha256HexNode(readFileSync(join(cacheDir, names.trainImages)))).toBe(checksums[names.trainImages]);

    const second = await loadMnistFormat({ baseUrl, cacheDir, checksums });
    expect(requests.length).toBe(4); // nothing more was requested
    expect(Array.from(second.test.labels)).toEqual(Array.from(data.test.labels));
  });

  it('downloads again a cached file whose digest no longer matches', async () => {
    const cacheDir = join(root, 'cache-b');
    await loadMnistFormat({ baseUrl, cacheDir, checksums });
    writeFileSync(join(cacheDir, names.testLabels), new Uint8Array([1, 2, 3]));
    requests.length = 0;
    const again = await loadMnistFormat({ baseUrl, cacheDir, checksums });
    expect(requests).toEqual([`/mnist/${names.testLabels}`]);
    expect(again.test.count).toBe(20);
    expect(sha256HexNode(readFileSync(join(cacheDir, names.testLabels)))).toBe(checksums[names.testLabels]);
  });

  it('rejects a bad checksum naming the file, expected and actual digest, and caches nothing bad', async () => {
    const cacheDir = join(root, 'cache-c');
    const tampered = files.trainImages.slice();
    tampered[100] = (tampered[100] as number) ^ 1;
    served.set(`/mnist/${names.trainImages}`, tampered);
    const actual = sha256HexNode(tampered);
    await expect(loadMnistFormat({ baseUrl, cacheDir, checksums })).rejects.toThrow(
      `train-images-idx3-ubyte.gz: SHA-256 mismatch: expected ${checksums[names.trainImages]}, got ${actual} (${tampered.length} bytes from ${baseUrl}train-images-idx3-ubyte.gz)`,
    );
    expect(existsSync(join(cacheDir, names.trainImages))).toBe(false);
    // no temporary leftovers either: only verified files are in the folder
    for (const f of existsSync(cacheDir) ? readdirSync(cacheDir) : []) expect(Object.values(names)).toContain(f);
  });

  it('reports HTTP errors and missing checksums by file', async () => {
    served.delete(`/mnist/${names.testImages}`);
    await expect(fetchMnistFormat({ baseUrl, checksums })).rejects.toThrow(
      `t10k-images-idx3-ubyte.gz: download from ${baseUrl}t10k-images-idx3-ubyte.gz failed: HTTP 404 Not Found`,
    );
    const { [names.testLabels]: _, ...partial } = checksums;
    await expect(fetchMnistFormat({ baseUrl, checksums: partial })).rejects.toThrow(
      "t10k-labels-idx1-ubyte.gz: no SHA-256 checksum given (pass checksums['t10k-labels-idx1-ubyte.gz'], or checksums: false)",
    );
  });

  it('works in memory with Web Crypto (the browser path), with or without a trailing slash', async () => {
    const cache = memoryCache();
    const loaded = await fetchMnistFormat({ baseUrl: baseUrl.slice(0, -1), checksums, cache });
    expect(loaded.train.count).toBe(60);
    expect([...cache.files.keys()].sort()).toEqual(Object.values(names).sort());
    await fetchMnistFormat({ baseUrl, checksums, cache });
    expect(requests.length).toBe(4);
    expect(await sha256Hex(files.testLabels)).toBe(checksums[names.testLabels]);
    expect(await sha256Hex(new TextEncoder().encode('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('downloads a missing dataset on request into the cache, where it is found next time', async () => {
    const cacheRoot = join(root, 'cache-root');
    const where = { env: {}, systemRoots: [] as string[], cacheRoot };
    const sources = { mnist: { name: 'mnist', baseUrl, checksums, homepage: '', license: '' } };
    await expect(loadDataset('mnist', { ...where, sources })).rejects.toThrow(`or pass { download: true } to fetch it from ${baseUrl}`);
    expect(requests.length).toBe(0);
    const mnist = await loadDataset('mnist', { ...where, sources, download: true });
    expect(mnist.name).toBe('mnist');
    expect(mnist.train.count).toBe(60);
    expect(requests.length).toBe(4);
    expect(await locateDataset('mnist', where)).toEqual({ name: 'mnist', dir: join(cacheRoot, 'mnist'), origin: 'cache' });
    expect((await loadDataset('mnist', where)).test.count).toBe(20);
    expect(requests.length).toBe(4);
  });

  it('skips verification only when asked to', async () => {
    served.set('/mnist/extra.bin', new Uint8Array([7, 7]));
    const bytes = await fetchVerified(baseUrl, 'extra.bin', { checksums: false });
    expect(Array.from(bytes)).toEqual([7, 7]);
  });
});
