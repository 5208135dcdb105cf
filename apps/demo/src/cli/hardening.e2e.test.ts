// The built CLI (`node dist/cli.js`) on results that would look valid but are not: a run that diverges
// exits 3 and is marked in the table, results.json and report.md; labels the model cannot output are
// refused before training; --resume refuses data that changed since the run began.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { embeddedDataDir } from '@forgetless/datasets/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
let dir: string;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, FORGETLESS_DEBUG: '', FORGETLESS_DATA: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A copy of the embedded data set in `name`, with `labels` applied to the training labels (IDX: 8 header bytes, then one byte each). */
async function dataCopy(name: string, labels?: (y: Uint8Array) => void): Promise<string> {
  const out = join(dir, name);
  await mkdir(out, { recursive: true });
  for (const f of FILES) await copyFile(join(embeddedDataDir(), f), join(out, f));
  if (labels) await editLabels(out, labels);
  return out;
}

async function editLabels(folder: string, edit: (y: Uint8Array) => void): Promise<void> {
  const file = join(folder, 'train-labels-idx1-ubyte.gz');
  const raw = new Uint8Array(gunzipSync(await readFile(file)));
  edit(raw.subarray(8));
  await writeFile(file, gzipSync(raw));
}

const small = [
  '--backend',
  'cpu',
  '--tasks',
  '2',
  '--model',
  '784-16-10',
  '--iterations',
  '4',
  '--train-limit',
  '400',
  '--eval-limit',
  '100',
  '--importance-samples',
  '50',
  '--seeds',
  '1',
  '--quiet',
];

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build -w @forgetless/demo)`);
  dir = await mkdtemp(join(tmpdir(), 'forgetless-hardening-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a run that diverges', () => {
  it('--lr 1e30: exit 3 naming the run, the step and the parameter; — in the table; marked in results.json and report.md', async () => {
    const out = join(dir, 'diverged');
    const r = await run(['run', ...small, '--dataset', 'embedded', '--methods', 'plain', '--lr', '1e30', '--out', out]);
    expect(r.code, r.stderr).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines[lines.length - 1]).toBe(
      "forgetless: 1 of 1 runs diverged (plain, seed 1: diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN)); their accuracies are not reported",
    );
    const row = r.stdout.split('\n').find((l) => l.startsWith('plain')) ?? '';
    expect(row).toContain('diverged at task 1 step 2');
    expect(row).not.toMatch(/\d\.\d{3}/);
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(results.runs[0].diverged).toBe("diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN)");
    expect(results.runs[0].divergence).toMatchObject({ taskIndex: 0, step: 2, reason: 'loss', parameter: 'dense_0/kernel' });
    expect(results.runs[0].accuracy).toEqual([]);
    expect(results.runs[0].finalAverage).toBeNull();
    const md = await readFile(join(out, 'report.md'), 'utf8');
    expect(md).toContain("| plain | 1 | diverged at task 1 step 2 (loss = NaN; parameter 'dense_0/kernel' = NaN) |");
  });
});

describe('labels the model cannot output', () => {
  it.each([
    [
      'a label of 200',
      (y: Uint8Array): void => {
        y[5] = 200;
      },
      /labels up to 200 \(numClasses 201\), but the model outputs 10 classes/,
    ],
    [
      'labels 10–19',
      (y: Uint8Array): void => {
        for (let i = 0; i < y.length; i++) y[i] = (y[i] as number) + 10;
      },
      /labels up to 19 \(numClasses 20\), but the model outputs 10 classes/,
    ],
  ] as const)('%s: refused before training, one line naming the label and the output width', async (name, edit, message) => {
    const data = await dataCopy(`labels-${name.length}`, edit);
    const out = join(dir, `labels-out-${name.length}`);
    const r = await run(['run', ...small, '--dataset', data, '--methods', 'plain', '--out', out]);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^forgetless: /);
    expect(lines[0]).toMatch(message);
    expect(existsSync(join(out, 'checkpoint')), 'nothing trained, nothing written').toBe(false);
  });
});

describe('--resume after the data changed', () => {
  it('resumes unchanged data, refuses changed labels, naming what changed', async () => {
    const data = await dataCopy('resume-data');
    const out = join(dir, 'resume-out');
    const first = await run(['run', ...small, '--dataset', data, '--methods', 'plain,l2', '--lambda', 'l2=0.01', '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    const state = JSON.parse(await readFile(join(out, 'checkpoint', 'state.json'), 'utf8'));
    expect(state.context.fingerprint?.config).toMatch(/^[0-9a-f]{64}$/);
    const same = await run(['run', '--resume', out, '--quiet']);
    expect(same.code, same.stderr).toBe(0);

    await editLabels(data, (y) => void (y[0] = (((y[0] as number) + 1) % 10) as number));
    const changed = await run(['run', '--resume', out, '--quiet']);
    expect(changed.code, changed.stderr).toBe(1);
    const lines = changed.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^forgetless: --resume: the data changed since the run began: task 1 \('[^']+'\) train labels differ/);
    expect(lines[0]).toMatch(/restore the data the run began with, or start a new run/);
  });
});
