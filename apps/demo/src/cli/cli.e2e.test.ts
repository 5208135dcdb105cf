// The built CLI (`node dist/cli.js`, which turbo builds before tests) as a user runs it: one-line
// errors with exit codes, and a run killed with SIGKILL after its first checkpoint that, resumed,
// ends with exactly the accuracy matrices of an uninterrupted run of the same seed (cpu backend);
// the command line as installed (version, help, a mistyped command, the package's files); data
// defaults (FORGETLESS_DATA, importance samples, the default λ under SGD).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { embeddedDataDir } from '@forgetless/datasets/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, checkBuilt, runCli, startCli } from './cli-process.test-util.js';

let dir: string;
const start = (args: string[]) => startCli(args, dir);
const run = (args: string[], env?: Record<string, string | undefined>) => runCli(args, dir, env);
const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

beforeAll(async () => {
  checkBuilt();
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
    [['run', '--threads', '0'], 2, /^forgetless: --threads: expected a whole number from 1 to 64 or auto, got '0'$/],
    [['run', '--backend', 'cpu', '--threads', '2'], 2, /^forgetless: --threads: only the wasm backend runs on threads here; --backend cpu given/],
    [
      ['importances', '--model', 'm.json', '--out', 'x', '--backend', 'cpu', '--threads', '3'],
      2,
      /^forgetless: --threads: only the wasm backend runs on threads here; --backend cpu given/,
    ],
    [['prune', '--model', 'm.json', '--out', 'x', '--threads', 'many'], 2, /^forgetless: --threads: expected a whole number from 1 to 64 or auto, got 'many'$/],
    [
      ['importances', '--model', '/nonexistent/model.json', '--data', '.', '--out', 'x', '--backend', 'cpu'],
      1,
      /^forgetless: --model: \/nonexistent\/model\.json: cannot read the model/,
    ],
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
    'run',
    '--backend',
    'cpu',
    '--dataset',
    'embedded',
    '--tasks',
    '4',
    '--model',
    '784-32-10',
    '--methods',
    'plain,ewc-mas,wva-sig:steps@adam',
    '--lambda',
    'ewc-mas=2',
    '--lambda',
    'wva-sig=20',
    '--iterations',
    '30',
    '--train-limit',
    '3000',
    '--importance-samples',
    '200',
    '--eval-limit',
    '400',
    '--seeds',
    '3',
    '--out',
    out,
    '--quiet',
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
    expect(atKill.completed.length, 'killed in the first run or so').toBeLessThan(expected.runs.length);

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
    // --threads is taken (how the run goes, not what it computes), but only by a run on wasm
    const t = await run(['run', '--resume', join(dir, 'full'), '--threads', '2']);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/^forgetless: --threads: the run in \S+full runs on the cpu backend, which takes one thread; drop --threads\n$/);
  });
});

describe('the command as installed', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('a mistyped command is named as such, with a suggestion', async () => {
    for (const [typed, meant] of [
      ['improtances', 'importances'],
      ['rnu', 'run'],
      ['prnue', 'prune'],
    ]) {
      const r = await run([typed as string, '--out', 'x']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`forgetless: unknown command '${typed}' (did you mean ${meant}?)\n`);
    }
    expect(existsSync(join(dir, 'x'))).toBe(false);
  });

  it('--help shows every option’s default', async () => {
    const r = await run(['run', '--help']);
    expect(r.code).toBe(0);
    for (const text of ['--model <spec>', '(default: 784-100-10)', '(default: embedded;', '(default: runs/<timestamp>)', '(default: the closing set, at most 5000'])
      expect(r.stdout).toContain(text);
    const prune = await run(['prune', '--help']);
    expect(prune.stdout).toMatch(/--data <name\|dir>\s+embedded/);
  });

  it('the package is publishable: a bin with a shebang, the license, the README, no tests or source maps', async () => {
    const pkg = JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8'));
    expect(pkg.private).toBeUndefined();
    expect(pkg.bin).toEqual({ forgetless: './dist/cli.js' });
    expect((await readFile(CLI, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PACKAGE_DIR });
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
    for (const f of ['dist/cli.js', 'dist/cli/program.js', 'dist/cli/run-command.js', 'LICENSE', 'README.md', 'package.json']) expect(files).toContain(f);
    expect(files.filter((f) => /\.(test|test-util)\.|\.map$|\.d\.ts$|^src\/|^web\//.test(f))).toEqual([]);
  });
});

describe('data', () => {
  const quick = ['--methods', 'plain', '--tasks', '1', '--iterations', '1', '--train-limit', '100', '--eval-limit', '50', '--seeds', '0', '--backend', 'cpu', '--quiet'];

  it('a FORGETLESS_DATA that is no folder, or holds no copy of the dataset asked for, is said in a warning', async () => {
    const missing = join(dir, 'no-such-data');
    const r = await run(['run', '--dataset', 'kmnist', ...quick, '--out', join(dir, 'kmnist')], { FORGETLESS_DATA: missing });
    expect(r.stderr).toContain(`forgetless: warning: FORGETLESS_DATA=${missing} does not exist: it is ignored\n`);
    const empty = join(dir, 'empty-data');
    await mkdir(empty);
    const r2 = await run(['run', '--dataset', 'fashion-mnist', ...quick, '--out', join(dir, 'fm-env')], { FORGETLESS_DATA: empty });
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).toMatch(
      new RegExp(`^forgetless: warning: FORGETLESS_DATA=${empty} holds no fashion-mnist \\(neither it nor ${join(empty, 'fashion-mnist')} is an MNIST-format folder\\): using `),
    );
  });

  it('importances use the closing set (833 on the embedded subset) unless told otherwise, and reports say so', async () => {
    const out = join(dir, 'samples-embedded');
    const r = await run(['run', '--dataset', 'embedded', ...quick, '--methods', 'ewc-mas', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'results.json'), 'utf8')).config.importanceLimit).toBe(833);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain('importances on 833 closing-set samples per task');
  });

  it.skipIf(!existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'))('and 5000 on full Fashion-MNIST (Debian’s dataset-fashion-mnist)', async () => {
    const out = join(dir, 'samples-full');
    const args = ['run', '--dataset', 'fashion-mnist', '--methods', 'ewc-mas', '--tasks', '1', '--iterations', '1', '--train-limit', '100', '--eval-limit', '50', '--seeds', '0'];
    const r = await run([...args, '--out', out, '--no-progress'], { FORGETLESS_DATA: '' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('importances on 5000 samples');
    expect(JSON.parse(await readFile(join(out, 'results.json'), 'utf8')).config.importanceLimit).toBe(5000);
    expect(await readFile(join(out, 'report.md'), 'utf8')).toContain('importances on 5000 closing-set samples per task');
  });

  it('ewc-fis without a λ does not diverge under the default SGD learning rate', async () => {
    const out = join(dir, 'ewc-fis');
    const r = await run(['run', '--methods', 'ewc-fis', '--tasks', '2', '--epochs', '1', '--seeds', '0', '--eval-limit', '500', '--quiet', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(results.config.variants[0].lambdas).toEqual([5]);
    expect(results.runs[0].diverged).toBeUndefined();
    expect(results.runs[0].finalAverage).toBeGreaterThan(0.6);
  });
});
