#!/usr/bin/env node
/**
 * forgetless-bench: workloads on every available backend, each figure the median of several runs
 * after a warm-up with min and max, written as results.json and report.md in a folder named by date
 * and machine.
 *   forgetless-bench [--backends cpu,wasm] [--only steps] [--quick] [--out dir]
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BackendName, probeBackends, useBackend } from '@forgetless/core';
import { machineLabel, markdownTable, outputFolder, writeJson } from './report.js';
import { benchImportances } from './importances.js';
import { benchEwc } from './workloads/ewc.js';
import { benchTrainSteps } from './workloads/train-step.js';

type Workload = (opts: { backend: string; quick: boolean }) => Promise<{ rows: Array<Record<string, string | number>>; notes: string[] }>;

const WORKLOADS: Record<string, { title: string; run: Workload }> = {
  steps: { title: 'Training step: forgetless gradients vs tfjs stock gradients', run: benchTrainSteps },
  ewc: { title: 'EWC penalty step against the plain step', run: benchEwc },
  importances: { title: 'Importances: fast exact per-example FIS/MAS vs the per-example loop, and SIG', run: benchImportances },
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backends: { type: 'string', default: 'cpu,wasm,tensorflow,tensorflow-gpu' },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'out' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(`forgetless-bench [--backends ${Object.keys(WORKLOADS).length ? 'cpu,wasm' : ''}] [--only ${Object.keys(WORKLOADS).join(',')}] [--quick] [--out dir]`);
    return;
  }
  const only = values.only ? values.only.split(',') : Object.keys(WORKLOADS);
  for (const w of only) if (!WORKLOADS[w]) throw new Error(`--only: unknown workload '${w}' (known: ${Object.keys(WORKLOADS).join(', ')})`);
  const wanted = values.backends.split(',') as BackendName[];
  const available = await probeBackends();
  const dir = await outputFolder(values.out);
  const results: Record<string, { rows: Array<Record<string, string | number>>; notes: string[] }> = {};
  const skipped: string[] = [];
  for (const b of wanted) {
    const probe = available.find((p) => p.name === b);
    if (!probe) throw new Error(`--backends: unknown backend '${b}'`);
    if (!probe.available) {
      skipped.push(`${b}: skipped: ${probe.reason}`);
      continue;
    }
    await useBackend(b);
    for (const w of only) {
      const spec = WORKLOADS[w] as { title: string; run: Workload };
      process.stderr.write(`[${b}] ${spec.title}...\n`);
      const r = await spec.run({ backend: b, quick: values.quick });
      const acc = (results[w] ??= { rows: [], notes: [] });
      acc.rows.push(...r.rows);
      acc.notes.push(...r.notes);
    }
  }
  const md = [`# forgetless benchmark`, '', `Machine: ${machineLabel()}; Node ${process.version}; ${new Date().toISOString()}${values.quick ? '; quick (smoke) mode' : ''}.`, ''];
  md.push('Each figure: median of several runs after a warm-up, with min and max (ms).', '');
  if (skipped.length) md.push('Backends skipped:', '', ...skipped.map((s) => `- ${s}`), '');
  for (const w of only) {
    const r = results[w];
    if (!r) continue;
    md.push(`## ${(WORKLOADS[w] as { title: string }).title}`, '', markdownTable(r.rows));
    if (r.notes.length) md.push(...r.notes.map((n) => `- ${n}`), '');
  }
  await writeJson(join(dir, 'results.json'), { machine: machineLabel(), node: process.version, quick: values.quick, skipped, results });
  await writeFile(join(dir, 'report.md'), md.join('\n'));
  console.log(md.join('\n'));
  console.error(`\nwritten to ${dir}`);
}

main().catch((e: unknown) => {
  console.error(`forgetless-bench: ${(e as Error).message}`);
  if (process.env.FORGETLESS_DEBUG) console.error(e);
  process.exit(1);
});
