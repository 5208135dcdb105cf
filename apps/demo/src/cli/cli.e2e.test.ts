// The built CLI (`node dist/cli.js`, which turbo builds before tests) as a user runs it: one-line
// errors with exit codes, and a run killed with SIGKILL after its first checkpoint that, resumed,
// ends with exactly the accuracy matrices of an uninterrupted run of the same seed (cpu backend).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedDataDir } from '@forgetless/datasets/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');
let dir: string;

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, FORGETLESS_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = start(args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build -w @forgetless/demo)`);
  dir = await mkdtemp(join(tmpdir(), 'forgetless-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('errors: one line, no stack trace', () => {
  it.each([
    [['run', '--methods', 'plain,ewc-nope'], 2, /^forgetless: unknown method 'ewc-nope' \(known: plain, l2, ewc-fis, /],
    [['run', '--lambda=-1'], 2, /^forgetless: --lambda: λ must be ≥ 0, got -1$/],
    [['run', '--methods', 'ewc-mas', '--lambda', 'ewc-mas=-0.5'], 2, /^forgetless: --lambda: λ must be ≥ 0, got -0.5$/],
    [['run', '--model', '784-x-10'], 2, /^forgetless: option 'model': model spec '784-x-10': expected sizes like 784-300-150-10/],
    [['run', '--frobnicate'], 2, /^forgetless: unknown option '--frobnicate'/],
    [['run', '--preset', 'paper9'], 2, /^forgetless: --preset: unknown preset 'paper9'/],
    [['run', '--dataset', '/nonexistent/folder', '--backend', 'cpu'], 1, /^forgetless: data: dataset '\/nonexistent\/folder' not found; looked in: \/nonexistent\/folder/],
    [['run', '--resume', '/nonexistent/run'], 1, /^forgetless: --resume: \/nonexistent\/run holds no checkpoint/],
    [['importances', '--model', '/nonexistent/model.json', '--data', '.', '--out', 'x', '--backend', 'cpu'], 1, /^forgetless: --model: \/nonexistent\/model\.json: cannot read the model/],
    [['correlate', 'a.json'], 2, /^forgetless: missing required argument 'b'/],
  ] as [string[], number, RegExp][])('%j → exit %i', async (args, code, message) => {
    const r = await run(args);
    expect(r.code, r.stderr).toBe(code);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a corrupt model.json and a missing data folder name the file', async () => {
    const bad = join(dir, 'bad');
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, 'model.json'), '{"modelTopology": {"class_name": "Sequential", "config": {"layers": [');
    const r = await run(['importances', '--model', join(bad, 'model.json'), '--data', embeddedDataDir(), '--out', join(dir, 'o'), '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^forgetless: --model: ${join(bad, 'model.json').replace(/[/.]/g, '\\$&')}`));
    const noData = await run(['prune', '--model', join(bad, 'model.json'), '--data', join(dir, 'nowhere'), '--out', join(dir, 'o'), '--backend', 'cpu']);
    expect(noData.code).toBe(1);
    expect(noData.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('checkpoints', () => {
  const args = (out: string) => [
    'run', '--backend', 'cpu', '--dataset', 'embedded', '--tasks', '4', '--model', '784-32-10', '--methods', 'plain,ewc-mas,wva-sig:steps@adam',
    '--lambda', 'ewc-mas=2', '--lambda', 'wva-sig=20', '--iterations', '30', '--train-limit', '3000', '--importance-samples', '200', '--eval-limit', '400',
    '--seeds', '3', '--out', out, '--quiet',
  ];

  it('a run killed after its first checkpoint resumes to the same accuracy matrices as an uninterrupted run', async () => {
    const full = join(dir, 'full');
    const r = await run(args(full));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/plain\s+-\s+[\d.]+/);
    const expected = JSON.parse(await readFile(join(full, 'results.json'), 'utf8'));
    for (const f of ['report.md', 'avg-accuracy.svg', 'matrix-plain.svg', 'matrix-ewc-mas.svg', 'matrix-wva-sig-steps-adam.svg']) expect(existsSync(join(full, f)), f).toBe(true);

    const killed = join(dir, 'killed');
    const child = start(args(killed));
    const state = join(killed, 'checkpoint', 'state.json');
    await new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        if (existsSync(state)) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve();
        } else if (Date.now() - t0 > 60_000 || child.exitCode !== null) {
          clearInterval(poll);
          reject(new Error('no checkpoint appeared'));
        }
      }, 5);
    });
    await new Promise((resolve) => child.on('close', resolve));
    expect(existsSync(join(killed, 'results.json')), 'killed before the end').toBe(false);
    const atKill = JSON.parse(await readFile(state, 'utf8'));
    expect(atKill.completed.length, "killed in the first run or so").toBeLessThan(expected.runs.length);

    const resumed = await run(['run', '--resume', killed, '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const got = JSON.parse(await readFile(join(killed, 'results.json'), 'utf8'));
    expect(got.runs.map((x: { variant: string }) => x.variant)).toEqual(['plain', 'ewc-mas', 'wva-sig:steps@adam']);
    expect(got.runs.map((x: { accuracy: number[][] }) => x.accuracy)).toEqual(expected.runs.map((x: { accuracy: number[][] }) => x.accuracy));
    expect(got.config).toEqual(expected.config);
  });

  it('--resume refuses other settings', async () => {
    const r = await run(['run', '--resume', join(dir, 'full'), '--epochs', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^forgetless: --resume continues a run with its own settings: drop --epochs/);
  });
});
