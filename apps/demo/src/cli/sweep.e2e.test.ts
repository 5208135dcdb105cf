// `forgetless sweep --workers N` as a user runs it (the built CLI): the same 4-cell sweep with 1 and 2
// worker processes gives, cell for cell, the records of `forgetless run` (wall-clock fields aside),
// byte-identical charts and the same report; run again into its folder, it runs nothing.
import { mkdtemp, readFile, readdir, rename, rm } from 'node:fs/promises';
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

  it('refuses a bad --workers; --status counts the finished cells; --collect rewrites the report; --collect --partial reports the complete groups', async () => {
    const two = join(dir, 'two');
    const bad = await runCli(['sweep', ...TINY_SWEEP, '--workers', '0', '--out', join(dir, 'bad')], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^forgetless: --workers: expected a whole number of processes from 1 to 256, got '0'/);
    const status = await runCli(['sweep', '--status', '--out', two], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/: 4\/4 cells done, 0 begun, 0 not started; [\d.]+ min spent so far/);

    // every cell done: --collect writes the same results into the sweep's folder
    const whole = await timelessResults(two);
    await rm(join(two, 'results.json'));
    const collect = await runCli(['sweep', '--collect', '--out', two], dir);
    expect(collect.code, collect.stderr).toBe(0);
    expect(await timelessResults(two)).toEqual(whole);

    // one EWC-MAS cell not done (its result moved away)
    const sweep = JSON.parse(await readFile(join(two, 'sweep.json'), 'utf8')) as { cells: { id: string; label: string; key: { seed: number } }[] };
    const cell = sweep.cells.find((c) => c.label === 'ewc-mas' && c.key.seed === 1) as { id: string };
    const result = join(two, 'cells', cell.id, 'result.json');
    await rename(result, `${result}.away`);
    try {
      const notDone = await runCli(['sweep', '--collect', '--out', two], dir);
      expect(notDone.code).toBe(1);
      expect(notDone.stderr).toMatch(/^forgetless: --collect: 1 of 4 cells of the sweep in .* are not done: .* --partial <dir>/);
      const partial = join(dir, 'partial');
      const p = await runCli(['sweep', '--collect', '--out', two, '--partial', partial], dir);
      expect(p.code, p.stderr).toBe(0);
      expect(p.stdout).toMatch(/partial: 3 of 4 cells done; the report covers 2 runs/);
      // the complete group (plain, both seeds) exactly as in the whole sweep, the incomplete one left out
      const part = await timelessResults(partial);
      expect(part.runs).toEqual(whole.runs.filter((r) => (r as { variant: string }).variant === 'plain'));
      const report = await readFile(join(partial, 'report.md'), 'utf8');
      expect(report).toMatch(/\*\*Partial report\*\* of a sweep still running or stopped: 3 of 4 cells done; .* Not yet complete: ewc-mas λ 1 \(1 of 2 seeds\)/);
      expect(report).not.toMatch(/^\| ewc-mas /m);
      // its folder holds a report now: not overwritten without --force; never the sweep's own folder
      const again = await runCli(['sweep', '--collect', '--out', two, '--partial', partial], dir);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/--partial: .* holds the results of an earlier run/);
      const same = await runCli(['sweep', '--collect', '--out', two, '--partial', two], dir);
      expect(same.code).toBe(2);
      expect(same.stderr).toMatch(/^forgetless: --partial: give a folder other than the sweep's --out/);
      const alone = await runCli(['sweep', '--out', two, '--partial', partial], dir);
      expect(alone.code).toBe(2);
      expect(alone.stderr).toMatch(/^forgetless: --partial: only with --collect/);
    } finally {
      await rename(`${result}.away`, result);
    }
  }, 120_000);
});
