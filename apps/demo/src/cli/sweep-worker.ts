/**
 * A worker process of `forgetless sweep --workers N` (forked by sweep-local.ts, IPC with the
 * structured-clone serialization, so NaN accuracies survive): it receives cells one at a time, runs
 * each with its checkpoint in the sweep's cells folder, and sends its progress (at most every
 * 200 ms) and its record back. Each worker picks the cell's backend as the CLI does and loads the
 * data once.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Cell, ExperimentEvent } from '@forgetless/experiments';
import { cellData, executeCell } from './cells.js';
import { describeError } from './errors.js';

tf.env().set('PROD', true);

export type ToWorker = { type: 'cell'; cell: Cell; cells: string; download?: boolean } | { type: 'stop' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'event'; index: number; event: ExperimentEvent }
  | { type: 'done'; index: number; result: Awaited<ReturnType<typeof executeCell>> }
  | { type: 'failed'; index: number; message: string };

const send = (m: FromWorker) => process.send?.(m);

let busy = Promise.resolve();
process.on('message', (m: ToWorker) => {
  if (m.type === 'stop') {
    void busy.then(() => process.exit(0));
    return;
  }
  busy = busy.then(() => run(m));
});
// the sweep's process is gone (killed): stop with it (training rarely lets the event loop see the
// IPC channel close, so the parent is also checked at every progress event)
const parent = process.ppid;
const orphaned = () => process.ppid !== parent;
process.on('disconnect', () => process.exit(1));
// Ctrl-C reaches the whole process group: the sweep's process decides what to do, the workers stop
// when it tells them to or when it is gone
process.on('SIGINT', () => undefined);

async function run(m: Extract<ToWorker, { type: 'cell' }>): Promise<void> {
  const { cell } = m;
  try {
    const data = await cellData(cell, { download: !!m.download });
    let last = 0;
    const result = await executeCell(cell, m.cells, {
      tasks: data.tasks,
      onEvent: (event) => {
        if (orphaned()) process.exit(1);
        const now = Date.now();
        if (event.kind === 'progress' && event.event.kind === 'step' && now - last < 200) return;
        last = now;
        send({ type: 'event', index: cell.index, event });
      },
    });
    send({ type: 'done', index: cell.index, result });
  } catch (e) {
    send({ type: 'failed', index: cell.index, message: describeError(e).line });
  }
}

send({ type: 'ready' });
