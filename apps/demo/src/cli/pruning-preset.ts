/**
 * `forgetless run --preset pruning`: paper 2's pruning table (@forgetless/experiments, pruning.ts) on the data
 * found (MNIST where the user has it, else Fashion-MNIST), written as results.json, report.md
 * (measured beside the paper's MNIST numbers) and pruning.svg. `--quick`: 1 epoch on 10 000
 * examples, importances on 2000, accuracy on 5000 test examples.
 */
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from '@forgetless/core/node';
import { pruningSpec } from '@forgetless/experiments';
import { PRESETS } from '@forgetless/experiments';
import { pruningConfig, runPruning } from '@forgetless/experiments';
import { pruningMarkdown } from '../report/pruning.js';
import { renderSvg } from '../report/svg.js';
import { loadExperimentData } from './data.js';
import { UserError, usage } from './errors.js';
import { toJson } from './json.js';
import { number, parseSeeds } from './options.js';
import { progressReporter } from './progress.js';
import { parseThreads, startBackend } from './threads.js';
import type { RunCommandFlags } from './run-command.js';
import { defaultOutDir } from './run-command.js';

const ALLOWED = new Set([
  'preset',
  'quick',
  'out',
  'backend',
  'threads',
  'epochs',
  'seeds',
  'dataset',
  'importanceSamples',
  'trainLimit',
  'evalLimit',
  'progress',
  'quiet',
  'download',
]);
const flagName = (k: string) => `--${k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)}`;

export async function runPruningPreset(flags: RunCommandFlags, command: string): Promise<void> {
  const extra = Object.entries(flags).filter(([k, v]) => v !== undefined && !ALLOWED.has(k));
  if (extra.length)
    throw usage(
      `--preset pruning takes ${[...ALLOWED]
        .filter((k) => k !== 'preset')
        .map(flagName)
        .join(', ')}; not ${extra.map(([k]) => flagName(k)).join(', ')}`,
    );
  const config = pruningConfig(!!flags.quick);
  if (flags.seeds !== undefined) {
    const seeds = parseSeeds(flags.seeds);
    if (seeds.length !== 1) throw usage('--preset pruning runs one seed: pass --seeds <n>');
    config.seed = seeds[0] as number;
  }
  if (flags.epochs !== undefined) config.epochs = number('epochs', flags.epochs, 'int');
  if (flags.importanceSamples !== undefined) config.calibration = number('importance-samples', flags.importanceSamples, 'int');
  if (flags.evalLimit !== undefined) config.evalLimit = number('eval-limit', flags.evalLimit, 'int');
  const trainLimit = flags.trainLimit !== undefined ? number('train-limit', flags.trainLimit, 'int') : flags.quick ? 10000 : undefined;
  const outDir = resolve(flags.out ?? defaultOutDir());
  const preset = PRESETS.pruning;
  const t0 = performance.now();
  const backend = await startBackend(flags.backend ?? 'wasm', parseThreads(flags.threads, flags.backend ?? 'wasm'));
  const data = await loadExperimentData(
    { dataset: flags.dataset ?? 'auto', sequence: 'permuted', numTasks: 1, validation: 0, ...(trainLimit ? { trainLimit } : {}) },
    { download: !!flags.download },
  );
  const [task] = data.tasks;
  if (!task) throw new UserError('data: no task');
  const log = (line: string) => !flags.quiet && process.stderr.write(`${line}\n`);
  log(`forgetless pruning${flags.quick ? ' --quick' : ''}: ${preset.protocol}`);
  log(`  data: ${data.description}; ${task.train.size} training examples; ${backend} backend; output: ${outDir}`);
  const progress = progressReporter({ ...(flags.progress === false ? { bars: false } : {}), ...(flags.quiet ? { quiet: true } : {}) });
  progress.onEvent({ kind: 'run-start', run: 0, runs: 1, label: `plain training of ${config.model} (to prune)`, lambda: 0, seed: config.seed, tasks: 1 });
  const result = await runPruning(config, {
    task,
    onEvent: (e) => {
      if (e.kind === 'train') progress.onEvent({ kind: 'progress', run: 0, runs: 1, label: 'train', lambda: 0, seed: config.seed, event: e.event });
      else {
        progress.stop();
        log(`  ${e.method.padEnd(4)} ${e.rows.map((r) => `${r.scope === 'global' ? '' : 'layer '}${Math.round(r.sparsity * 100)}% ${r.accuracy.toFixed(3)}`).join('  ')}`);
      }
    },
  }).finally(() => progress.stop());
  const seconds = (performance.now() - t0) / 1000;
  const files: string[] = [];
  const write = async (name: string, text: string) => {
    await writeFileAtomic(resolve(outDir, name), text);
    files.push(name);
  };
  await write(
    'results.json',
    toJson({
      format: 'forgetless-pruning-results',
      formatVersion: 1,
      preset: 'pruning',
      paper: preset.paper,
      command,
      data: data.description,
      backend: tf.getBackend(),
      ...result,
      totalSeconds: seconds,
    }),
  );
  await write('report.md', pruningMarkdown(result, { title: preset.title, paper: preset.paper, protocol: preset.protocol, data: data.description, command, backend, seconds }));
  await write('pruning.svg', await renderSvg(pruningSpec(result.rows)));
  const methods = [...new Set(result.rows.map((r) => r.method))];
  const cols = [...new Set(result.rows.filter((r) => r.scope === 'global').map((r) => r.sparsity))];
  const table = [
    ['importance', ...cols.map((s) => `${Math.round(s * 100)}%`)],
    ...methods.map((m) => [m, ...cols.map((s) => result.rows.find((r) => r.method === m && r.scope === 'global' && r.sparsity === s)?.accuracy.toFixed(3) ?? '')]),
  ];
  const widths = (table[0] as string[]).map((_, i) => Math.max(...table.map((l) => (l[i] ?? '').length)));
  process.stdout.write(
    `\nunpruned ${result.unpruned.toFixed(3)}; test accuracy after global pruning:\n${table.map((l) => l.map((c, i) => (i ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ')).join('\n')}\n\n`,
  );
  process.stdout.write(`results in ${outDir}: ${files.join(', ')}\n`);
}
