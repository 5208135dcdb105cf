/**
 * A sweep's cells on disk (Node), shared by the local executor's worker processes and by BullMQ
 * workers:
 *
 *   <cells>/<id>/result.json    the finished cell's run record (then re-running it is a no-op)
 *   <cells>/<id>/checkpoint/    its per-task checkpoint while it runs (checkpoint.ts's format): a
 *                               retried cell resumes after its last finished task
 *
 * Each process loads the data a cell names once, and refuses to run a cell whose data fingerprint
 * is not the one of the data it loaded (other files on this machine than where the sweep began).
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Task } from '@forgetless/core';
import { useBackend } from '@forgetless/core';
import { writeFileAtomic } from '@forgetless/core/node';
import { type Cell, type ExperimentEvent, type RunRecord, type Snapshot, canonicalJson, runCell } from '@forgetless/experiments';
import { type LoadedCheckpoint, CHECKPOINT_DIR, fileCheckpoint, loadCheckpoint } from '@forgetless/experiments/node';
import { type LoadedData, loadExperimentData } from './data.js';
import { UserError } from './errors.js';
import { dataFingerprint, runFingerprint } from './fingerprint.js';
import { fromJson, toJson } from './json.js';

export const CELL_FORMAT = 'forgetless-cell';

/** What a finished cell leaves: its record and where it ran. */
export interface CellResult {
  format: typeof CELL_FORMAT;
  id: string;
  record: RunRecord;
  backend: string;
  tasks: string[];
  /** The task it resumed at (from its checkpoint), when it did. */
  resumedAt?: number;
  /** host:pid of the process that ran it. */
  ranBy: string;
}

export const cellDir = (root: string, cell: Pick<Cell, 'id'>) => join(root, cell.id);

/** The finished cell's result, or undefined. */
export async function readCellResult(root: string, cell: Pick<Cell, 'id'>): Promise<CellResult | undefined> {
  let text: string;
  try {
    text = await readFile(join(cellDir(root, cell), 'result.json'), 'utf8');
  } catch {
    return undefined;
  }
  const r = fromJson(text) as CellResult;
  if (r?.format !== CELL_FORMAT || r.id !== cell.id) throw new UserError(`${join(cellDir(root, cell), 'result.json')} is not the result of cell ${cell.id.slice(0, 12)}`);
  return r;
}

const loaded = new Map<string, Promise<LoadedData & { fingerprint: string }>>();

/** The tasks of a cell (loaded once per process and data config), checked against the cell's data fingerprint. */
export async function cellData(cell: Cell, options: { download?: boolean } = {}): Promise<LoadedData & { fingerprint: string }> {
  const key = canonicalJson(cell.config.data);
  let p = loaded.get(key);
  if (!p) {
    p = loadExperimentData(cell.config.data, options).then((d) => ({ ...d, fingerprint: dataFingerprint(runFingerprint(cell.config, d.tasks)) }));
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  const data = await p;
  if (data.fingerprint !== cell.data) {
    throw new UserError(
      `cell ${cell.index + 1} (${cell.label}): the data here (${data.description}) is not the data the sweep was made on (fingerprint ${data.fingerprint.slice(0, 12)}, the sweep's ${cell.data.slice(0, 12)}): give this machine the same files`,
    );
  }
  return data;
}

export interface ExecuteOptions {
  tasks: readonly Task[];
  onEvent?: (e: ExperimentEvent) => void;
  signal?: AbortSignal;
}

export interface Executed extends CellResult {
  /** The result was there already: nothing ran. */
  cached: boolean;
}

export const ranBy = () => `${process.env.HOSTNAME ?? 'localhost'}:${process.pid}`;

/**
 * Runs `cell` with its checkpoint under `root`: a no-op when its result is there, a resume when its
 * checkpoint is, else from the start. Writes result.json and removes the checkpoint when it ends.
 * Throws when cancelled (the checkpoint stays).
 */
export async function executeCell(cell: Cell, root: string, options: ExecuteOptions): Promise<Executed> {
  const done = await readCellResult(root, cell);
  if (done) return { ...done, cached: true };
  const dir = cellDir(root, cell);
  await useBackend(cell.config.backend);
  let resumed: LoadedCheckpoint | undefined;
  try {
    resumed = await loadCheckpoint(dir);
  } catch {
    resumed = undefined; // none yet (or unreadable: the cell starts over)
  }
  if (resumed && resumed.context.cell !== cell.id) {
    resumed.dispose();
    resumed = undefined;
  }
  const resumedAt = resumed?.snapshot.current ? resumed.snapshot.current.taskIndex + 1 : undefined;
  let out: Awaited<ReturnType<typeof runCell>>;
  try {
    out = await runCell(cell, {
      tasks: options.tasks,
      checkpoint: fileCheckpoint(dir, cell.config, { cell: cell.id }),
      ...(resumed ? { resume: resumed.snapshot as Snapshot } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    resumed?.dispose();
  }
  if (out.cancelled) throw new UserError(`cell ${cell.index + 1} (${cell.label}) cancelled; its checkpoint is kept in ${dir}`);
  const result: CellResult = {
    format: CELL_FORMAT,
    id: cell.id,
    record: out.record,
    backend: out.backend,
    tasks: options.tasks.map((t) => t.name),
    ...(resumedAt !== undefined ? { resumedAt } : {}),
    ranBy: ranBy(),
  };
  await writeFileAtomic(join(dir, 'result.json'), toJson(result));
  await rm(join(dir, CHECKPOINT_DIR), { recursive: true, force: true });
  return { ...result, cached: false };
}
