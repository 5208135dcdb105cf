/**
 * `forgetless sweep --queue redis://…`: the distributed executor. The sweep's cells are enqueued as
 * one BullMQ flow, a parent job (queue `forgetless-sweeps`) with a child job per cell (queue
 * `forgetless-cells`, `--attempts` tries with exponential backoff), for `forgetless worker` processes
 * on any machine. Then it waits for the cells (unless --detach) and writes the report from the
 * parent's children values. `--status` shows how far a sweep is; `--collect` writes its report.
 * Enqueuing the same sweep again adds nothing (the job ids are the sweep's and the cells').
 */
import { join } from 'node:path';
import { useBackend } from '@forgetless/core';
import { writeFileAtomic } from '@forgetless/core/node';
import { PRESETS, isPresetName } from '@forgetless/experiments';
import { FlowProducer, Job, Queue } from 'bullmq';
import type { CellResult } from './cells.js';
import { UserError, usage } from './errors.js';
import { fromJson, toJson } from './json.js';
import { CELL_QUEUE, type CellJobData, type CellProgress, SWEEP_QUEUE, cellJobId, queueConnection, sweepJobId } from './queue.js';
import {
  type SweepFile,
  type SweepFlags,
  SWEEP_FILE,
  checkSweepFolder,
  describeSweep,
  failOnDivergence,
  prepareSweep,
  readSweepFile,
  sweepFile,
  writeSweepOutputs,
} from './sweep-command.js';
import { cellName, statusLine } from './sweep-local.js';

type Log = (line: string) => void;

interface Queues {
  cells: Queue;
  sweeps: Queue;
  close(): Promise<void>;
}

async function openQueues(url: string): Promise<Queues> {
  const connection = queueConnection(url);
  const cells = new Queue(CELL_QUEUE, { connection });
  const sweeps = new Queue(SWEEP_QUEUE, { connection });
  const close = async () => {
    await Promise.allSettled([cells.close(), sweeps.close()]);
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all([cells.waitUntilReady(), sweeps.waitUntilReady()]).then(() => cells.client.then((c) => c.info())),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer in 10 s')), 10_000);
      }),
    ]);
  } catch (e) {
    await close();
    throw new UserError(`--queue: cannot reach Redis at ${url} (${(e as Error).message}); start one (apps/demo/README.md, "Sweeps on several machines")`);
  } finally {
    clearTimeout(timer);
  }
  return { cells, sweeps, close };
}

export interface SweepState {
  total: number;
  completed: number;
  active: { index: number; progress?: CellProgress; attempts: number }[];
  waiting: number;
  failed: { index: number; reason: string; attempts: number }[];
  /** Cells whose job went back to the queue after a stall or a failure (an attempt, or a stall, lost). */
  retried: number[];
  results: Map<number, CellResult>;
  /** When the last finished cell finished (ms since the epoch). */
  lastFinished: number;
}

/** Where each cell of the sweep is, and the results of the finished ones. */
export async function sweepState(queues: Queues, sweep: SweepFile): Promise<SweepState> {
  const state: SweepState = { total: sweep.cells.length, completed: 0, active: [], waiting: 0, failed: [], retried: [], results: new Map(), lastFinished: 0 };
  for (const cell of sweep.cells) {
    const job = await Job.fromId<CellJobData, string>(queues.cells, cellJobId(sweep.id, cell));
    if (!job) {
      state.failed.push({ index: cell.index, reason: 'its job is not in the queue (removed?): enqueue the sweep again', attempts: 0 });
      continue;
    }
    const s = await job.getState();
    const stalls = job.stalledCounter ?? 0;
    if (job.attemptsMade > 1 || stalls > 0) state.retried.push(cell.index);
    if (s === 'completed') {
      state.completed++;
      state.lastFinished = Math.max(state.lastFinished, job.finishedOn ?? 0);
      state.results.set(cell.index, fromJson(job.returnvalue) as CellResult);
    } else if (s === 'active')
      state.active.push({
        index: cell.index,
        attempts: job.attemptsMade,
        ...(job.progress && typeof job.progress === 'object' ? { progress: job.progress as unknown as CellProgress } : {}),
      });
    else if (s === 'failed') state.failed.push({ index: cell.index, reason: job.failedReason, attempts: job.attemptsMade });
    else state.waiting++;
  }
  return state;
}

function statusText(sweep: SweepFile, st: SweepState): string[] {
  const lines = [
    `sweep ${sweep.id.slice(0, 12)} (${sweep.context.command}): ${st.completed}/${st.total} cells done, ${st.active.length} running, ${st.waiting} waiting, ${st.failed.length} failed`,
  ];
  for (const a of st.active) {
    const cell = sweep.cells[a.index] as SweepFile['cells'][number];
    const p = a.progress;
    lines.push(
      `  running ${cellName(cell, st.total)}${p ? `: task ${p.task + 1}/${p.tasks}, step ${p.step}/${p.steps} on ${p.by}${p.resumedAt !== undefined ? ` (resumed at task ${p.resumedAt + 1})` : ''}` : ''}`,
    );
  }
  for (const f of st.failed) lines.push(`  failed ${cellName(sweep.cells[f.index] as SweepFile['cells'][number], st.total)} after ${f.attempts} attempt(s): ${f.reason}`);
  if (st.retried.length) lines.push(`  retried: ${st.retried.map((i) => `cell ${i + 1}`).join(', ')}`);
  return lines;
}

