/**
 * The local executor of `forgetless sweep --workers N`: N forked worker processes (sweep-worker.ts)
 * take the sweep's unfinished cells one at a time, in run order; a cell whose worker dies is given to
 * another worker (resuming from its checkpoint). One combined progress display: a line per cell
 * started and finished, and on a terminal one status line (cells done, each worker's cell, task and
 * step).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cell, ExperimentEvent } from '@forgetless/experiments';
import { type CellResult, readCellResult } from './cells.js';
import { UserError } from './errors.js';
import type { PreparedSweep } from './sweep-command.js';
import type { FromWorker, ToWorker } from './sweep-worker.js';

export interface LocalOptions {
  workers: number;
  download: boolean;
  log: (line: string) => void;
  bars: boolean;
  quiet: boolean;
}

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'sweep-worker.js');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');

export const cellName = (c: Pick<Cell, 'index' | 'label' | 'key'> & { of?: number }, total: number) =>
  `[${c.index + 1}/${total}] ${c.label}${c.label.startsWith('plain') ? '' : ` λ ${c.key.lambda}`}, seed ${c.key.seed}`;

/** One line per finished cell. */
export function cellLine(c: Cell, r: CellResult & { cached?: boolean }, who: string): string {
  const rec = r.record;
  const what = rec.diverged ? `${rec.diverged}: no accuracy is reported` : `average accuracy ${f3(rec.finalAverage)}, forgetting ${f3(rec.forgetting)}, BWT ${f3(rec.bwt)}`;
  const how = r.cached ? 'already done' : `${rec.seconds.toFixed(1)} s${r.resumedAt !== undefined ? `, resumed at task ${r.resumedAt + 1}` : ''}`;
  return `  ${cellName(c, c.of)} ${who}: ${what} (${how})`;
}

/** A status line redrawn in place on a terminal. */
export function statusLine(enabled: boolean): { set(text: string): void; clear(): void } {
  let shown = false;
  return {
    set(text) {
      if (!enabled) return;
      const width = process.stderr.columns ?? 120;
      process.stderr.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
      shown = true;
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}

export async function runLocalSweep(sweep: PreparedSweep, options: LocalOptions, deaths = new Map<number, number>()): Promise<CellResult[]> {
  const total = sweep.cells.length;
  const results = new Map<number, CellResult>();
  const pending: Cell[] = [];
  for (const cell of sweep.cells) {
    const done = await readCellResult(sweep.cellsDir, cell);
    if (done) results.set(cell.index, done);
    else pending.push(cell);
  }
  if (results.size) options.log(`  ${results.size} of ${total} cells already done (in ${sweep.cellsDir}): not run again`);
  if (pending.length === 0) return [...results.values()];
  const n = Math.min(options.workers, pending.length);
  options.log(`  ${pending.length} cell(s) on ${n} worker process(es)`);
  const status = statusLine(options.bars);
  const say = (line: string) => {
    status.clear();
    options.log(line);
  };
  const state = new Map<number, string>(); // worker → what it is doing
  const redraw = () => status.set(`  cells ${results.size}/${total} | ${[...state.entries()].map(([w, s]) => `w${w + 1} ${s}`).join(' | ')}`);
  const queue = [...pending];
  const failures: string[] = [];
  const children: ChildProcess[] = [];
  let stopping = false;
  const onSigint = () => {
    if (stopping) process.exit(130);
    stopping = true;
    say('\ninterrupted: stopping the workers; finished cells and checkpoints are kept: run the same command again to continue (Ctrl-C again to quit now)');
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    await Promise.all(
      Array.from(
        { length: n },
        (_, w) =>
          new Promise<void>((resolveWorker) => {
            const child = fork(WORKER, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env } });
            children.push(child);
            let current: Cell | undefined;
            const next = () => {
              current = stopping ? undefined : queue.shift();
              if (!current) {
                state.delete(w);
                child.send({ type: 'stop' } satisfies ToWorker);
                return;
              }
              state.set(w, `${current.label} s${current.key.seed}`);
              child.send({ type: 'cell', cell: current, cells: sweep.cellsDir, download: options.download } satisfies ToWorker);
            };
            child.on('message', (m: FromWorker) => {
              if (m.type === 'ready') return next();
              if (m.type === 'event') return onEvent(m.event);
              if (m.type === 'done') {
                results.set(m.index, m.result);
                say(cellLine(current as Cell, m.result, `(worker ${w + 1})`));
                return next();
              }
              if (m.type === 'failed') {
                failures.push(`${cellName(current as Cell, total)}: ${m.message}`);
                say(`  ${cellName(current as Cell, total)} (worker ${w + 1}) failed: ${m.message}`);
                return next();
              }
            });
            const onEvent = (e: ExperimentEvent) => {
              if (e.kind === 'run-start') {
                if (e.resumedAt !== undefined) say(`  ${cellName(current as Cell, total)} (worker ${w + 1}): resumed at task ${e.resumedAt + 1}/${e.tasks}`);
              } else if (e.kind === 'progress') {
                const ev = e.event;
                if (ev.kind === 'step') state.set(w, `${e.label} s${e.seed} task ${ev.taskIndex + 1} ${ev.taskStep}/${ev.stepsInTask}`);
                if (ev.kind === 'task') {
                  const accs = ev.accuracies ?? [];
                  say(
                    `  ${cellName(current as Cell, total)} (worker ${w + 1}) after task ${ev.taskIndex + 1}: average accuracy ${f3(accs.reduce((x, y) => x + y, 0) / Math.max(1, accs.length))}`,
                  );
                }
                if (ev.kind === 'warning') say(`  ${cellName(current as Cell, total)}: warning: ${ev.warning?.message ?? 'training is blowing up'}`);
              }
              redraw();
            };
            child.on('exit', (code, signal) => {
              state.delete(w);
              if (current && !results.has(current.index) && !failures.some((f) => f.startsWith(cellName(current as Cell, total)))) {
                const died = (deaths.get(current.index) ?? 0) + 1;
                deaths.set(current.index, died);
                if (stopping) failures.push(`${cellName(current, total)}: interrupted`);
                else if (died >= 3) failures.push(`${cellName(current, total)}: its worker died ${died} times (${signal ?? code})`);
                else {
                  // the worker died mid-cell: another one takes it (resuming from its checkpoint)
                  say(`  worker ${w + 1} exited (${signal ?? code}) during ${cellName(current, total)}: the cell goes back to the queue`);
                  queue.unshift(current);
                }
              }
              redraw();
              resolveWorker();
            });
          }),
      ),
    );
    // cells put back after every worker had stopped
    if (queue.length && !stopping) {
      const rest = await runLocalSweep({ ...sweep, cells: sweep.cells.filter((c) => queue.includes(c)) }, options, deaths);
      for (const r of rest) results.set(r.record.index, r);
    }
  } finally {
    status.clear();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  if (stopping) throw new UserError(`interrupted after ${results.size} of ${total} cells: run the same command again to continue`, 1);
  if (failures.length) throw new UserError(`${failures.length} of ${total} cells failed: ${failures.join('; ')}`);
  return sweep.cells.map((c) => results.get(c.index) as CellResult);
}
