/**
 * `forgetless run` (and `forgetless` alone): a continual-learning experiment from the default run,
 * a preset or flags; progress on stderr; the output folder; a summary table on stdout.
 * `--resume <dir>` continues a run from its last checkpoint.
 */
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '@forgetless/core/node';
import { scenariosSpec } from '@forgetless/experiments';
import { type ScenarioRun, scenariosMarkdown, scenariosTable } from '../report/scenarios.js';
import { renderSvg } from '../report/svg.js';
import * as tf from '@tensorflow/tfjs-core';
import { type ExperimentConfig, validateConfig } from '@forgetless/experiments';
import { hasLambda, variantLabel } from '@forgetless/experiments';
import type { Preset } from '@forgetless/experiments';
import { PRESETS, isPresetName } from '@forgetless/experiments';
import { type ExperimentResult, type Snapshot, runExperiment } from '@forgetless/experiments';
import { type VariantSummary, divergenceText } from '@forgetless/experiments';
import { CheckpointError, type LoadedCheckpoint, fileCheckpoint, loadCheckpoint } from '@forgetless/experiments/node';
import { importanceSamples, loadExperimentData } from './data.js';
import { UserError, usage } from './errors.js';
import { parseThreads, startBackend } from './threads.js';
import { interrupts } from './interrupt.js';
import { experimentLogs, parseLogFormats } from './logging.js';
import { fingerprintChanges, runFingerprint } from './fingerprint.js';
import { type RunFlags, configFromFlags, presetOf } from './options.js';
import { writeOutputs } from './output.js';
import { progressReporter } from './progress.js';
import { runPruningPreset } from './pruning-preset.js';

export interface RunCommandFlags extends RunFlags {
  out?: string;
  resume?: string;
  progress?: boolean;
  quiet?: boolean;
  download?: boolean;
  /** --log: tensorboard, csv, jsonl (comma-separated). */
  log?: string;
}

/** `runs/2025-01-31T12-00-00` under the working directory. */
export function defaultOutDir(now = new Date()): string {
  return resolve('runs', now.toISOString().slice(0, 19).replace(/:/g, '-'));
}

function describeConfig(c: ExperimentConfig): string {
  const per = c.iterations !== undefined ? `${c.iterations} iterations` : `${c.epochs ?? 1} epoch(s)`;
  const runs = c.variants.reduce((n, v) => n + v.lambdas.length, 0) * c.seeds.length;
  return `model ${c.model}, ${c.optimizer} lr ${c.learningRate}, ${per}/task, batch ${c.batchSize}, importances on ${c.importanceLimit} samples; methods ${c.variants.map((v) => variantLabel(v) + (hasLambda(v.method) ? ` (λ ${v.lambdas.join(', ')})` : '')).join(', ')}; ${c.seeds.length} seed(s): ${runs} run(s)`;
}

/**
 * The stdout table: average accuracy after each task, task 1 at the end, forgetting, per method; a
 * method whose runs diverged shows — and where it diverged.
 */
