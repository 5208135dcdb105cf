/**
 * forgetless-bench: every workload on every available backend, the cross-backend comparisons and the
 * PyTorch peer, written as results.json, report.md and SVG charts in a folder named by date and
 * machine. Each figure is the median of at least five runs after a warm-up, with min and max
 * (`--quick` is the smoke test's mode: tiny sizes, fewer runs, figures not to quote).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchImportances } from './importances.js';
import { DEFAULT_TARGETS, type Target, TARGETS, activateTarget, isTarget, needsChild, probeTargets } from './backends.js';
import { chartSpecs, renderSvg } from './charts.js';
import { type TargetRun, runInChild, writeTargetRun } from './child.js';
import { finishTorchPeer } from './peer/torch.js';
import { machineLabel, markdownTable, outputFolder, writeJson } from './report.js';
import { glance } from './summary.js';
import type { FinishContext, Row, Workload } from './workload.js';
import { finishAgreement, runAgreement } from './workloads/agreement.js';
import { benchConvSpeed, finishConvSpeed } from './workloads/conv-speed.js';
import { benchEvalThroughput } from './workloads/eval-throughput.js';
import { benchEwc } from './workloads/ewc.js';
import { benchMobilenet, finishMobilenet } from './workloads/mobilenet.js';
import { benchPruning } from './workloads/pruning.js';
import { benchStructure } from './workloads/structure.js';
import { finishSweep } from './workloads/sweep.js';
import { benchScaling } from './workloads/scaling.js';
import { benchSigSi } from './workloads/sig-si.js';
import { benchTrainSteps } from './workloads/train-step.js';
import { benchWva } from './workloads/wva.js';

export const WORKLOADS: Record<string, Workload> = {
  steps: { title: 'Training step: forgetless gradients vs tfjs stock gradients', run: benchTrainSteps },
  importances: {
    title: 'Importances: fast exact per-example FIS and MAS vs the per-example loop',
    // The conv net's importances on the cpu backend (plain-JavaScript convolutions) would take most of
    // the run's budget; in quick mode the conv net (full width there) is left out everywhere.
    run: (o) => benchImportances({ ...o, models: o.quick || o.backend === 'cpu' ? ['mlp'] : ['mlp', 'conv'] }),
  },
  'sig-si': { title: 'SIG against a forward pass; SI tracking overhead', run: benchSigSi },
  ewc: { title: 'EWC penalty step against the plain step', run: benchEwc },
  wva: {
    title: 'WVA (SGD, Adam; gradients and steps modes) against the plain step',
    run: benchWva,
    quickSkip: { backends: ['cpu', 'wasm-nosimd'], reason: "the WVA workload's quick mode times the full MLP in 14 configurations (about 30 s on cpu, 5 s on wasm without SIMD)" },
  },
  pruning: { title: 'Pruning: ranking and masking ~1M and ~10M parameters', run: benchPruning },
  structure: {
    title: 'Structural pruning: channels removed through dependency groups (params, FLOPs, bytes, time, accuracy)',
    run: benchStructure,
    quickSkip: { backends: ['cpu', 'wasm-nosimd'], reason: "the structure workload's quick mode trains and times conv nets (minutes on cpu)" },
  },
  eval: { title: 'Evaluation throughput', run: benchEvalThroughput },
  scaling: { title: 'Scaling: step and importance time against batch size and width', run: benchScaling },
  agreement: { title: 'Agreement across backends: the same seeded computation', run: runAgreement, finish: finishAgreement },
  peer: { title: 'PyTorch peer on the same machine', finish: finishTorchPeer },
  mobilenet: {
    title: 'MobileNetV2 imported from tfjs-layers: training step, per-example Fisher, memory, against tfjs-layers and PyTorch',
    run: benchMobilenet,
    finish: finishMobilenet,
  },
  sweep: {
    title: 'Sweeps: the same 8 cells on 1 and 2 local worker processes and on 2 BullMQ workers (redis-server on loopback)',
    finish: finishSweep,
  },
  'conv-speed': {
    title: "Convolutions against the wasm backend's speed limit: ops, steps and per-example importances, before and after, beside its matMul and PyTorch",
    run: benchConvSpeed,
    finish: finishConvSpeed,
  },
};

const USAGE = `forgetless-bench [--backends ${TARGETS.join(',')}] [--only ${Object.keys(WORKLOADS).join(',')}] [--quick] [--out dir]`;

export interface BenchResults {
  machine: string;
  node: string;
  date: string;
  command: string;
  quick: boolean;
  seconds: number;
  /** 1-minute load averages: at the start, at the end, and the mean of those sampled before every workload. */
  load: { start: number; end: number; mean: number; max: number };
  backends: Array<{ target: string; status: 'ran' | 'skipped' | 'failed'; label?: string; reason?: string }>;
  /** Seconds per target and workload. */
  timeline: Array<{ target: string; workload: string; seconds: number; load: number }>;
  failures: string[];
  glance: Row[];
  workloads: Record<string, { title: string; rows: Row[]; notes: string[] }>;
  charts: string[];
}

