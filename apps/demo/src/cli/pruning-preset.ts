/**
 * `forgetless run --preset pruning`: paper 2's pruning table, by the benchmark app's
 * `pruningExperiment` (one task, the 784-300-150-10 leaky-ReLU MLP, Adam; |w|, SIG, FIS, MAS on
 * 10 000 training samples, SI tracked during training; global and per-layer sparsities), written as
 * results.json, report.md (measured beside the paper's MNIST numbers) and pruning.svg.
 * Full: the data found (MNIST where the user has it, else Fashion-MNIST), 6 epochs.
 * `--quick`: the embedded subset, 1 epoch.
 */
import { resolve } from 'node:path';
import { useBackend } from '@forgetless/core';
import { writeFileAtomic } from '@forgetless/core/node';
import { embeddedDataDir, locateDataset } from '@forgetless/datasets/node';
import { pruningExperiment } from '@forgetless/benchmark/dist/workloads/pruning.js';
import { pruningSpec } from '../experiment/charts.js';
import { PRESETS } from '../experiment/presets.js';
import { renderSvg } from '../report/svg.js';
import { usage } from './errors.js';
import { toJson } from './json.js';
import type { RunCommandFlags } from './run-command.js';
import { defaultOutDir } from './run-command.js';
import { number, parseSeeds } from './options.js';

const ALLOWED = new Set(['preset', 'quick', 'out', 'backend', 'epochs', 'seeds', 'dataset', 'progress', 'quiet']);

export async function runPruningPreset(flags: RunCommandFlags, command: string): Promise<void> {
  const extra = Object.entries(flags).filter(([k, v]) => v !== undefined && !ALLOWED.has(k));
  if (extra.length) throw usage(`--preset pruning takes --quick, --dataset, --epochs, --seeds (one), --backend, --out; not --${extra.map(([k]) => k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)).join(', --')}`);
  const seeds = flags.seeds !== undefined ? parseSeeds(flags.seeds) : [0];
  if (seeds.length !== 1) throw usage('--preset pruning runs one seed: pass --seeds <n>');
  const epochs = flags.epochs !== undefined ? number('epochs', flags.epochs, 'int') : undefined;
  const outDir = resolve(flags.out ?? defaultOutDir());
  const backend = await useBackend((flags.backend ?? 'wasm') as 'wasm');
  let dataDir: string | undefined;
  if (!flags.quick) {
    const name = flags.dataset ?? ((await locateDataset('mnist')) ? 'mnist' : 'fashion-mnist');
    const where = name === 'embedded' ? { dir: embeddedDataDir() } : await locateDataset(name);
    if (!where) throw usage(`--dataset: '${name}' not found (a dataset name such as mnist, or an MNIST-format folder)`);
    dataDir = where.dir;
  }
  const preset = PRESETS.pruning;
  process.stderr.write(`forgetless pruning${flags.quick ? ' --quick' : ''}: ${preset.protocol} (${backend} backend)\n  output: ${outDir}\n`);
  const t0 = performance.now();
  const exp = await pruningExperiment({ quick: !!flags.quick, ...(dataDir ? { dataDir } : {}), ...(epochs ? { epochs } : {}), seed: seeds[0] as number });
  const seconds = (performance.now() - t0) / 1000;
  const files: string[] = [];
  const write = async (name: string, text: string) => {
    await writeFileAtomic(resolve(outDir, name), text);
    files.push(name);
  };
  await write('results.json', toJson({ format: 'forgetless-pruning-results', formatVersion: 1, preset: 'pruning', paper: preset.paper, command, backend, ...exp.table, seconds }));
  const report = [
    `# forgetless: ${preset.title}`,
    '',
    `Command: \`${command}\``,
    '',
    `Protocol of the paper (arXiv ${preset.paper}): ${preset.protocol}`,
    '',
    exp.markdown.trimEnd(),
    '',
    'Compare the ordering of the importances and the shape of the curves, not the digits: the paper measured MNIST.',
    '',
    '![accuracy against sparsity](pruning.svg)',
    '',
  ].join('\n');
  await write('report.md', report);
  await write('pruning.svg', await renderSvg(pruningSpec(exp.table.rows.map((r) => ({ method: r.method, scope: r.scope, sparsity: r.sparsity, accuracy: r.accuracy, paper: r.paper })))));
  const methods = [...new Set(exp.table.rows.map((r) => r.method))];
  const globals = [...new Set(exp.table.rows.filter((r) => r.scope === 'global').map((r) => r.sparsity))];
  const head = ['importance', ...globals.map((s) => `${Math.round(s * 100)}%`)];
  const lines = [head, ...methods.map((m) => [m, ...globals.map((s) => exp.table.rows.find((r) => r.method === m && r.scope === 'global' && r.sparsity === s)?.accuracy.toFixed(3) ?? '')])];
  const widths = head.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  process.stdout.write(`\nunpruned ${exp.table.unpruned.toFixed(3)}; accuracy after global pruning:\n${lines.map((l) => l.map((c, i) => (i ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ')).join('\n')}\n\n`);
  process.stdout.write(`results in ${outDir}: ${files.join(', ')}\n`);
}
