/**
 * `forgetless sweep <run options>`: the experiment `forgetless run` would run, split into cells
 * (one method, λ and seed each, @forgetless/experiments' `sweepCells`) and run in parallel:
 *
 *   --workers N            N worker processes on this machine (default: the number of cores)
 *   --queue redis://…      a BullMQ flow on Redis, for `forgetless worker --queue …` on any machine
 *                          (sweep-queue.ts); with --status (progress) or --collect (the report)
 *
 * Either way the output folder gets what `forgetless run` writes (results.json, report.md, the
 * SVGs), run for run identical, plus sweep.json (the cells and their ids). Cells keep their results
 * and checkpoints in <out>/cells (or --cells <dir>): the same sweep run again skips finished cells
 * and resumes interrupted ones from their last task.
 */
import { availableParallelism } from 'node:os';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@forgetless/core';
import { writeFileAtomic } from '@forgetless/core/node';
import {
  type Cell,
  type ExperimentConfig,
  PRESETS,
  completedSubset,
  isPresetName,
  type ExperimentResult,
  type Preset,
  type RunRecord,
  combineCells,
  hasLambda,
  sweepCells,
  sweepId,
  validateConfig,
  variantLabel,
} from '@forgetless/experiments';
import { type CellResult, readCellResult } from './cells.js';
import { cellName } from './sweep-local.js';
import { importanceSamples, loadExperimentData } from './data.js';
import { UserError, usage } from './errors.js';
import { dataFingerprint, runFingerprint } from './fingerprint.js';
import { fromJson, toJson } from './json.js';
import { type RunFlags, configFromFlags, presetOf } from './options.js';
import { writeOutputs } from './output.js';
import { summaryTable } from './run-command.js';

export interface SweepFlags extends RunFlags {
  out?: string;
  workers?: string;
  queue?: string;
  status?: boolean;
  collect?: boolean;
  partial?: string;
  detach?: boolean;
  cells?: string;
  progress?: boolean;
  quiet?: boolean;
  download?: boolean;
  attempts?: string;
}

/** sweep.json: what `--status` and `--collect` read back. */
export interface SweepFile {
  format: 'forgetless-sweep';
  formatVersion: 1;
  id: string;
  config: ExperimentConfig;
  context: { command: string; data: string; preset?: string };
  tasks: string[];
  cells: Pick<Cell, 'id' | 'index' | 'label' | 'key'>[];
  /** The cells folder (absolute). */
  cellsDir: string;
  queue?: string;
  /** Local sweeps: wall seconds spent on it so far, over every invocation. */
  wallSeconds?: number;
}

export interface PreparedSweep {
  config: ExperimentConfig;
  cells: Cell[];
  id: string;
  preset: Preset | undefined;
  tasks: string[];
  data: string;
  outDir: string;
  cellsDir: string;
  command: string;
}

export const SWEEP_FILE = 'sweep.json';

/** The sweep the flags describe: its config (as `forgetless run` makes it), data and cells. */
export async function prepareSweep(flags: SweepFlags, command: string, outDir: string): Promise<PreparedSweep> {
  const preset = presetOf(flags);
  if (preset && !preset.config) throw usage(`sweep: --preset ${preset.name} is not a continual-learning experiment; use forgetless run`);
  if (preset?.scenarios && flags.scenario === undefined)
    throw usage(`sweep: --preset ${preset.name} runs one experiment per scenario: sweep each with --scenario <task|domain|class>`);
  const raw = configFromFlags(flags);
  await useBackend(raw.backend);
  let config = validateConfig(raw);
  const data = await loadExperimentData(config.data, { download: !!flags.download });
  config = { ...config, data: data.data, importanceLimit: importanceSamples(config.importanceLimit, data.tasks) };
  const fingerprint = dataFingerprint(runFingerprint(config, data.tasks));
  const cells = await sweepCells(config, fingerprint);
  return {
    config: validateConfig(config),
    cells,
    id: await sweepId(cells),
    preset,
    tasks: data.tasks.map((t) => t.name),
    data: data.description,
    outDir,
    cellsDir: resolve(flags.cells ?? join(outDir, 'cells')),
    command,
  };
}

export function sweepFile(p: PreparedSweep, queue?: string): SweepFile {
  return {
    format: 'forgetless-sweep',
    formatVersion: 1,
    id: p.id,
    config: p.config,
    context: { command: p.command, data: p.data, ...(p.preset ? { preset: p.preset.name } : {}) },
    tasks: p.tasks,
    cells: p.cells.map(({ id, index, label, key }) => ({ id, index, label, key })),
    cellsDir: p.cellsDir,
    ...(queue ? { queue } : {}),
  };
}

