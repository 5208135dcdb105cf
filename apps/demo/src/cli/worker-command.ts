/**
 * `forgetless worker --queue redis://…`: a BullMQ worker of the `forgetless-cells` queue. Each cell
 * runs in a sandboxed processor (cell-processor.ts, a child process) with its checkpoint in --cells;
 * a cell whose worker stops renewing its lock (killed, machine gone) is stalled and moved back to the
 * queue after --lock-seconds, and a failed cell is retried with exponential backoff (the attempts
 * are the sweep's). Runs until Ctrl-C (or --max-cells): the current cell is then left to another
 * worker.
 */
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import { usage } from './errors.js';
import type { WorkerFlags } from './program.js';
import { CELL_QUEUE, type CellJobData, queueConnection } from './queue.js';

const PROCESSOR = join(dirname(fileURLToPath(import.meta.url)), 'cell-processor.js');

const positive = (flag: string, text: string | undefined, fallback: number) => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw usage(`${flag}: expected a positive number, got '${text}'`);
  return n;
};

export async function workerCommand(flags: WorkerFlags): Promise<void> {
  const connection = queueConnection(flags.queue);
  const concurrency = positive('--concurrency', flags.concurrency, 1);
  if (!Number.isInteger(concurrency)) throw usage(`--concurrency: expected a whole number, got '${flags.concurrency}'`);
  const lockMs = positive('--lock-seconds', flags.lockSeconds, 30) * 1000;
  const maxCells = flags.maxCells !== undefined ? positive('--max-cells', flags.maxCells, 0) : Number.POSITIVE_INFINITY;
  const cells = resolve(flags.cells ?? join(tmpdir(), 'forgetless-worker-cells'));
  await mkdir(cells, { recursive: true });
  process.env.FORGETLESS_WORKER_CELLS = cells;
  if (flags.download) process.env.FORGETLESS_WORKER_DOWNLOAD = '1';
  if (flags.quiet) process.env.FORGETLESS_WORKER_QUIET = '1';
  const log = (line: string) => {
    if (!flags.quiet) process.stderr.write(`${line}\n`);
  };
  const worker = new Worker<CellJobData, string>(CELL_QUEUE, PROCESSOR, {
    connection,
    concurrency,
    useWorkerThreads: false,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    // a cell stalled this many times (its worker killed again and again) fails instead of looping
    maxStalledCount: 3,
    autorun: false,
  });
  let finished = 0;
  const done = new Promise<void>((resolveDone) => {
    let closing = false;
    const close = async (why: string) => {
      if (closing) return;
      closing = true;
      log(`forgetless worker: ${why}; closing (a cell in progress is left to another worker)`);
      await worker.close(true);
      resolveDone();
    };
    process.once('SIGINT', () => void close('interrupted'));
    process.once('SIGTERM', () => void close('stopped'));
    worker.on('completed', () => {
      finished++;
      if (finished >= maxCells) void close(`${finished} cell(s) done (--max-cells)`);
    });
  });
  worker.on('failed', (job, err) => log(`forgetless worker: job ${job?.id ?? '?'} failed (attempt ${job?.attemptsMade ?? '?'}): ${err.message}`));
  worker.on('stalled', (jobId) => log(`forgetless worker: job ${jobId} stalled (its worker stopped renewing the lock): back in the queue`));
  worker.on('error', (err) => log(`forgetless worker: ${err.message}`));
  log(`forgetless worker: queue ${CELL_QUEUE} on ${flags.queue}, ${concurrency} cell(s) at once, cells folder ${cells}, pid ${process.pid}`);
  void worker.run();
  await done;
}