export function summaryTable(summaries: readonly VariantSummary[], tasks: number): string {
  const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
  const head = ['method', 'λ', ...Array.from({ length: tasks }, (_, i) => `avg@${i + 1}`), 'task1@end', 'forgetting'];
  const notes: string[] = [];
  const rows = summaries.map((s) => {
    const b = s.best;
    notes.push(divergenceText(b));
    const t1 = b.matrix[b.matrix.length - 1]?.[0] ?? Number.NaN;
    return [s.variant, hasLambda(s.method) ? String(b.lambda) : '-', ...Array.from({ length: tasks }, (_, i) => f3(b.curve[i]?.mean ?? Number.NaN)), f3(t1), f3(b.forgetting.mean)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[], note = '') =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ') + (note ? `  ${note}` : '');
  return [line(head), ...rows.map((r, k) => line(r, notes[k]))].join('\n');
}

export interface RunOutcome {
  outDir: string;
  summaries: VariantSummary[];
  data: string;
}

export async function runCommand(allFlags: RunCommandFlags, command: string): Promise<RunOutcome | undefined> {
  const t0 = performance.now();
  const { log: logFlag, ...flags } = allFlags;
  const logFormats = logFlag !== undefined ? parseLogFormats(logFlag) : undefined;
  if (logFormats && flags.preset === 'pruning') throw usage('--log: the pruning preset trains no continual run to log; drop --log');
  if (flags.preset === 'pruning' && flags.resume === undefined) {
    await runPruningPreset(flags, command);
    return undefined;
  }
  const scenarios = flags.resume === undefined && flags.scenario === undefined && flags.preset !== undefined ? presetOf(flags)?.scenarios : undefined;
  if (scenarios) return runScenarios(allFlags, command, scenarios);
  if (flags.resume !== undefined) {
    const given = Object.entries(flags).filter(([k, v]) => v !== undefined && !['resume', 'progress', 'quiet', 'download', 'threads'].includes(k));
    if (given.length) throw usage(`--resume continues a run with its own settings: drop --${given.map(([k]) => k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)).join(', --')}`);
  }
  let config: ExperimentConfig;
  let outDir: string;
  let resumed: LoadedCheckpoint | undefined;
  let preset: Preset | undefined;
  let context: Record<string, unknown>;
  let backendLabel: string | undefined;
  if (flags.resume !== undefined) {
    outDir = resolve(flags.resume);
    // wasm threads are how the run goes, not what it computes: --resume takes them. They are chosen before the
    // checkpoint starts its run's backend; a run on another backend then refuses them.
    const threads = parseThreads(flags.threads, 'wasm');
    if (threads > 1) await startBackend('wasm', threads);
    resumed = await loadCheckpoint(outDir).catch((e: unknown) => {
      throw e instanceof CheckpointError ? new UserError(`--resume: ${e.message}`) : e;
    });
    config = validateConfig(resumed.config);
    if (threads > 1 && config.backend !== 'wasm') throw usage(`--threads: the run in ${outDir} runs on the ${config.backend} backend, which takes one thread; drop --threads`);
    backendLabel = await startBackend(config.backend, threads);
    context = resumed.context;
    const name = context.preset;
    preset = typeof name === 'string' && isPresetName(name) ? PRESETS[name] : undefined;
  } else {
    preset = presetOf(flags);
    const raw = configFromFlags(flags);
    backendLabel = await startBackend(raw.backend, parseThreads(flags.threads, raw.backend));
    config = validateConfig(raw);
    outDir = resolve(flags.out ?? defaultOutDir());
    context = { command, ...(preset ? { preset: preset.name } : {}) };
  }
  const log = (line: string) => {
    if (!flags.quiet) process.stderr.write(`${line}\n`);
  };
  const backend = backendLabel ?? tf.getBackend();
  const data = await loadExperimentData(config.data, { download: !!flags.download });
  config = { ...config, data: data.data, importanceLimit: importanceSamples(config.importanceLimit, data.tasks) };
  log(
    `forgetless ${preset ? `${preset.name}${flags.quick ? ' --quick' : ''}` : config.name}: ${data.tasks.length} ${config.data.sequence} tasks from ${data.description}; ${backend} backend`,
  );
  log(`  ${describeConfig(config)}`);
  log(`  output: ${outDir}`);
  // a resumed run must see the data (and settings) it began with
  const fingerprint = runFingerprint(config, data.tasks);
  const changed = resumed ? fingerprintChanges(resumed.context.fingerprint, fingerprint) : undefined;
  if (changed) {
    resumed?.dispose();
    const then = typeof context.data === 'string' && context.data !== data.description ? `; the run began on ${context.data}` : '';
    throw new UserError(
      `--resume: the data changed since the run began: ${changed} (data now: ${data.description}${then}); resuming would mix old and new data: restore the data the run began with, or start a new run`,
    );
  }
  const checkpoint = fileCheckpoint(outDir, config, { ...context, data: data.description, fingerprint });
  const interrupt = interrupts(log);
  interrupt.listen();
  const progress = progressReporter({ ...(flags.progress === false ? { bars: false } : {}), ...(flags.quiet ? { quiet: true } : {}) });
  const logs = logFormats ? experimentLogs(join(outDir, 'logs'), logFormats, (resumed?.snapshot as Snapshot | undefined)?.current) : undefined;
  if (logs) log(`  logs: ${logs.dir} (${logFormats?.join(', ')}; tensorboard --logdir ${logs.dir})`);
  let result: ExperimentResult;
  try {
    result = await runExperiment(config, {
      tasks: data.tasks,
      onEvent: logs
        ? (e) => {
            progress.onEvent(e);
            logs.onEvent(e);
          }
        : progress.onEvent,
      ...(logs ? { observers: logs.observers } : {}),
      signal: interrupt.signal,
      checkpoint,
      ...(resumed ? { resume: resumed.snapshot as Snapshot } : {}),
    });
  } finally {
    progress.stop();
    interrupt.dispose();
    resumed?.dispose();
    await logs?.close();
  }
  const wall = (performance.now() - t0) / 1000;
  const seconds = resumed
    ? Math.max(
        wall,
        result.runs.reduce((a, r) => a + r.seconds, 0),
      )
    : wall;
  const { files, summaries } = await writeOutputs(outDir, result, {
    data: data.description,
    seconds,
    command: String(context.command ?? command),
    ...(preset ? { preset } : {}),
  });
  process.stdout.write(`\n${summaryTable(summaries, result.tasks.length)}\n\n`);
  process.stdout.write(`${result.cancelled ? 'cancelled; partial results' : 'results'} in ${outDir}: ${files.join(', ')}\n`);
  if (result.cancelled) throw new UserError(`interrupted: resume with forgetless run --resume ${outDir}`, 1);
  const diverged = result.runs.filter((r) => r.diverged);
  if (diverged.length) {
    const which = diverged.map((r) => `${r.variant}${r.method === 'plain' ? '' : ` λ ${r.lambda}`}, seed ${r.seed}: ${r.diverged}`).join('; ');
    throw new UserError(`${diverged.length} of ${result.runs.length} runs diverged (${which}); their accuracies are not reported`, 3);
  }
  return { outDir, summaries, data: data.description };
}

/**
 * A scenarios preset: one experiment per scenario in `<out>/<scenario>` (each resumable with
 * `--resume <out>/<scenario>`), then `<out>/scenarios.md` and `scenarios.svg` side by side.
 */
async function runScenarios(flags: RunCommandFlags, command: string, scenarios: readonly string[]): Promise<RunOutcome> {
  const t0 = performance.now();
  const root = resolve(flags.out ?? defaultOutDir());
  const preset = presetOf(flags) as Preset;
  const runs: ScenarioRun[] = [];
  let data = '';
  const failed: string[] = [];
  for (const scenario of scenarios) {
    try {
      const out = await runCommand({ ...flags, scenario, out: join(root, scenario) }, command);
      if (out) {
        runs.push({ scenario, summaries: out.summaries });
        data = out.data;
      }
    } catch (e) {
      if (!(e instanceof UserError) || e.exitCode !== 3) throw e;
      failed.push(`${scenario}: ${e.message}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  await writeFileAtomic(join(root, 'scenarios.md'), scenariosMarkdown(preset, runs, { data, seconds, command }));
  const points = runs.flatMap((r) => r.summaries.map((s) => ({ variant: s.variant, scenario: r.scenario, mean: s.best.final.mean, std: s.best.final.std })));
  await writeFileAtomic(join(root, 'scenarios.svg'), await renderSvg(scenariosSpec(points)));
  process.stdout.write(`\n${scenariosTable(runs)}\n\nscenarios: ${join(root, 'scenarios.md')}, scenarios.svg (${(seconds / 60).toFixed(1)} min)\n`);
  if (failed.length) throw new UserError(failed.join('; '), 3);
  return { outDir: root, summaries: [], data };
}
