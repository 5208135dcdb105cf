/**
 * The output folder of a command, claimed before any work is done:
 *
 * 1. created, and a file written into it and removed (a write probe), so a path that is a file, or a
 *    folder that cannot be created or written, fails at once with one line naming the path;
 * 2. locked against a second writer with proper-lockfile: the lock is the folder `<dir>/.forgetless.lock`
 *    (created atomically, its mtime refreshed while the owner lives), holding `owner.json` (pid, host,
 *    start time) so a refused writer can name the holder. A lock whose owner was killed is taken over:
 *    at once when the owner's pid is dead on this host, else once its mtime is older than
 *    `STALE_MS` (proper-lockfile's own staleness rule);
 * 3. cleared of the temporary files that atomic writes killed midway left behind
 *    (`<file>.<pid>.<ms>.tmp`, see core's writeFileAtomic): with the lock held no live writer owns them;
 * 4. for a new run, refused when it holds an earlier run's results or an interrupted run's checkpoint,
 *    unless `force` (which removes them first).
 *
 * Release removes the lock, and the folder itself when this claim created it and nothing was written.
 */
import * as fs from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { CHECKPOINT_DIR } from '@forgetless/experiments/node';
import { UserError, usage } from './errors.js';

/** The lock folder inside the output folder. */
export const LOCK_NAME = '.forgetless.lock';
const OWNER_FILE = 'owner.json';
/** A lock whose mtime is older than this is stale (its owner stopped refreshing it: killed, or on a dead host). */
export const STALE_MS = 30_000;
const UPDATE_MS = 5_000;
/** The temporary files of an atomic write: `<file>.<pid>.<ms>.tmp`. */
const TMP_FILE = /\.(\d+)\.\d+\.tmp$/;
/** Files a run writes (results.json, report.md, the charts, --log's logs): removed by --force with the checkpoint. */
const RUN_OUTPUTS = /^(logs|results\.json|report\.md|avg-accuracy\.svg|correlations\.svg|pruning\.svg|finetune\.svg|models|(matrix|lambda)-.+\.svg)$/;

export interface ClaimOptions {
  /** The option that named the folder, for messages. */
  flag: '--out' | '--resume' | '--partial';
  /**
   * `run`: a new run (refuses earlier results or checkpoints unless `force`); `resume`: continues the
   * checkpoint there (the folder must exist); `tool`: any content is fine (importances, prune).
   */
  mode: 'run' | 'resume' | 'tool';
  /** With `run`: replace what an earlier run left. */
  force?: boolean;
  /** The command that writes the folder, for messages (`forgetless <command> --resume`; default run). */
  command?: string;
  /** Warnings (a lock that was lost). Default: a line on stderr. */
  warn?: (line: string) => void;
}

export interface OutputFolder {
  dir: string;
  /** Stale temporary files removed while claiming (paths). */
  cleaned: string[];
  /** Unlocks; removes the folder when this claim created it and it is still empty. */
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  host: string;
  started: string;
}

const errnoWords: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file of that name exists',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
};

/** `permission denied` for an errno error, else its message. */
function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return (err.code && errnoWords[err.code]) ?? err.message ?? String(e);
}

/** True while a process of that pid runs (EPERM: it runs, as another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// proper-lockfile removes its lock folder with rmdir; ours holds owner.json, so it is removed whole
const lockFs = {
  ...fs,
  rmdir: (path: string, callback: (err: NodeJS.ErrnoException | null) => void) => fs.rm(path, { recursive: true, force: true }, callback),
  rmdirSync: (path: string) => fs.rmSync(path, { recursive: true, force: true }),
};

async function readOwner(lockDir: string): Promise<Owner | undefined> {
  try {
    const o = JSON.parse(await readFile(join(lockDir, OWNER_FILE), 'utf8')) as Partial<Owner>;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? { pid: o.pid, host: o.host, started: String(o.started ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

/** The owner of the lock on `dir` when it is held (for messages and tests), else undefined. */
export async function lockOwner(dir: string): Promise<Owner | undefined> {
  return readOwner(join(resolve(dir), LOCK_NAME));
}

function describeOwner(owner: Owner | undefined): string {
  if (!owner) return 'another forgetless process';
  const since = owner.started ? `, since ${owner.started.replace('T', ' ').slice(0, 19)}` : '';
  const where = owner.host !== hostname() ? ` on ${owner.host}` : '';
  return `another forgetless process (pid ${owner.pid}${where}${since})`;
}

