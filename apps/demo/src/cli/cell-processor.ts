/**
 * The sandboxed processor of `forgetless worker` (BullMQ runs this file in a child process, so a
 * cell's training never blocks the worker's lock renewals): one cell job → the cell run with its
 * checkpoint in the worker's cells folder (FORGETLESS_WORKER_CELLS), its progress reported with
 * job.updateProgress, its result returned as the job's value (JSON text). A retried cell resumes
 * from its checkpoint when the folder is the one the earlier attempt wrote to (shared), else reruns.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SandboxedJob } from 'bullmq';
import { cellData, executeCell, ranBy } from './cells.js';
import { UserError } from './errors.js';
import { toJson } from './json.js';
import type { CellJobData, CellProgress } from './queue.js';

tf.env().set('PROD', true);
// the worker is gone (killed): do not train on as an orphan. Training rarely lets the event loop
// see the IPC channel close, so the parent is also checked at every progress event.
const parent = process.ppid;
const orphaned = () => process.ppid !== parent;
process.on('disconnect', () => process.exit(1));
setInterval(() => orphaned() && process.exit(1), 500).unref();

export default async function processCell(job: SandboxedJob<CellJobData, string>): Promise<string> {
  const { cell } = job.data;
  const root = process.env.FORGETLESS_WORKER_CELLS;
  if (!root) throw new UserError('forgetless worker: FORGETLESS_WORKER_CELLS is not set');
  const data = await cellData(cell, { download: process.env.FORGETLESS_WORKER_DOWNLOAD === '1' });
  let last = 0;
  let resumedAt: number | undefined;
  const by = ranBy();
  const quiet = process.env.FORGETLESS_WORKER_QUIET === '1';
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };
  const name = `cell ${cell.index + 1}/${cell.of} ${cell.label}${cell.label.startsWith('plain') ? '' : ` λ ${cell.key.lambda}`}, seed ${cell.key.seed}`;
  say(`${name}: attempt ${job.attemptsMade + 1} (job ${job.id})`);
  const result = await executeCell(cell, root, {
    tasks: data.tasks,
    onEvent: (e) => {
      if (orphaned()) process.exit(1);
      if (e.kind === 'run-start' && e.resumedAt !== undefined) {
        resumedAt = e.resumedAt;
        say(`${name}: resumed at task ${e.resumedAt + 1}/${e.tasks} from its checkpoint`);
      }
      if (e.kind !== 'progress' || (e.event.kind !== 'step' && e.event.kind !== 'task')) return;
      const now = Date.now();
      if (e.event.kind === 'step' && now - last < 1000) return;
      last = now;
      const p: CellProgress = {
        task: e.event.taskIndex,
        tasks: data.tasks.length,
        step: e.event.taskStep,
        steps: e.event.stepsInTask,
        ...(resumedAt !== undefined ? { resumedAt } : {}),
        by,
      };
      void job.updateProgress(p as unknown as object);
    },
  });
  say(`${name}: ${result.cached ? 'already done in the cells folder' : `done in ${result.record.seconds.toFixed(1)} s`}`);
  return toJson(result);
}
