import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_COUNTS, EMBEDDED_SOURCE } from './embedded.js';
import { embeddedDataDir, loadEmbedded } from './embedded-node.js';
import { classCounts } from './mnist-format.js';

const dist = join(__dirname, '..', 'dist');
const DEBIAN = '/usr/share/datasets/fashion-mnist';

describe('embedded Fashion-MNIST subset', () => {
  it('loads offline: 1000 training and 200 test images per class, checksums as published in SHA256SUMS', async () => {
    const data = await loadEmbedded();
    expect(data.name).toBe('fashion-mnist');
    expect([data.rows, data.cols, data.numClasses]).toEqual([28, 28, 10]);
    expect(data.train.count).toBe(10 * EMBEDDED_COUNTS.trainPerClass);
    expect(data.test.count).toBe(10 * EMBEDDED_COUNTS.testPerClass);
    expect(classCounts(data.train.labels, 10)).toEqual(new Array(10).fill(1000));
    expect(classCounts(data.test.labels, 10)).toEqual(new Array(10).fill(200));
    // real Fashion-MNIST: mean pixel ≈ 0.286 of full scale, about half the pixels exactly 0
    let sum = 0;
    let zeroCount = 0;
    for (const v of data.train.images) {
      sum += v;
      if (v === 0) zeroCount++;
    }
    const mean = sum / data.train.images.length / 255;
    expect(mean).toBeGreaterThan(0.26);
    expect(mean).toBeLessThan(0.31);
    const zeros = zeroCount / data.train.images.length;
    expect(zeros).toBeGreaterThan(0.4);
    expect(zeros).toBeLessThan(0.6);
    const sums = readFileSync(join(embeddedDataDir(), 'SHA256SUMS'), 'utf8').trim().split('\n');
    expect(Object.fromEntries(sums.map((l) => l.split(/\s+/).reverse()))).toEqual(EMBEDDED_SOURCE.checksums);
    expect(readFileSync(join(embeddedDataDir(), 'LICENSE'), 'utf8')).toContain('Copyright (c) 2017 Zalando SE');
  });

  it.skipIf(!existsSync(DEBIAN) || !existsSync(join(dist, 'index.js')))('is remade byte for byte by scripts/make-embedded.mjs from the Debian files', () => {
    const out = mkdtempSync(join(tmpdir(), 'forgetless-embedded-'));
    try {
      execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'make-embedded.mjs'), DEBIAN, out], { encoding: 'utf8' });
      expect(readFileSync(join(out, 'SHA256SUMS'), 'utf8')).toBe(readFileSync(join(embeddedDataDir(), 'SHA256SUMS'), 'utf8'));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it.skipIf(!existsSync(join(dist, 'node.cjs')))('loads from the built package, as ESM and as CommonJS, from any working folder', () => {
    const script = (load: string) => `${load}.then((m) => m.loadEmbedded()).then((d) => console.log(d.train.count, d.test.count, d.train.labels[0]))`;
    const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: tmpdir(), encoding: 'utf8' }).trim();
    const esm = run(['--input-type=module', '-e', script(`import(${JSON.stringify(join(dist, 'node.js'))})`)]);
    const cjs = run(['-e', script(`Promise.resolve(require(${JSON.stringify(join(dist, 'node.cjs'))}))`)]);
    // ESM imported from a CommonJS eval, where a global __dirname ('.') exists beside the module
    const mixed = run(['-e', script(`import(${JSON.stringify(join(dist, 'node.js'))})`)]);
    expect(esm).toMatch(/^10000 2000 \d$/);
    expect(cjs).toBe(esm);
    expect(mixed).toBe(esm);
  });
});
