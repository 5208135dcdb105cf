/**
 * Sweeps (`--only sweep`): the same 8-cell sweep (plain and EWC-MAS at λ 1, 3, 10 × 2 seeds, 3
 * permuted tasks of the embedded Fashion-MNIST subset, wasm backend) run by the `forgetless` CLI
 * three ways: `sweep --workers 1` (the baseline), `sweep --workers 2`, and `sweep --queue` with two
 * `forgetless worker` processes on a redis-server on loopback (started here, on a free port, its
 * own Redis database per round so no round finds an earlier one's jobs). Rounds interleave the three
 * executors so that load from other processes falls on all of them; after a warm-up round, the
 * median wall time of the rounds with min and max, the speedup over 1 worker, the cells' own seconds
 * (training, importances, evaluation: `results.json`), and what an executor adds per cell beyond
 * them. Every executor's results are checked equal to the baseline's (wall-clock fields aside).
 * Runs once whatever the backends (`finish`); needs the CLI built and redis-server.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FinishContext, Row, WorkloadResult } from '../workload.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'demo', 'dist', 'cli.js');

/** The sweep: 8 cells of a few seconds each on wasm (quick: 8 cells of well under a second). */
export function sweepArgs(quick: boolean): string[] {
  return [
    '--backend',
    'wasm',
    '--dataset',
    'embedded',
    '--tasks',
    quick ? '2' : '3',
    '--model',
    quick ? '784-16-10' : '784-100-10',
    '--methods',
    'plain,ewc-mas',
    '--lambda',
    '1,3,10',
    '--seeds',
    '0,1',
    '--iterations',
    quick ? '5' : '150',
    '--train-limit',
    quick ? '300' : '3000',
    '--eval-limit',
    quick ? '100' : '1000',
    '--importance-samples',
    quick ? '50' : '500',
    '--quiet',
  ];
}

interface Ran {
  ms: number;
  code: number | null;
  stderr: string;
}

function run(args: string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, stderr }));
  });
}

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

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' }, () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not listen on 127.0.0.1:${port}`);
}

interface Results {
  runs: { seconds: number; timings: Record<string, number>[] }[];
}

async function readResults(out: string): Promise<Results> {
  return JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as Results;
}

const timeless = (r: Results) =>
  JSON.stringify(r.runs.map((x) => ({ ...x, seconds: 0, timings: x.timings.map((t) => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, k.endsWith('Ms') ? 0 : v]))) })));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const redisBinary = () => {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
};

type Executor = 'local, 1 worker' | 'local, 2 workers' | 'BullMQ, 2 workers';

