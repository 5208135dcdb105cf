import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MNIST_FILE_ROLES, mnistFormatFileNames } from './mnist-format.js';
import { findMnistFormatFiles, loadMnistFormat, readIdxFile, sha256HexNode } from './read-files.js';
import { fixtureDataset, fixtureFiles } from './test-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'forgetless-read-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function writeFolder(name: string, files: Record<string, Uint8Array>): string {
  const dir = join(root, name);
  for (const [file, bytes] of Object.entries(files)) {
    writeFileSync(join(dir, file), bytes, { flag: 'w' });
  }
  return dir;
}

function folder(name: string, names: Record<string, string>, gzip = true, data = fixtureDataset()) {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const bytes = fixtureFiles(data, gzip);
  return { dir: writeFolder(name, Object.fromEntries(MNIST_FILE_ROLES.map((r) => [names[r], bytes[r]]))), data };
}

describe('reading MNIST-format folders', () => {
  it('loads gzip, raw and dotted file names, naming the dataset after its folder', async () => {
    const gz = folder('fashion', mnistFormatFileNames());
    const raw = folder('raw', mnistFormatFileNames({ gzip: false }), false);
    const dotted = folder('dotted', Object.fromEntries(MNIST_FILE_ROLES.map((r) => [r, mnistFormatFileNames({ gzip: false })[r].replace(/-(idx\d)-/, '.$1-')])), false);
    for (const { dir, data } of [gz, raw, dotted]) {
      const loaded = await loadMnistFormat(dir);
      expect(loaded.train.count).toBe(data.train.count);
      expect(Array.from(loaded.test.images)).toEqual(Array.from(data.test.images));
      expect(loaded.source).toBe(dir);
    }
    expect((await loadMnistFormat(gz.dir)).name).toBe('fashion');
  });

  it('finds a single prefix by itself and asks for one among several', async () => {
    const { dir } = folder('emnist', mnistFormatFileNames({ prefix: 'emnist-digits-' }));
    expect((await loadMnistFormat(dir)).train.count).toBe(120);
    const bytes = fixtureFiles(fixtureDataset({ trainCount: 10, testCount: 5 }));
    writeFolder('emnist', Object.fromEntries(MNIST_FILE_ROLES.map((r) => [mnistFormatFileNames({ prefix: 'emnist-letters-' })[r], bytes[r]])));
    await expect(loadMnistFormat(dir)).rejects.toThrow(`${dir} holds several MNIST-format sets (prefixes 'emnist-digits-', 'emnist-letters-'); pass a prefix`);
    expect((await loadMnistFormat({ dir, prefix: 'emnist-letters-' })).train.count).toBe(10);
  });

  it('lists the missing files of an incomplete folder', async () => {
    const { dir } = folder('partial', mnistFormatFileNames());
    rmSync(join(dir, 't10k-labels-idx1-ubyte.gz'));
    await expect(loadMnistFormat(dir)).rejects.toThrow(`${dir} is not an MNIST-format folder: missing t10k-labels-idx1-ubyte.gz`);
    expect(await findMnistFormatFiles(join(root, 'nowhere'))).toEqual({ missing: [`the folder ${join(root, 'nowhere')}`] });
  });

  it('names the path of a truncated file, and of files that disagree', async () => {
    const { dir, data } = folder('truncated', mnistFormatFileNames({ gzip: false }), false);
    const path = join(dir, 'train-images-idx3-ubyte');
    const bytes = fixtureFiles(data, false).trainImages;
    writeFileSync(path, bytes.subarray(0, 16 + 1000));
    await expect(readIdxFile(path)).rejects.toThrow(`${path}: truncated: header says 120×28×28 = 94080 bytes of pixels, file has 1000`);
    await expect(loadMnistFormat(dir)).rejects.toThrow(`${path}: truncated`);
    await expect(readIdxFile(join(dir, 'absent'))).rejects.toThrow(`${join(dir, 'absent')}: cannot read`);
    writeFileSync(path, bytes);
    const other = fixtureFiles(fixtureDataset({ trainCount: 7 }), false);
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), other.trainLabels);
    await expect(loadMnistFormat(dir)).rejects.toThrow(`${path} has 120 images but ${join(dir, 'train-labels-idx1-ubyte')} has 7 labels`);
  });

  it('checks SHA-256 checksums of a folder when given', async () => {
    const { dir, data } = folder('summed', mnistFormatFileNames());
    const files = fixtureFiles(data);
    const checksums = Object.fromEntries(MNIST_FILE_ROLES.map((r) => [mnistFormatFileNames()[r], sha256HexNode(files[r])]));
    expect((await loadMnistFormat({ dir, checksums })).train.count).toBe(120);
    const wrong = { ...checksums, 'train-labels-idx1-ubyte.gz': '0'.repeat(64) };
    await expect(loadMnistFormat({ dir, checksums: wrong })).rejects.toThrow(
      `${join(dir, 'train-labels-idx1-ubyte.gz')}: SHA-256 mismatch: expected ${'0'.repeat(64)}, got ${checksums['train-labels-idx1-ubyte.gz']}`,
    );
  });
});