export async function readSweepFile(outDir: string, flag = '--out'): Promise<SweepFile | undefined> {
  let text: string;
  try {
    text = await readFile(join(outDir, SWEEP_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const s = fromJson(text) as SweepFile;
  if (s?.format !== 'forgetless-sweep') throw new UserError(`${flag}: ${join(outDir, SWEEP_FILE)} is not a forgetless sweep`);
  return s;
}

/** Refuses an --out folder that holds another sweep's or a run's results, unless --force. */
export async function checkSweepFolder(outDir: string, id: string, force: boolean): Promise<void> {
  if (force) return;
  const earlier = await readSweepFile(outDir);
  if (earlier && earlier.id !== id) {
    throw new UserError(`--out: ${outDir} holds another sweep (${earlier.cells.length} cells, ${earlier.context.command}): choose another --out, or pass --force`);
  }
  const files = await readdir(outDir).catch(() => [] as string[]);
  if (!earlier && (files.includes('results.json') || files.includes('checkpoint'))) {
    throw new UserError(`--out: ${outDir} holds the results of a forgetless run: choose another --out, or pass --force`);
  }
}

export function describeSweep(c: ExperimentConfig, cells: number): string {
  const per = c.iterations !== undefined ? `${c.iterations} iterations` : `${c.epochs ?? 1} epoch(s)`;
  return `model ${c.model}, ${c.optimizer} lr ${c.learningRate}, ${per}/task, batch ${c.batchSize}; methods ${c.variants.map((v) => variantLabel(v) + (hasLambda(v.method) ? ` (λ ${v.lambdas.join(', ')})` : '')).join(', ')}; ${c.seeds.length} seed(s): ${cells} cell(s)`;
}

/** Writes results.json, report.md and the SVGs from the cells' results, as `forgetless run` does; prints the summary table. */
export async function writeSweepOutputs(
  outDir: string,
  sweep: Pick<SweepFile, 'config' | 'tasks' | 'context'> & { preset?: Preset },
  results: readonly CellResult[],
  seconds: number,
  partial?: string,
): Promise<ExperimentResult> {
  const backend = results[0]?.backend ?? tf.getBackend();
  const mixed = [...new Set(results.map((r) => r.backend))];
  if (mixed.length > 1) process.stderr.write(`forgetless: warning: the cells ran on different backends (${mixed.join(', ')}); results.json names ${backend}\n`);
  const result = combineCells(
    sweep.config,
    sweep.tasks,
    backend,
    results.map((r) => r.record as RunRecord),
  );
  const { files, summaries } = await writeOutputs(outDir, result, {
    data: sweep.context.data,
    seconds,
    command: sweep.context.command,
    ...(sweep.preset ? { preset: sweep.preset } : {}),
    ...(partial ? { partial } : {}),
  });
  process.stdout.write(`\n${summaryTable(summaries, result.tasks.length)}\n\n`);
  process.stdout.write(`results in ${outDir}: ${files.join(', ')}\n`);
  return result;
}

/** `--workers`: a positive integer, default the number of cores. */
export function parseWorkers(text: string | undefined): number {
  if (text === undefined) return Math.max(1, availableParallelism());
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw usage(`--workers: expected a whole number of processes from 1 to 256, got '${text}'`);
  return n;
}

export async function sweepCommand(flags: SweepFlags & { force?: boolean }, command: string, outDir: string): Promise<void> {
  const t0 = performance.now();
  const log = (line: string) => {
    if (!flags.quiet) process.stderr.write(`${line}\n`);
  };
  if (flags.queue !== undefined) {
    const { queueSweep } = await import('./sweep-queue.js');
    await queueSweep(flags, command, outDir, log);
    return;
  }
  if (flags.status) {
    await localStatus(outDir);
    return;
  }
  if (flags.detach) throw usage('--detach: only with --queue redis://…');
  const workers = parseWorkers(flags.workers);
  const sweep = await prepareSweep(flags, command, outDir);
  await checkSweepFolder(outDir, sweep.id, !!flags.force);
  // the wall time of earlier invocations of the same sweep (interrupted, continued) counts in the report
  const earlier = await readSweepFile(outDir);
  const before = earlier?.id === sweep.id ? (earlier.wallSeconds ?? 0) : 0;
  const elapsed = () => before + (performance.now() - t0) / 1000;
  const saveSweep = () => writeFileAtomic(join(outDir, SWEEP_FILE), toJson({ ...sweepFile(sweep), wallSeconds: elapsed() }));
  await saveSweep();
  const ticker = setInterval(() => void saveSweep().catch(() => undefined), 30_000);
  ticker.unref();
  log(
    `forgetless sweep ${sweep.preset ? sweep.preset.name : sweep.config.name}: ${sweep.tasks.length} ${sweep.config.data.sequence} tasks from ${sweep.data}; ${sweep.config.backend} backend`,
  );
  log(`  ${describeSweep(sweep.config, sweep.cells.length)}`);
  log(`  output: ${outDir}; cells: ${sweep.cellsDir}`);
  const { runLocalSweep } = await import('./sweep-local.js');
  let results: CellResult[];
  try {
    results = await runLocalSweep(sweep, {
      workers,
      download: !!flags.download,
      log,
      bars: flags.quiet ? false : flags.progress !== false && !!process.stderr.isTTY,
      quiet: !!flags.quiet,
    });
  } finally {
    clearInterval(ticker);
    await saveSweep();
  }
  await writeSweepOutputs(outDir, { ...sweep, context: sweepFile(sweep).context }, results, elapsed());
  failOnDivergence(results);
}

/**
 * `sweep --collect` of a local sweep (the sweep in `sweepDir`, read only): its report from the cells'
 * results, into `outDir` (the sweep's own folder, locked by the caller, so never while the sweep
 * runs into it). With `partial`, into another folder, from the method × λ groups whose every seed
 * is done, the report saying so; without, every cell must be done.
 */
export async function localCollect(sweepDir: string, outDir: string, partial: boolean): Promise<void> {
  const sweep = await readSweepFile(sweepDir);
  if (!sweep) throw usage(`--collect: ${sweepDir} holds no ${SWEEP_FILE}: give the --out folder of a sweep`);
  await useBackend('cpu'); // validating the config builds the model spec; the report names the cells' backend
  const results: CellResult[] = [];
  for (const cell of sweep.cells) {
    const r = await readCellResult(sweep.cellsDir, cell);
    if (r) results.push(r);
  }
  const name = sweep.context.preset;
  const preset = name && isPresetName(name) ? PRESETS[name] : undefined;
  const seconds = sweep.wallSeconds ?? 0;
  if (!partial) {
    if (results.length < sweep.cells.length) {
      throw new UserError(
        `--collect: ${sweep.cells.length - results.length} of ${sweep.cells.length} cells of the sweep in ${sweepDir} are not done: run the same sweep again to finish them, or write a report of the finished ones with --partial <dir>`,
      );
    }
    await writeSweepOutputs(outDir, { ...sweep, ...(preset ? { preset } : {}) }, results, seconds);
    failOnDivergence(results);
    return;
  }
  const part = completedSubset(
    sweep.config,
    results.map((r) => r.record as RunRecord),
  );
  if (part.records.length === 0) {
    throw new UserError(
      `--partial: no method and λ of the sweep in ${sweepDir} has all its ${sweep.config.seeds.length} seeds done yet (${part.done} of ${part.total} cells done)`,
    );
  }
  const byRun = new Map(results.map((r) => [`${r.record.variant}|${r.record.lambda}|${r.record.seed}`, r]));
  const used = part.records.map((record) => ({ ...(byRun.get(`${record.variant}|${record.lambda}|${record.seed}`) as CellResult), record }));
  const pendingText = part.pending.map((p) => `${p.label}${p.lambda ? ` λ ${p.lambda}` : ''} (${p.seedsDone} of ${sweep.config.seeds.length} seeds)`).join(', ');
  const note = `**Partial report** of a sweep still running or stopped: ${part.done} of ${part.total} cells done; below, the ${part.records.length} runs of every method and λ whose ${sweep.config.seeds.length} seeds are all done (a method's best λ is chosen among those). Not yet complete: ${pendingText}. The time is the sweep's wall time so far.`;
  await writeSweepOutputs(outDir, { config: part.config, tasks: sweep.tasks, context: sweep.context, ...(preset ? { preset } : {}) }, used, seconds, note);
  process.stdout.write(`partial: ${part.done} of ${part.total} cells done; the report covers ${part.records.length} runs\n`);
}

/** `sweep --status` of a local sweep: its cells done, in progress (the task of their checkpoint) and not started, from the cells folder. */
async function localStatus(outDir: string): Promise<void> {
  const sweep = await readSweepFile(outDir);
  if (!sweep) throw usage(`--status: ${outDir} holds no ${SWEEP_FILE}: give the --out folder of a sweep`);
  let done = 0;
  const running: string[] = [];
  for (const cell of sweep.cells) {
    const dir = join(sweep.cellsDir, cell.id);
    const files = await readdir(dir).catch(() => [] as string[]);
    if (files.includes('result.json')) {
      done++;
      continue;
    }
    const state = await readFile(join(dir, 'checkpoint', 'state.json'), 'utf8').catch(() => '');
    const task = /"taskIndex": (\d+)/.exec(state)?.[1];
    if (task !== undefined) running.push(`  ${cellName(cell, sweep.cells.length)}: ${Number(task) + 1} of ${sweep.tasks.length} tasks checkpointed`);
  }
  const wall = sweep.wallSeconds !== undefined ? `; ${(sweep.wallSeconds / 60).toFixed(1)} min spent so far` : '';
  process.stdout.write(
    `sweep ${sweep.id.slice(0, 12)} (${sweep.context.command}): ${done}/${sweep.cells.length} cells done, ${running.length} begun, ${sweep.cells.length - done - running.length} not started${wall}\n${running.map((l) => `${l}\n`).join('')}`,
  );
}

export function failOnDivergence(results: readonly CellResult[]): void {
  const diverged = results.map((r) => r.record).filter((r) => r.diverged);
  if (diverged.length) {
    const which = diverged.map((r) => `${r.variant}${r.method === 'plain' ? '' : ` λ ${r.lambda}`}, seed ${r.seed}: ${r.diverged}`).join('; ');
    throw new UserError(`${diverged.length} of ${results.length} runs diverged (${which}); their accuracies are not reported`, 3);
  }
}