/** Runs the per-backend workloads on the active backend; a failing workload is recorded, not fatal. */
async function runHere(target: string, label: string, only: readonly string[], quick: boolean, part?: string): Promise<TargetRun> {
  const run: TargetRun = { label, results: {} };
  for (const w of only) {
    const spec = WORKLOADS[w] as Workload;
    if (!spec.run) continue;
    if (quick && spec.quickSkip?.backends.includes(target)) {
      run.results[w] = { rows: [], notes: [`${target}: skipped in quick mode: ${spec.quickSkip.reason}.`], seconds: 0 };
      continue;
    }
    process.stderr.write(`[${target}] ${spec.title}${part ? ` (${part})` : ''}...\n`);
    const t0 = performance.now();
    try {
      const r = await spec.run({ backend: target, quick, ...(part ? { part } : {}) });
      run.results[w] = { ...r, seconds: (performance.now() - t0) / 1000 };
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0] ?? String(e);
      process.stderr.write(`[${target}] ${w} failed: ${msg}\n`);
      run.results[w] = { rows: [], notes: [], seconds: (performance.now() - t0) / 1000, error: msg };
    }
  }
  return run;
}

/** The child-process side of `runInChild`. */
async function child(target: string, only: string[], quick: boolean, out: string, part?: string): Promise<void> {
  if (!isTarget(target)) throw new Error(`--child: unknown target '${target}'`);
  const label = await activateTarget(target);
  await writeTargetRun(out, await runHere(target, label, only, quick, part));
}

export async function main(argv: string[]): Promise<{ dir: string; results: BenchResults } | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: {
      backends: { type: 'string', default: DEFAULT_TARGETS.join(',') },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: 'out' },
      child: { type: 'string' },
      'child-out': { type: 'string' },
      part: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const only = values.only ? values.only.split(',').filter(Boolean) : Object.keys(WORKLOADS);
  for (const w of only) if (!WORKLOADS[w]) throw new Error(`--only: unknown workload '${w}' (known: ${Object.keys(WORKLOADS).join(', ')})`);
  if (values.child) {
    if (!values['child-out']) throw new Error('--child needs --child-out');
    await child(values.child, only, values.quick, values['child-out'], values.part);
    return undefined;
  }
  const wanted = values.backends.split(',').filter(Boolean);
  for (const b of wanted) if (!isTarget(b)) throw new Error(`--backends: unknown backend '${b}' (known: ${TARGETS.join(', ')})`);

  const t0 = performance.now();
  const loads: number[] = [];
  const load = () => {
    const l = loadavg()[0] as number;
    loads.push(l);
    return l;
  };
  const loadStart = load();
  const dir = await outputFolder(values.out);
  const scratch = await mkdtemp(join(tmpdir(), 'forgetless-bench-'));
  const backends: BenchResults['backends'] = [];
  const timeline: BenchResults['timeline'] = [];
  const failures: string[] = [];
  const merged: Record<string, { rows: Row[]; notes: string[] }> = {};
  const artifacts: FinishContext['artifacts'] = {};
  const ran: string[] = [];
  try {
    for (const probe of await probeTargets(wanted as Target[])) {
      const target = probe.target;
      if (!probe.available) {
        backends.push({ target, status: 'skipped', reason: probe.reason ?? 'unavailable' });
        process.stderr.write(`[${target}] skipped: ${probe.reason}\n`);
        continue;
      }
      let run: TargetRun;
      const l = load();
      try {
        run = needsChild(target) ? await runInChild(target, only, values.quick, scratch) : await runHere(target, await activateTarget(target), only, values.quick);
      } catch (e) {
        const reason = (e as Error).message.split('\n')[0] ?? String(e);
        backends.push({ target, status: 'failed', reason });
        failures.push(`${target}: ${reason}`);
        continue;
      }
      backends.push({ target, status: 'ran', label: run.label });
      ran.push(target);
      for (const [w, r] of Object.entries(run.results)) {
        timeline.push({ target, workload: w, seconds: r.seconds, load: l });
        const acc = (merged[w] ??= { rows: [], notes: [] });
        acc.rows.push(...r.rows);
        for (const n of r.notes) if (!acc.notes.includes(n)) acc.notes.push(n);
        if (r.error) {
          failures.push(`${target} ${w}: ${r.error}`);
          acc.notes.push(`${target}: failed: ${r.error}`);
        }
        if (r.artifacts) (artifacts[w] ??= {})[target] = r.artifacts;
      }
    }
    for (const w of only) {
      const spec = WORKLOADS[w] as Workload;
      if (!spec.finish) continue;
      process.stderr.write(`[all] ${spec.title}...\n`);
      const l = load();
      const s0 = performance.now();
      try {
        const r = await spec.finish({ quick: values.quick, targets: ran, results: merged, artifacts });
        const acc = (merged[w] ??= { rows: [], notes: [] });
        acc.rows.push(...r.rows);
        acc.notes.push(...r.notes);
      } catch (e) {
        const msg = (e as Error).message.split('\n')[0] ?? String(e);
        failures.push(`${w}: ${msg}`);
        (merged[w] ??= { rows: [], notes: [] }).notes.push(`failed: ${msg}`);
      }
      timeline.push({ target: 'all', workload: w, seconds: (performance.now() - s0) / 1000, load: l });
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }

  const charts: string[] = [];
  for (const [file, spec] of Object.entries(chartSpecs(merged))) {
    await writeFile(join(dir, file), await renderSvg(spec));
    charts.push(file);
  }
  const loadEnd = load();
  const results: BenchResults = {
    machine: machineLabel(),
    node: process.version,
    date: new Date().toISOString(),
    command: `forgetless-bench ${argv.join(' ')}`.trim(),
    quick: values.quick,
    seconds: (performance.now() - t0) / 1000,
    load: { start: loadStart, end: loadEnd, mean: loads.reduce((a, b) => a + b, 0) / loads.length, max: Math.max(...loads) },
    backends,
    timeline,
    failures,
    glance: glance(merged, ran),
    workloads: Object.fromEntries(only.filter((w) => merged[w]).map((w) => [w, { title: (WORKLOADS[w] as Workload).title, ...(merged[w] as { rows: Row[]; notes: string[] }) }])),
    charts,
  };
  await writeJson(join(dir, 'results.json'), results);
  const md = reportMarkdown(results);
  await writeFile(join(dir, 'report.md'), md);
  console.log(md);
  console.error(`\nwritten to ${dir} in ${results.seconds.toFixed(0)} s`);
  return { dir, results };
}