/** Takes the lock; a lock left by a dead process on this host is taken over. */
async function lock(dir: string, flag: string, warn: (line: string) => void): Promise<() => Promise<void>> {
  const lockDir = join(dir, LOCK_NAME);
  const options = {
    lockfilePath: lockDir,
    realpath: false,
    stale: STALE_MS,
    update: UPDATE_MS,
    retries: 0,
    fs: lockFs,
    onCompromised: (e: Error) => warn(`warning: lost the lock on ${dir} (${e.message}); another process may write there too`),
  };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, options);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw new UserError(`${flag}: cannot lock ${dir} (${reason(e)})`);
    // the holder writes owner.json just after taking the lock: give it a moment (a loaded machine)
    let owner = await readOwner(lockDir);
    for (let i = 0; owner === undefined && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 50));
      owner = await readOwner(lockDir);
    }
    const dead = owner !== undefined && owner.host === hostname() && owner.pid !== process.pid && !processAlive(owner.pid);
    if (!dead) throw new UserError(`${flag}: ${dir} is in use by ${describeOwner(owner)}; wait for it to finish, or choose another folder`);
    // its owner was killed: take the lock over (unless another process just did)
    const again = await readOwner(lockDir);
    if (owner && again?.pid === owner.pid) await rm(lockDir, { recursive: true, force: true });
    try {
      release = await lockfile.lock(dir, options);
    } catch (e2) {
      throw new UserError(`${flag}: ${dir} is in use by ${describeOwner(await readOwner(lockDir))}; wait for it to finish, or choose another folder (${reason(e2)})`);
    }
  }
  // owner.json goes inside the lock folder; writing it changes the folder's mtime, which
  // proper-lockfile checks to see that the lock is still its own: put the mtime back
  const before = await stat(lockDir);
  const owner: Owner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  // written whole, then renamed into place: a reader (a second run) never finds it half written, even
  // when this process is stopped between creating the file and filling it
  const tmp = join(lockDir, `${OWNER_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(owner)}\n`);
  await rename(tmp, join(lockDir, OWNER_FILE));
  await utimes(lockDir, before.atime, before.mtime);
  return async () => {
    try {
      await release();
    } catch {
      // already released (compromised, or removed on exit)
    }
  };
}

/** Removes `<file>.<pid>.<ms>.tmp` files in `dir` (not below); with `onlyDead`, only those whose writer is gone. */
export async function removeStaleTmp(dir: string, options: { onlyDead?: boolean; prefix?: string } = {}): Promise<string[]> {
  let entries: fs.Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const e of entries) {
    const m = TMP_FILE.exec(e.name);
    if (!m || !e.isFile() || (options.prefix !== undefined && !e.name.startsWith(`${options.prefix}.`))) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || (options.onlyDead && processAlive(pid))) continue;
    try {
      await unlink(join(dir, e.name));
      removed.push(join(dir, e.name));
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}

