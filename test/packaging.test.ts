// Packs @forgetless/core with `npm pack`, installs the tarball into a scratch project that has only
// tfjs-core and tfjs-backend-wasm, and trains a small model there from plain Node ESM and from CJS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tfVersion = JSON.parse(readFileSync(join(root, 'node_modules/@tensorflow/tfjs-core/package.json'), 'utf8')).version as string;
let dir = '';

const script = (importLine: string) => `${importLine}
(async () => {
  const backend = await core.useBackend('wasm');
  const tasks = core.syntheticPermutedTasks({ numTasks: 2, features: 16, trainPerClass: 30, testPerClass: 20, seed: 2 });
  const model = core.mlp([16, 16, 10], { seed: 1 });
  const before = tfcore.memory().numTensors;
  const opt = tfcore.train.sgd(0.2);
  const r = await core.trainContinual(model, tasks, { optimizer: opt, epochs: 3, batchSize: 20 });
  opt.dispose();
  console.log(JSON.stringify({ backend, accuracy: r.accuracy, leaked: tfcore.memory().numTensors - before }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function run(file: string): { backend: string; accuracy: number[][]; leaked: number } {
  const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (!line) throw new Error(`no result from ${file}:\n${out}`);
  return JSON.parse(line);
}

describe('@forgetless/core as an installed package', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'forgetless-pack-'));
    const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: join(root, 'packages/core'), encoding: 'utf8' }).trim().split('\n').at(-1) as string;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }));
    execFileSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(dir, packed), `@tensorflow/tfjs-core@${tfVersion}`, `@tensorflow/tfjs-backend-wasm@${tfVersion}`],
      { cwd: dir, stdio: 'pipe' },
    );
    writeFileSync(join(dir, 'esm.mjs'), script("import * as core from '@forgetless/core';\nimport * as tfcore from '@tensorflow/tfjs-core';"));
    writeFileSync(join(dir, 'cjs.cjs'), script("const core = require('@forgetless/core');\nconst tfcore = require('@tensorflow/tfjs-core');"));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs with only tfjs-core and tfjs-backend-wasm beside it', () => {
    const installed = JSON.parse(execFileSync('npm', ['ls', '--json', '--depth=0'], { cwd: dir, encoding: 'utf8' })).dependencies;
    expect(Object.keys(installed).sort()).toEqual(['@forgetless/core', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-core']);
  });

  it.each(['esm.mjs', 'cjs.cjs'])('trains on wasm from plain Node (%s), gradients registered, no leaks', (file) => {
    const r = run(file);
    expect(r.backend).toBe('wasm');
    expect(r.accuracy).toHaveLength(2);
    expect(r.accuracy[1]?.[1]).toBeGreaterThan(0.6);
    expect(r.leaked).toBe(0);
  });
});