/** results.json, report.md, the SVGs of a finished sweep. */
async function collect(outDir: string, sweep: SweepFile, st: SweepState, seconds: number): Promise<void> {
  if (st.completed < st.total) {
    throw new UserError(
      `--collect: ${st.total - st.completed} of ${st.total} cells are not done (${st.failed.length} failed): see forgetless sweep --queue ${sweep.queue} --status --out ${outDir}`,
    );
  }
  const results = sweep.cells.map((c) => st.results.get(c.index) as CellResult);
  const name = sweep.context.preset;
  await writeSweepOutputs(outDir, { ...sweep, ...(name && isPresetName(name) ? { preset: PRESETS[name] } : {}) }, results, seconds);
  failOnDivergence(results);
}

export async function queueSweep(flags: SweepFlags & { force?: boolean }, command: string, outDir: string, log: Log): Promise<void> {
  const url = flags.queue as string;
  queueConnection(url); // a bad URL is refused before anything loads
  if (flags.status || flags.collect) {
    const sweep = await readSweepFile(outDir);
    if (!sweep) throw usage(`--${flags.status ? 'status' : 'collect'}: ${outDir} holds no ${SWEEP_FILE}: give the --out folder of a sweep enqueued with --queue`);
    const queues = await openQueues(url);
    try {
      await useBackend('cpu'); // validating the config builds the model spec; no training here
      const st = await sweepState(queues, sweep);
      if (flags.status) {
        process.stdout.write(`${statusText(sweep, st).join('\n')}\n`);
        return;
      }
      await collect(outDir, sweep, st, wallSeconds(await Job.fromId(queues.sweeps, sweepJobId(sweep.id)), st));
    } finally {
      await queues.close();
    }
    return;
  }
  const attempts = flags.attempts === undefined ? 3 : Number(flags.attempts);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 100) throw usage(`--attempts: expected a whole number from 1 to 100, got '${flags.attempts}'`);
  const prepared = await prepareSweep(flags, command, outDir);
  await checkSweepFolder(outDir, prepared.id, !!flags.force);
  const file = sweepFile(prepared, url);
  await writeFileAtomic(join(outDir, SWEEP_FILE), toJson(file));
  log(`forgetless sweep ${prepared.preset ? prepared.preset.name : prepared.config.name}: ${prepared.tasks.length} ${prepared.config.data.sequence} tasks from ${prepared.data}`);
  log(`  ${describeSweep(prepared.config, prepared.cells.length)}`);
  const queues = await openQueues(url);
  try {
    const flow = new FlowProducer({ connection: queueConnection(url) });
    try {
      await flow.add({
        name: 'sweep',
        queueName: SWEEP_QUEUE,
        data: { sweep: file },
        opts: { jobId: sweepJobId(prepared.id) },
        children: prepared.cells.map((cell) => ({
          name: 'cell',
          queueName: CELL_QUEUE,
          data: { cell, sweep: prepared.id } satisfies CellJobData,
          opts: {
            jobId: cellJobId(prepared.id, cell),
            attempts,
            backoff: { type: 'exponential', delay: 5000 },
            // the parent waits for every cell; a cell that fails for good is named by --status
            ignoreDependencyOnFailure: true,
            removeOnComplete: false,
            removeOnFail: false,
          },
        })),
      });
    } finally {
      await flow.close();
    }
    log(`  enqueued ${prepared.cells.length} cells on ${url} (sweep ${prepared.id.slice(0, 12)}); start workers: forgetless worker --queue ${url}`);
    if (flags.detach) {
      process.stdout.write(`enqueued: forgetless sweep --queue ${url} --status --out ${outDir}; when done: --collect\n`);
      return;
    }
    // a line when a cell starts, ends, fails or is retried; on a terminal, the running cells' progress in a status line
    let shown = '';
    const status = statusLine(!flags.quiet && flags.progress !== false && !!process.stderr.isTTY);
    for (;;) {
      const st = await sweepState(queues, file);
      const lines = statusText(file, st);
      const key = `${st.completed}/${st.active.map((a) => a.index).join(',')}/${st.failed.length}/${st.retried.join(',')}`;
      if (key !== shown && !flags.quiet) {
        status.clear();
        log(lines[0] as string);
        for (const l of lines.slice(1)) if (!l.startsWith('  running')) log(l);
        shown = key;
      }
      status.set(
        lines
          .filter((l) => l.startsWith('  running'))
          .map((l) => l.replace(/^ {2}running /, ''))
          .join(' | '),
      );
      if (st.completed === st.total) {
        status.clear();
        await collect(outDir, file, st, wallSeconds(await Job.fromId(queues.sweeps, sweepJobId(prepared.id)), st));
        return;
      }
      if (st.failed.length && st.completed + st.failed.length === st.total) {
        throw new UserError(`${st.failed.length} of ${st.total} cells failed for good: ${st.failed.map((f) => `cell ${f.index + 1}: ${f.reason}`).join('; ')}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await queues.close();
  }
}

/** From the sweep's enqueueing to its last cell's end. */
function wallSeconds(parent: Job | undefined, st: SweepState): number {
  if (!parent || !st.lastFinished) return [...st.results.values()].reduce((a, r) => a + r.record.seconds, 0);
  return Math.max(0, (st.lastFinished - parent.timestamp) / 1000);
}
