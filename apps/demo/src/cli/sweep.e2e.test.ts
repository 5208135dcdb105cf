// `forgetless sweep --workers N` as a user runs it (the built CLI): the same 4-cell sweep with 1 and 2
// worker processes gives, cell for cell, the records of `forgetless run` (wall-clock fields aside),
// byte-identical charts and the same report; run again into its folder, it runs nothing.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBuilt, runCli } from './cli-process.test-util.js';
import { TINY_SWEEP, svgs, timelessReport, timelessResults } from './sweep.test-util.js';

let dir: string;
beforeAll(async () => {
  checkBuilt();
  dir = await mkdtemp(join(tmpdir(), 'forgetless-sweep-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('forgetless sweep --workers', () => {
  it('1 and 2 worker processes: cell for cell what forgetless run gives; again into its folder: nothing runs', async () => {
    const [one, two, single] = [join(dir, 'one'), join(dir, 'two'), join(dir, 'run')];
    const a = await runCli(['sweep', ...TINY_SWEEP, '--workers', '1', '--out', one], dir);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/4 cell\(s\) on 1 worker process/);
    const b = await runCli(['sweep', ...TINY_SWEEP, '--workers', '2', '--out', two], dir);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/4 cell\(s\) on 2 worker process/);
    expect(b.stderr).toMatch(/\(worker 2\)/); // the second worker did run cells
    const c = await runCli(['run', ...TINY_SWEEP, '--quiet', '--out', single], dir);
    expect(c.code, c.stderr).toBe(0);

    const reference = await timelessResults(single);
    expect(reference.runs).toHaveLength(4);
    expect(await timelessResults(one)).toEqual(reference);
    expect(await timelessResults(two)).toEqual(reference);
    expect(await svgs(one)).toEqual(await svgs(single));
    expect(await svgs(two)).toEqual(await svgs(single));
    expect(Object.keys(await svgs(two))).toEqual(['avg-accuracy.svg', 'matrix-ewc-mas.svg', 'matrix-plain.svg']);
    expect(await timelessReport(two)).toBe(await timelessReport(single));
    expect(await timelessReport(one)).toBe(await timelessReport(single));
    // each cell left its result under its id, and no checkpoint
    const cells = await readdir(join(two, 'cells'));
    expect(cells).toHaveLength(4);
    for (const id of cells) expect(await readdir(join(two, 'cells', id))).toEqual(['result.json']);

    const again = await runCli(['sweep', ...TINY_SWEEP, '--workers', '2', '--out', two], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/4 of 4 cells already done/);
    expect(again.stderr).not.toMatch(/worker process/);
    expect(await timelessResults(two)).toEqual(reference);
  }, 240_000);

  it('refuses a bad --workers and --collect without --queue; --status counts the finished cells', async () => {
    const bad = await runCli(['sweep', ...TINY_SWEEP, '--workers', '0', '--out', join(dir, 'bad')], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^forgetless: --workers: expected a whole number of processes from 1 to 256, got '0'/);
    const collect = await runCli(['sweep', '--collect', '--out', join(dir, 'two')], dir);
    expect(collect.code).toBe(2);
    expect(collect.stderr).toMatch(/^forgetless: --collect: only with --queue/);
    const status = await runCli(['sweep', '--status', '--out', join(dir, 'two')], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/: 4\/4 cells done, 0 begun, 0 not started; [\d.]+ min spent so far/);
  }, 60_000);
});
