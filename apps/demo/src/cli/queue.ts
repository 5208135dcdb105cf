/**
 * The Redis side of distributed sweeps (BullMQ): queue names, job ids, the connection, and what a
 * cell job carries and returns.
 *
 *   queue `forgetless-cells`    one job per cell: data { cell }, return value the cell's result
 *                               (cells.ts's CellResult as JSON text, so NaN survives)
 *   queue `forgetless-sweeps`   one parent job per sweep (a BullMQ flow): data { sweep } (sweep.json);
 *                               no worker takes it: `sweep --collect` reads its children's values
 */
import type { Cell } from '@forgetless/experiments';
import type { ConnectionOptions } from 'bullmq';
import { usage } from './errors.js';

export const CELL_QUEUE = 'forgetless-cells';
export const SWEEP_QUEUE = 'forgetless-sweeps';

export interface CellJobData {
  cell: Cell;
  /** The sweep's id, for the logs. */
  sweep: string;
}

/** Progress a worker reports (job.updateProgress). */
export interface CellProgress {
  task: number;
  tasks: number;
  step: number;
  steps: number;
  resumedAt?: number;
  by: string;
}

export const sweepJobId = (sweepId: string) => `sweep-${sweepId.slice(0, 24)}`;
export const cellJobId = (sweepId: string, cell: Pick<Cell, 'index' | 'id'>) => `cell-${sweepId.slice(0, 16)}-${cell.index}-${cell.id.slice(0, 12)}`;

/** The connection options of `--queue redis://host:port/db` (rediss:// for TLS); a clear error otherwise. */
export function queueConnection(url: string, flag = '--queue'): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usage(`${flag}: expected a Redis URL like redis://127.0.0.1:6379/0, got '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw usage(`${flag}: expected a redis:// or rediss:// URL, got '${url}'`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw usage(`${flag}: the database of '${url}' is '${db}': expected a number (redis://host:port/0)`);
  // fail fast when Redis is not there (the default retries forever); workers keep retrying (see worker-command.ts)
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true };
}
