// The output folder keeps results, run by run, as a user runs the CLI (child processes): a second
// writer is refused while the first finishes intact; an earlier run's results or checkpoint are not
// replaced without --force; a bad --out fails before any work; stale temporary files are removed;
// SIGTERM, like Ctrl-C, writes the partial results and leaves a resumable run.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, checkBuilt, finished, runCli, startCli, tinyRun, waitFor } from './cli-process.test-util.js';
import { LOCK_NAME } from './output-folder.js';

let dir: string;
const run = (args: readonly string[], env?: Record<string, string>) => runCli(args, dir, env);
const oneLine = (stderr: string) => {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return lines[0] as string;
};

beforeAll(async () => {
  checkBuilt();
  dir = await mkdtemp(join(tmpdir(), 'forgetless-out-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('one writer per output folder', () => {
  it('a second run into the same --out is refused, naming the folder and the first run’s pid; the first finishes intact', async () => {
    const out = join(dir, 'shared');
    const first = startCli(tinyRun(out, ['--tasks', '3', '--iterations', '20']), dir);
    const firstDone = finished(first);
    // stop the first run while it holds the folder, so the second certainly meets it
    await waitFor(() => existsSync(join(out, LOCK_NAME, 'owner.json')), first, 'the first run locking its folder');
    first.kill('SIGSTOP');
    let second: CliResult;
    try {
      second = await run(tinyRun(out));
    } finally {
      first.kill('SIGCONT');
    }
    expect(second.code, second.stderr).toBe(1);
    expect(oneLine(second.stderr)).toContain(`forgetless: --out: ${out} is in use by another forgetless process (pid ${first.pid}, since `);
    expect(second.stderr).toMatch(/; wait for it to finish, or choose another folder\n$/);
    const r = await firstDone;
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(results.cancelled).toBe(false);
    expect(results.runs).toHaveLength(1);
    expect(results.runs[0].accuracy).toHaveLength(3);
    expect(existsSync(join(out, LOCK_NAME)), 'the lock is released').toBe(false);
  });
});

describe('earlier runs are kept', () => {
  it('a folder holding results is refused without --force and replaced with it', async () => {
    const out = join(dir, 'done');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'results.json'), '{"format":"forgetless-results","runs":[]}');
    await writeFile(join(out, 'matrix-old-method.svg'), '<svg/>');
    const refused = await run(tinyRun(out));
    expect(refused.code, refused.stderr).toBe(1);
    expect(oneLine(refused.stderr)).toBe(`forgetless: --out: ${out} holds the results of an earlier run: pass --force to replace them, or choose another --out`);
    expect(await readFile(join(out, 'results.json'), 'utf8')).toBe('{"format":"forgetless-results","runs":[]}');

    const forced = await run(tinyRun(out, ['--force']));
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'results.json'), 'utf8')).runs).toHaveLength(1);
    expect(existsSync(join(out, 'matrix-old-method.svg')), "the earlier run's chart is gone").toBe(false);
  });

  it("a folder holding an interrupted run's checkpoint is refused with the --resume command to continue it", async () => {
    const out = join(dir, 'interrupted');
    await mkdir(join(out, 'checkpoint'), { recursive: true });
    await writeFile(join(out, 'checkpoint', 'state.json'), '{"format":"forgetless-checkpoint"}');
    const refused = await run(tinyRun(out));
    expect(refused.code, refused.stderr).toBe(1);
    expect(oneLine(refused.stderr)).toBe(
      `forgetless: --out: ${out} holds an interrupted run's checkpoint: continue it with \`forgetless run --resume ${out}\`, or pass --force to start over (its checkpoint and results are removed)`,
    );
    expect(existsSync(join(out, 'checkpoint', 'state.json'))).toBe(true);
  });
});

