// `forgetless sweep --queue` and `forgetless worker` on a real Redis (Debian's redis-server, which
// scripts/install-system-deps.sh installs; skipped when absent): a 4-cell sweep enqueued as a BullMQ
// flow, two workers sharing the cells folder, one SIGKILLed in the middle of a cell. The cell stalls,
// goes back to the queue, and the other worker resumes it from its checkpoint; the combined report is
// the one the same sweep gives run locally with 1 worker (wall-clock fields aside).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBuilt, finished, runCli, startCli } from './cli-process.test-util.js';
import { svgs, timelessReport, timelessResults } from './sweep.test-util.js';

const redisBinary = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();
if (!redisBinary) console.warn("sweep --queue: skipped, redis-server is absent (install Debian's redis-server: bash scripts/install-system-deps.sh)");

/** 4 cells of 3 tasks each, a few seconds per cell: long enough to kill a worker after a cell's first task. */
const SWEEP = [
  '--backend',
  'cpu',
  '--dataset',
  'embedded',
  '--tasks',
  '3',
  '--model',
  '784-16-10',
  '--methods',
  'plain,ewc-mas',
  '--lambda',
  '1',
  '--iterations',
  '40',
  '--train-limit',
  '300',
  '--eval-limit',
  '100',
  '--importance-samples',
  '100',
  '--seeds',
  '0,1',
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' }, () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`redis-server did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let redis: ChildProcess | undefined;
let url: string;
const children: ChildProcess[] = [];

describe.skipIf(!redisBinary)('forgetless sweep --queue, forgetless worker (BullMQ on redis-server)', () => {
  beforeAll(async () => {
    checkBuilt();
    dir = await mkdtemp(join(tmpdir(), 'forgetless-queue-'));
    const port = await freePort();
    redis = spawn(redisBinary as string, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitForPort(port);
    url = `redis://127.0.0.1:${port}/0`;
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    redis?.kill('SIGTERM');
    if (redis && redis.exitCode === null) await new Promise((r) => redis?.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  });

  it('a worker SIGKILLed mid-cell: the cell is retried (resumed from its checkpoint) and the report is the 1-worker local one', async () => {
    const local = join(dir, 'local');
    const queued = join(dir, 'queued');
    const cells = join(queued, 'cells');
    const ref = await runCli(['sweep', ...SWEEP, '--workers', '1', '--quiet', '--out', local], dir);
    expect(ref.code, ref.stderr).toBe(0);

    const sweep = startCli(['sweep', ...SWEEP, '--queue', url, '--out', queued], dir);
    children.push(sweep);
    const sweepDone = finished(sweep);
    const worker = (name: string) => {
      const w = startCli(['worker', '--queue', url, '--cells', cells, '--lock-seconds', '4'], dir);
      children.push(w);
      let log = '';
      w.stderr?.on('data', (d) => (log += d));
      return { w, name, log: () => log };
    };
    // the cells are enqueued before the workers start
    for (let t = 0; !existsSync(join(queued, 'sweep.json')); t++) {
      if (t > 1200 || sweep.exitCode !== null) throw new Error('the sweep did not enqueue its cells');
      await sleep(50);
    }
    const a = worker('a');
    const b = worker('b');

    // a cell worker a started, once its first task is checkpointed (and its second not): kill a
    let victim: { index: number; id: string } | undefined;
    for (let t = 0; !victim; t++) {
      if (t > 2400) throw new Error(`worker a never got past a cell's first task:\n${a.log()}`);
      const started = [...a.log().matchAll(/cell (\d+)\/4 .*: attempt 1 \(job cell-[0-9a-f]+-\d+-([0-9a-f]{12})\)/g)].at(-1);
      if (started) {
        const id = (await readdir(cells).catch(() => [] as string[])).find((d) => d.startsWith(started[2] as string));
        const state = id ? await readFile(join(cells, id, 'checkpoint', 'state.json'), 'utf8').catch(() => '') : '';
        if (id && /"taskIndex": 0,/.test(state)) victim = { index: Number(started[1]), id };
      }
      if (!victim) await sleep(25);
    }
    // its sandboxed processor (the child that trains the cell) must not train on as an orphan
    const sandboxes = execFileSync('ps', ['-o', 'pid=', '--ppid', String(a.w.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter((pid) => pid > 0);
    expect(sandboxes.length).toBeGreaterThan(0);
    a.w.kill('SIGKILL');

    const out = await sweepDone;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(sandboxes.filter(alive), 'sandboxed processors of the killed worker still running').toEqual([]);
    expect(out.code, `${out.stderr}\nworker b:\n${b.log()}`).toBe(0);
    // the killed worker's cell went back to the queue and the other worker resumed it after task 1
    expect(b.log()).toMatch(new RegExp(`cell ${victim.index}/4 [^\\n]*: resumed at task 2/3 from its checkpoint`));
    expect(out.stderr).toMatch(new RegExp(`retried: [^\\n]*cell ${victim.index}\\b`));
    const result = JSON.parse(await readFile(join(cells, victim.id, 'result.json'), 'utf8'));
    expect(result.resumedAt).toBe(1);

    const reference = await timelessResults(local);
    expect(reference.runs).toHaveLength(4);
    expect(await timelessResults(queued)).toEqual(reference);
    expect(await svgs(queued)).toEqual(await svgs(local));
    expect(await timelessReport(queued)).toBe(await timelessReport(local));

    // --status and --collect read the sweep back from Redis
    const status = await runCli(['sweep', '--queue', url, '--status', '--out', queued], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/4\/4 cells done, 0 running, 0 waiting, 0 failed/);
    await rm(join(queued, 'results.json'));
    const collect = await runCli(['sweep', '--queue', url, '--collect', '--out', queued], dir);
    expect(collect.code, collect.stderr).toBe(0);
    expect(await timelessResults(queued)).toEqual(reference);

    b.w.kill('SIGINT');
    const bEnd = await finished(b.w);
    expect(bEnd.signal ?? bEnd.code).not.toBeNull();
  }, 180_000);
});
