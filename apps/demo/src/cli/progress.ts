/**
 * Progress on stderr: a cli-progress bar per task (steps, loss, the average accuracy of the last
 * evaluation, examples per second, ETA), and one line per finished task and run, which is all a
 * non-terminal (a pipe, a CI log) gets; a line per blow-up warning, and for a run that diverged,
 * where (`diverged at task T step S (parameter P = NaN)`) instead of its accuracy.
 */
import cliProgress from 'cli-progress';
import type { ExperimentEvent } from '@forgetless/experiments';

export interface ProgressOptions {
  /** Draw bars (default: when stderr is a terminal). */
  bars?: boolean;
  /** Print nothing at all. */
  quiet?: boolean;
  write?: (line: string) => void;
}

const f3 = (x: number) => x.toFixed(3);

/** Returns the event handler for runExperiment and a `stop` that clears any bar. */
export function progressReporter(options: ProgressOptions = {}): { onEvent: (e: ExperimentEvent) => void; stop: () => void } {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const bars = !options.quiet && (options.bars ?? !!process.stderr.isTTY);
  let bar: cliProgress.SingleBar | undefined;
  let barTask = -1;
  let lastAcc = '-';
  const stop = () => {
    bar?.stop();
    bar = undefined;
    barTask = -1;
  };
  const onEvent = (e: ExperimentEvent) => {
    if (options.quiet) return;
    if (e.kind === 'run-start') {
      stop();
      lastAcc = '-';
      const lam = e.label.startsWith('plain') ? '' : ` λ ${e.lambda}`;
      write(`[${e.run + 1}/${e.runs}] ${e.label}${lam}, seed ${e.seed}${e.resumedAt !== undefined ? ` (resumed at task ${e.resumedAt + 1}/${e.tasks})` : ''}`);
      return;
    }
    if (e.kind === 'run-end') {
      stop();
      const r = e.record;
      if (r.diverged) {
        write(`  ${r.diverged}: no accuracy is reported for this run (${r.seconds.toFixed(1)} s)`);
        return;
      }
      write(`  ${r.cancelled ? 'cancelled' : 'done'}: average accuracy ${f3(r.finalAverage)}, forgetting ${f3(r.forgetting)}, BWT ${f3(r.bwt)} (${r.seconds.toFixed(1)} s)`);
      return;
    }
    const ev = e.event;
    if (ev.kind === 'warning') {
      stop();
      write(`  warning: ${ev.warning?.message ?? 'training is blowing up'}`);
      return;
    }
    if (ev.kind === 'diverged') {
      // the run ends here; its 'run-end' line says where
      stop();
      return;
    }
    if (ev.kind === 'task') {
      stop();
      const accs = ev.accuracies ?? [];
      const avg = accs.reduce((a, b) => a + b, 0) / Math.max(1, accs.length);
      lastAcc = f3(avg);
      write(`  after task ${ev.taskIndex + 1}: accuracy ${accs.map(f3).join(' ')} (average ${lastAcc})`);
      return;
    }
    if (ev.kind === 'eval') {
      // --evaluate-every: the latest mid-task average accuracy, shown in the bar
      const accs = ev.accuracies ?? [];
      lastAcc = f3(accs.reduce((a, b) => a + b, 0) / Math.max(1, accs.length));
      return;
    }
    if (!bars) return;
    if (barTask !== ev.taskIndex || !bar) {
      stop();
      bar = new cliProgress.SingleBar(
        {
          format: '  task {task} |{bar}| {value}/{total} steps | loss {loss} | acc {acc} | {speed} ex/s | ETA {eta_formatted}',
          hideCursor: true,
          clearOnComplete: true,
          stream: process.stderr,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(ev.stepsInTask, ev.taskStep, { task: `${ev.taskIndex + 1}`, loss: '-', acc: lastAcc, speed: '-' });
      barTask = ev.taskIndex;
    }
    bar.update(ev.taskStep, {
      loss: ev.loss !== undefined ? ev.loss.toFixed(3) : '-',
      acc: lastAcc,
      speed: ev.examplesPerSecond !== undefined ? ev.examplesPerSecond.toFixed(0) : '-',
    });
  };
  return { onEvent, stop };
}