describe('--out is checked before any work', () => {
  it('a file as --out is refused in one line, within a second of the CLI’s own start-up', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a folder');
    const baseline = await run(['--version']); // node, tfjs-core and commander starting: the floor
    const r = await run(['run', '--backend', 'cpu', '--out', file]); // the default run: minutes of training
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r.stderr)).toBe(`forgetless: --out: ${file} is a file, not a folder`);
    expect(r.stdout).toBe('');
    expect(r.ms - baseline.ms, `${r.ms.toFixed(0)} ms against ${baseline.ms.toFixed(0)} ms for --version`).toBeLessThan(1000);
    expect(await readFile(file, 'utf8')).toBe('not a folder');

    const below = await run(['run', '--backend', 'cpu', '--out', join(file, 'sub')]);
    expect(below.code, below.stderr).toBe(2);
    expect(oneLine(below.stderr)).toBe(`forgetless: --out: cannot create ${join(file, 'sub')}: a part of the path is a file, not a folder`);
  });

  it('a refused run leaves no folder behind', async () => {
    const out = join(dir, 'never', 'made');
    const r = await run(['run', '--methods', 'plain,ewc-nope', '--out', out]);
    expect(r.code).toBe(2);
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});

describe('temporary files of killed writes', () => {
  it('are removed from the output folder and its checkpoint; other files stay', async () => {
    const out = join(dir, 'stale');
    const dead = 4194305; // above Linux's largest pid: no such process
    await mkdir(join(out, 'checkpoint', 'gen-3'), { recursive: true });
    const stale = [`results.json.${dead}.1700000000000.tmp`, `checkpoint/state.json.${dead}.1700000000001.tmp`, `checkpoint/gen-3/weights.bin.${dead}.1700000000002.tmp`];
    for (const f of stale) await writeFile(join(out, f), 'partial');
    await writeFile(join(out, 'notes.tmp'), 'the user’s');
    const r = await run(tinyRun(out));
    expect(r.code, r.stderr).toBe(0);
    for (const f of stale) expect(existsSync(join(out, f)), f).toBe(false);
    expect(existsSync(join(out, 'notes.tmp'))).toBe(true);
    expect((await readdir(join(out, 'checkpoint'))).filter((e) => e.endsWith('.tmp'))).toEqual([]);
  });

  it('correlate refuses a folder as --out and leaves no temporary file beside it', async () => {
    const out = join(dir, 'corr-folder');
    await mkdir(out);
    const r = await run(['correlate', 'a.json', 'b.json', '--out', out]);
    expect(r.code, r.stderr).toBe(2);
    expect(oneLine(r.stderr)).toBe(`forgetless: --out: ${out} is a folder; name the file to write (e.g. ${join(out, 'correlation.json')})`);
    expect((await readdir(dir)).filter((e) => e.endsWith('.tmp'))).toEqual([]);
  });
});

describe('SIGTERM', () => {
  it('stops like Ctrl-C: partial results written, the lock released, and the run resumable', async () => {
    const out = join(dir, 'terminated');
    const args = tinyRun(out, ['--tasks', '4', '--iterations', '30', '--methods', 'plain,ewc-mas', '--importance-samples', '100']);
    const child = startCli(args, dir);
    const done = finished(child);
    await waitFor(() => existsSync(join(out, 'checkpoint', 'state.json')), child, 'a first checkpoint');
    child.kill('SIGTERM');
    const r = await done;
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`forgetless: interrupted: resume with forgetless run --resume ${out}`);
    expect(r.stdout).toContain('cancelled; partial results');
    const partial = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(partial.cancelled).toBe(true);
    expect(existsSync(join(out, LOCK_NAME))).toBe(false);

    const resumed = await run(['run', '--resume', out, '--quiet']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const full = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(full.cancelled).toBe(false);
    expect(full.runs.map((x: { variant: string }) => x.variant)).toEqual(['plain', 'ewc-mas']);
    for (const x of full.runs as { accuracy: (number | null)[][] }[]) expect(x.accuracy).toHaveLength(4);
  });
});