const CHART_AFTER: Record<string, string[]> = { steps: ['steps.svg'], eval: ['eval-throughput.svg'], scaling: ['scaling-batch.svg', 'scaling-width.svg'], peer: ['peer.svg'] };

export function reportMarkdown(r: BenchResults): string {
  const f1 = (x: number) => x.toFixed(1);
  const md = [
    '# forgetless benchmark',
    '',
    `\`${r.command}\` on ${r.machine}, Node ${r.node}, ${r.date}${r.quick ? ' — **quick (smoke) mode: tiny sizes, not figures to quote**' : ''}.`,
    `Took ${(r.seconds / 60).toFixed(1)} min. Load average (1 min): ${f1(r.load.start)} at the start, ${f1(r.load.end)} at the end, mean ${f1(r.load.mean)} and max ${f1(r.load.max)} over the workloads' starts.`,
    '',
    'Each time: the median of at least five runs after a warm-up (quick mode: fewer), with min and max, in ms unless named otherwise.',
    '',
    '| backend | status |',
    '| --- | --- |',
    ...r.backends.map((b) => `| ${b.target} | ${b.status === 'ran' ? `ran: ${b.label}` : `${b.status}: ${(b.reason ?? '').replace(/\|/g, '\\|')}`} |`),
    '',
  ];
  if (r.failures.length) md.push('**Failures:**', '', ...r.failures.map((f) => `- ${f}`), '');
  if (r.glance.length) md.push('## Ratios at a glance', '', markdownTable(r.glance));
  for (const [w, x] of Object.entries(r.workloads)) {
    md.push(`## ${x.title}`, '', markdownTable(x.rows));
    if (x.notes.length) md.push(...x.notes.map((n) => `- ${n}`), '');
    for (const c of CHART_AFTER[w] ?? []) if (r.charts.includes(c)) md.push(`![${c}](${c})`, '');
  }
  md.push(
    '## Time spent',
    '',
    markdownTable(r.timeline.map((t) => ({ backend: t.target, workload: t.workload, seconds: Number(t.seconds.toFixed(1)), 'load at start': Number(t.load.toFixed(2)) }))),
  );
  return md.join('\n');
}
