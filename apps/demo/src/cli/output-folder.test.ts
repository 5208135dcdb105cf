import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_NAME, checkOutputFile, claimOutputFolder, earlierRun, lockOwner, processAlive } from './output-folder.js';

let dir: string;
const DEAD = 4194305; // above Linux's largest pid

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forgetless-folder-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('claimOutputFolder', () => {
  it('locks the folder with its owner’s pid, refuses a second claim, and unlocks on release', async () => {
    const out = join(dir, 'locked');
    const folder = await claimOutputFolder(out, { flag: '--out', mode: 'run' });
    expect(await lockOwner(out)).toMatchObject({ pid: process.pid, host: hostname() });
    await writeFile(join(out, `results.json.${DEAD}.1.tmp`), 'a live writer’s? the lock says no one else writes here');
    await expect(claimOutputFolder(out, { flag: '--out', mode: 'tool' })).rejects.toThrow(`--out: ${out} is in use by another forgetless process (pid ${process.pid}`);
    expect(existsSync(join(out, `results.json.${DEAD}.1.tmp`)), 'a refused claim removes nothing').toBe(true);
    await folder.release();
    expect(existsSync(join(out, LOCK_NAME))).toBe(false);
    const again = await claimOutputFolder(out, { flag: '--out', mode: 'tool' });
    expect(again.cleaned).toEqual([join(out, `results.json.${DEAD}.1.tmp`)]);
    await again.release();
  });

  it('takes over the lock of a process that was killed', async () => {
    const out = join(dir, 'orphan');
    await mkdir(join(out, LOCK_NAME), { recursive: true });
    await writeFile(join(out, LOCK_NAME, 'owner.json'), JSON.stringify({ pid: DEAD, host: hostname(), started: new Date().toISOString() }));
    expect(processAlive(DEAD)).toBe(false);
    const folder = await claimOutputFolder(out, { flag: '--out', mode: 'run' });
    expect((await lockOwner(out))?.pid).toBe(process.pid);
    await folder.release();
  });

  it('removes the folder it created when nothing was written, and keeps one that existed', async () => {
    const made = join(dir, 'new', 'deeper');
    await (await claimOutputFolder(made, { flag: '--out', mode: 'run' })).release();
    expect(existsSync(join(dir, 'new'))).toBe(false);
    const kept = join(dir, 'kept');
    await mkdir(kept);
    await (await claimOutputFolder(kept, { flag: '--out', mode: 'run' })).release();
    expect(await readdir(kept)).toEqual([]);
  });

  it('tells finished results from an interrupted run', async () => {
    const out = join(dir, 'kinds');
    await mkdir(join(out, 'checkpoint'), { recursive: true });
    expect(await earlierRun(out)).toBeUndefined();
    await writeFile(join(out, 'checkpoint', 'state.json'), '{}');
    expect(await earlierRun(out)).toBe('interrupted');
    await writeFile(join(out, 'results.json'), '{"cancelled":true}');
    expect(await earlierRun(out)).toBe('interrupted');
    await writeFile(join(out, 'results.json'), '{"cancelled":false}');
    expect(await earlierRun(out)).toBe('results');
  });

  it('a resume needs the folder to exist', async () => {
    await expect(claimOutputFolder(join(dir, 'absent'), { flag: '--resume', mode: 'resume' })).rejects.toThrow(`--resume: ${join(dir, 'absent')} holds no checkpoint`);
    expect(existsSync(join(dir, 'absent'))).toBe(false);
  });
});

describe('checkOutputFile', () => {
  it('refuses a folder and removes the temporary files that dead writers of the same file left', async () => {
    await expect(checkOutputFile(dir)).rejects.toThrow(`--out: ${dir} is a folder; name the file to write`);
    const file = join(dir, 'corr.json');
    const deadTmp = join(dir, `corr.json.${DEAD}.5.tmp`);
    const liveTmp = join(dir, `corr.json.${process.ppid}.6.tmp`);
    const otherTmp = join(dir, `other.json.${DEAD}.7.tmp`);
    for (const f of [deadTmp, liveTmp, otherTmp]) await writeFile(f, 'x');
    expect(await checkOutputFile(file)).toBe(file);
    expect([existsSync(deadTmp), existsSync(liveTmp), existsSync(otherTmp)]).toEqual([false, true, true]);
  });
});