export async function finishSweep(ctx: FinishContext): Promise<WorkloadResult> {
  // the smoke test (--quick) of the whole pipeline stays short: this workload spawns a redis-server and
  // ~10 CLI processes (about 20 s); the CLI's own tests run the three executors and compare them
  if (ctx.quick && !process.env.FORGETLESS_BENCH_SWEEP_QUICK) {
    return { rows: [], notes: ['skipped in quick mode (a redis-server and ~10 CLI processes, about 20 s); FORGETLESS_BENCH_SWEEP_QUICK=1 runs its tiny version'] };
  }
  if (!existsSync(CLI)) return { rows: [], notes: [`skipped: ${CLI} is missing (npx turbo run build --filter=@forgetless/cli...)`] };
  const redisBin = redisBinary();
  if (!redisBin) return { rows: [], notes: ["skipped: redis-server is absent (Debian's redis-server: bash scripts/install-system-deps.sh)"] };
  const rounds = ctx.quick ? 1 : 3;
  const dir = await mkdtemp(join(tmpdir(), 'forgetless-bench-sweep-'));
  const port = await freePort();
  const redis = spawn(redisBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--databases', '64'], { stdio: 'ignore' });
  const workers: ChildProcess[] = [];
  const args = sweepArgs(ctx.quick);
  const wall: Record<Executor, number[]> = { 'local, 1 worker': [], 'local, 2 workers': [], 'BullMQ, 2 workers': [] };
  const cellSeconds: Record<Executor, number[]> = { 'local, 1 worker': [], 'local, 2 workers': [], 'BullMQ, 2 workers': [] };
  const loads: Record<Executor, number[]> = { 'local, 1 worker': [], 'local, 2 workers': [], 'BullMQ, 2 workers': [] };
  const notes: string[] = [];
  let reference: string | undefined;
  let db = 0;
  try {
    await waitForPort(port);
    const once = async (executor: Executor, tag: string): Promise<void> => {
      const out = join(dir, `${tag}-${executor.replace(/\W+/g, '-')}`);
      loads[executor].push(loadavg()[0] as number);
      let r: Ran;
      if (executor === 'BullMQ, 2 workers') {
        const url = `redis://127.0.0.1:${port}/${db++}`;
        const cells = join(out, 'cells');
        // the workers are up and idle before the sweep starts, as on machines that serve a queue
        for (let i = 0; i < 2; i++) {
          const w = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--cells', cells, '--quiet'], { cwd: dir, stdio: 'ignore' });
          workers.push(w);
        }
        await new Promise((res) => setTimeout(res, 1500));
        r = await run(['sweep', ...args, '--queue', url, '--out', out], dir);
        for (const w of workers.splice(0)) w.kill('SIGINT');
      } else {
        r = await run(['sweep', ...args, '--workers', executor === 'local, 1 worker' ? '1' : '2', '--out', out], dir);
      }
      if (r.code !== 0) throw new Error(`${executor}: forgetless sweep exited ${r.code}: ${r.stderr.split('\n').slice(-3).join(' ')}`);
      const res = await readResults(out);
      const t = timeless(res);
      reference ??= t;
      if (t !== reference) throw new Error(`${executor}: its results differ from the first executor's (cell for cell)`);
      if (tag === 'warmup') return;
      wall[executor].push(r.ms / 1000);
      cellSeconds[executor].push(res.runs.reduce((a, x) => a + x.seconds, 0));
    };
    process.stderr.write('  sweep: warm-up (one local sweep)\n');
    await once('local, 1 worker', 'warmup');
    for (let round = 0; round < rounds; round++) {
      for (const executor of Object.keys(wall) as Executor[]) {
        process.stderr.write(`  sweep: round ${round + 1}/${rounds}, ${executor}\n`);
        await once(executor, `r${round}`);
      }
    }
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    redis.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
  const base = median(wall['local, 1 worker']);
  const base2 = median(wall['local, 2 workers']);
  const rows: Row[] = (Object.keys(wall) as Executor[]).map((executor) => {
    const w = wall[executor];
    const cells = median(cellSeconds[executor]);
    const parallel = executor === 'local, 1 worker' ? 1 : 2;
    return {
      executor,
      cells: 8,
      'wall s (median)': Number(median(w).toFixed(1)),
      'min–max': `${Math.min(...w).toFixed(1)}–${Math.max(...w).toFixed(1)}`,
      'speedup vs 1 worker': Number((base / median(w)).toFixed(2)),
      "cells' own s (sum)": Number(cells.toFixed(1)),
      'added per cell, s': Number(((median(w) * parallel - cells) / 8).toFixed(2)),
      'vs local 2 workers, per cell, s': executor === 'BullMQ, 2 workers' ? Number(((median(w) - base2) / 8).toFixed(2)) : '-',
      'load at start (median)': Number(median(loads[executor]).toFixed(1)),
    };
  });
  notes.push(
    `${ctx.quick ? 'quick mode: 1 round of tiny cells, not figures to quote' : `${rounds} rounds after a warm-up sweep, the three executors interleaved in each round`}; ${availableParallelism()} cores, shared with other engineers' builds and tests (the load column).`,
    "`added per cell`: (wall × workers − the cells' own seconds) / 8 — process start, data loading, result files, and for BullMQ the queue (job hand-off, the sandboxed processor, lock renewals, the sweep's 0.5 s polling); `vs local 2 workers, per cell`: BullMQ's wall time beyond the local executor's with as many workers, per cell.",
    'BullMQ workers were started (and idle) 1.5 s before each queued sweep, not counted; each loads the data at its first cell, counted.',
    'Every executor gave the same records as the first (accuracies, matrices, metrics; wall-clock fields aside).',
  );
  return { rows, notes };
}