/** The folders a run writes into: the folder, its checkpoint and the checkpoint's generations. */
async function runFolders(dir: string): Promise<string[]> {
  const checkpoint = join(dir, CHECKPOINT_DIR);
  const folders = [dir, checkpoint];
  try {
    for (const e of await readdir(checkpoint, { withFileTypes: true })) if (e.isDirectory() && e.name.startsWith('gen-')) folders.push(join(checkpoint, e.name));
  } catch {
    // no checkpoint
  }
  return folders;
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/** What an earlier run left in `dir`: an interrupted run's checkpoint, results, or nothing. */
export async function earlierRun(dir: string): Promise<'interrupted' | 'results' | undefined> {
  const state = join(dir, CHECKPOINT_DIR, 'state.json');
  const results = join(dir, 'results.json');
  if (await exists(state)) {
    try {
      const r = JSON.parse(await readFile(results, 'utf8')) as { cancelled?: boolean };
      if (r.cancelled !== true) return 'results';
    } catch {
      // no (readable) results: the run did not finish
    }
    return 'interrupted';
  }
  return (await exists(results)) ? 'results' : undefined;
}

/** Removes what a run writes (results, report, charts, checkpoint), for --force. */
async function clearRun(dir: string): Promise<void> {
  await rm(join(dir, CHECKPOINT_DIR), { recursive: true, force: true });
  for (const name of await readdir(dir)) if (RUN_OUTPUTS.test(name)) await rm(join(dir, name), { recursive: true, force: true });
}

/** Creates (when missing) and write-probes `dir`; returns the topmost folder it created. */
async function prepare(dir: string, flag: string, mayCreate: boolean): Promise<string | undefined> {
  let info: fs.Stats | undefined;
  try {
    info = await stat(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw usage(`${flag}: cannot create ${dir}: ${errnoWords.ENOTDIR}`);
    if (code !== 'ENOENT') throw new UserError(`${flag}: cannot use ${dir} (${reason(e)})`);
  }
  if (info && !info.isDirectory()) throw usage(`${flag}: ${dir} is a file, not a folder`);
  let created: string | undefined;
  if (!info) {
    if (!mayCreate) throw new UserError(`${flag}: ${dir} holds no checkpoint (there is no such folder)`);
    try {
      created = await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new UserError(`${flag}: cannot create ${dir} (${reason(e)})`, (e as NodeJS.ErrnoException).code === 'ENOTDIR' ? 2 : 1);
    }
  }
  const probe = join(dir, `.forgetless-probe.${process.pid}`);
  try {
    await writeFile(probe, 'probe');
    await unlink(probe);
  } catch (e) {
    await rm(probe, { force: true }).catch(() => undefined);
    if (created) await removeEmpty(dir, created);
    throw new UserError(`${flag}: cannot write into ${dir} (${reason(e)})`);
  }
  return created;
}

/** Removes `dir` and its parents up to `top` while they are empty. */
async function removeEmpty(dir: string, top: string): Promise<void> {
  let d = dir;
  for (;;) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
    if (d === top || dirname(d) === d) return;
    d = dirname(d);
  }
}

/** `runs/2025-01-31T12-00-00` under the working directory: a run's folder when --out is not given. */
export function defaultOutDir(now = new Date()): string {
  return resolve('runs', now.toISOString().slice(0, 19).replace(/:/g, '-'));
}

/** Claims `path` as the output folder of a command (see the module comment). */
export async function claimOutputFolder(path: string, options: ClaimOptions): Promise<OutputFolder> {
  const dir = resolve(path);
  const { flag, mode } = options;
  const warn = options.warn ?? ((line: string) => process.stderr.write(`forgetless: ${line}\n`));
  const created = await prepare(dir, flag, mode !== 'resume');
  let unlock: () => Promise<void>;
  try {
    unlock = await lock(dir, flag, warn);
  } catch (e) {
    if (created) await removeEmpty(dir, created);
    throw e;
  }
  const release = async () => {
    await unlock();
    if (created) await removeEmpty(dir, created);
  };
  try {
    const cleaned: string[] = [];
    for (const folder of mode === 'tool' ? [dir] : await runFolders(dir)) cleaned.push(...(await removeStaleTmp(folder)));
    if (mode === 'run') {
      const earlier = await earlierRun(dir);
      if (earlier && !options.force) {
        throw new UserError(
          earlier === 'interrupted'
            ? `${flag}: ${dir} holds an interrupted run's checkpoint: continue it with \`forgetless ${options.command ?? 'run'} --resume ${dir}\`, or pass --force to start over (its checkpoint and results are removed)`
            : `${flag}: ${dir} holds the results of an earlier run: pass --force to replace them, or choose another --out`,
        );
      }
      if (earlier) await clearRun(dir);
    }
    return { dir, cleaned, release };
  } catch (e) {
    await release();
    throw e;
  }
}

/**
 * Checks `--out <file>` of a command writing one file: not a folder, its folder writable; removes the
 * temporary files that killed writes of the same file left beside it.
 */
export async function checkOutputFile(path: string, flag = '--out'): Promise<string> {
  const file = resolve(path);
  const info = await lstat(file).catch(() => undefined);
  if (info?.isDirectory()) throw usage(`${flag}: ${file} is a folder; name the file to write (e.g. ${join(file, 'correlation.json')})`);
  const parent = dirname(file);
  const probe = join(parent, `.forgetless-probe.${process.pid}`);
  try {
    await mkdir(parent, { recursive: true });
    await writeFile(probe, 'probe');
    await unlink(probe);
  } catch (e) {
    throw new UserError(`${flag}: cannot write ${file} (${reason(e)})`, (e as NodeJS.ErrnoException).code === 'ENOTDIR' ? 2 : 1);
  }
  await removeStaleTmp(parent, { onlyDead: true, prefix: basename(file) });
  return file;
}
