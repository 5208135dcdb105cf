/**
 * Pruning workloads.
 *
 * `benchPruning`: ranking and masking of ~1M and ~10M parameter maps of random importances
 * (`pruningMasks`: exact-k radix select + mask tensors; per layer; whole units; `applyMasks` on
 * variables), beside a plain `Float32Array.prototype.sort` of the same scores as a yardstick.
 *
 * `pruningExperiment`: paper 2's pruning experiment (arXiv 2109.10021; the protocol is
 * `paper2PruningExperiment` of @forgetless/pruning) on Fashion-MNIST: one task,
 * the 784-300-150-10 leaky-ReLU MLP, Adam lr 1e-3, batch 100; importances |w|, SIG, FIS, MAS on the
 * first 10 000 training samples and SI tracked during training; the least important weights (biases
 * included) zeroed globally at 70/80/90/95/97 % and per layer at 80/90 %; test accuracy beside
 * paper 2's MNIST figures, as a markdown table and an SVG chart.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams, mlp } from '@forgetless/core';
import { loadDataset, loadEmbedded } from '@forgetless/datasets/node';
import { taskSequence } from '@forgetless/datasets';
import type { ImportanceMethod } from '@forgetless/importances';
import { PAPER2_GLOBAL_SPARSITIES, PAPER2_LABELS, PAPER2_LAYER_SPARSITIES, PAPER2_METHODS, PAPER2_PRUNING as PAPER2, paper2Accuracy } from '@forgetless/experiments';
import { type Paper2PruningRow, type SizeReport, applyMasks, encodeSparse, paper2PruningExperiment, pruningMasks, sizeReport } from '@forgetless/pruning';
import { timeIt } from '../harness.js';

type Row = Record<string, string | number>;

// ---------------------------------------------------------------------------------------------
// benchmark: ranking and masking

/** Shapes of a ~1M and a ~10M parameter model (an MLP; a conv stack with a dense head). */
const MODELS: Record<string, number[][]> = {
  '1.0M (MLP 784-1024-192-10)': [[784, 1024], [1024], [1024, 192], [192], [192, 10], [10]],
  '10.0M (4 conv 3×3×512×512 + dense 4096×150)': [[3, 3, 512, 512], [512], [3, 3, 512, 512], [512], [3, 3, 512, 512], [512], [3, 3, 512, 512], [512], [4096, 150], [150]],
};

function randomMap(shapes: number[][], seed: number): ParamMap {
  const out: ParamMap = {};
  shapes.forEach((s, i) => {
    out[`layer_${Math.floor(i / 2)}/${s.length > 1 ? 'kernel' : 'bias'}`] = tf.randomUniform(s, 0, 1, 'float32', seed + i);
  });
  return out;
}

export async function benchPruning(opts: { backend: string; quick: boolean }): Promise<{ rows: Row[]; notes: string[] }> {
  const rows: Row[] = [];
  const runs = opts.quick ? 3 : 7;
  for (const [label, shapes] of Object.entries(MODELS)) {
    if (opts.quick && label.startsWith('10')) continue;
    const imp = randomMap(shapes, 1);
    const params = Object.values(imp).reduce((n, t) => n + t.size, 0);
    const vars: ParamMap<tf.Variable> = {};
    for (const [n, t] of Object.entries(imp)) vars[n] = tf.variable(t, true, `bench/${n}`);
    const host = Object.values(imp).map((t) => t.dataSync() as Float32Array);
    const masks = await pruningMasks(imp, { sparsity: 0.9, biases: true });
    const work: [string, () => Promise<unknown> | unknown][] = [
      ['masks: global 90 % (biases included)', async () => disposeParams(await pruningMasks(imp, { sparsity: 0.9, biases: true }))],
      ['masks: per layer 90 %', async () => disposeParams(await pruningMasks(imp, { sparsity: 0.9, scope: 'layer', biases: true }))],
      ['masks: whole units, global 50 % (L1)', async () => disposeParams(await pruningMasks(imp, { sparsity: 0.5, structure: 'units' }))],
      ['applyMasks (θ ← m ⊙ θ)', () => applyMasks(vars, masks)],
      ['yardstick: Float32Array sort of the scores', () => host.map((h) => h.slice().sort())],
    ];
    for (const [workload, fn] of work) {
      const t = await timeIt(fn, { runs, warmup: 1 });
      process.stderr.write(`  ${label} ${workload}: ${t.median.toFixed(1)} ms\n`);
      rows.push({ workload, model: label, backend: opts.backend, params, median_ms: t.median, min_ms: t.min, max_ms: t.max });
    }
    disposeParams(masks);
    disposeParams(vars);
    disposeParams(imp);
  }
  return {
    rows,
    notes: [
      'masks: read the importances from the backend, exact-k selection (a 16-bit radix select in three passes, O(N), no sort), float32 mask tensors.',
      'The sort row sorts each parameter separately with no tie-break: a lower bound for a sort-based ranking, not a full one.',
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// paper 2's pruning experiment

const SPARSITIES = PAPER2_GLOBAL_SPARSITIES;
const LAYER_SPARSITIES = PAPER2_LAYER_SPARSITIES;
const METHODS: { key: ImportanceMethod; label: string }[] = PAPER2_METHODS.map((key) => ({ key, label: PAPER2_LABELS[key] }));

/** Paper 2's MNIST accuracies: global at 70/80/90/95/97 %, per layer at 80/90 % (@forgetless/pruning's). */
export const PAPER2_PRUNING: Readonly<Record<string, { readonly global: readonly number[]; readonly layer: readonly number[] }>> = PAPER2;

export interface PruningResultRow {
  method: string;
  scope: 'global' | 'layer';
  sparsity: number;
  accuracy: number;
  paper: number;
  /** Sizes of the pruned weights (|w| global rows): float32 dense, gzip, and the sparse export. */
  sizes?: SizeReport;
}

/** The model's parameters as float32 bytes (the dense shard) and their sparse export. */
async function weightBytes(params: ParamMap): Promise<{ dense: Uint8Array; sparse: Uint8Array }> {
  const parts = await Promise.all(
    Object.entries(params).map(async ([name, t]) => ({
      name,
      shape: [...t.shape],
      dtype: 'float32' as const,
      bytes: new Uint8Array(((await t.data()) as Float32Array).slice().buffer),
    })),
  );
  const dense = new Uint8Array(parts.reduce((n, p) => n + p.bytes.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    dense.set(p.bytes, off);
    off += p.bytes.byteLength;
  }
  return { dense, sparse: encodeSparse(parts).data };
}

export interface PruningExperimentOptions {
  quick: boolean;
  /** A folder of MNIST-format files; default: whatever `loadDataset()` finds (Debian's, else the embedded subset). */
  dataDir?: string;
  /** Training epochs (default 6, paper 2's; quick: 1). */
  epochs?: number;
  seed?: number;
}

export interface PruningExperiment {
  table: { rows: PruningResultRow[]; unpruned: number; data: string; epochs: number; trainSize: number; calibration: number; seconds: number };
  markdown: string;
  svg: string;
}

const f3 = (x: number) => x.toFixed(3).replace(/^0/, '');

export async function pruningExperiment(opts: PruningExperimentOptions): Promise<PruningExperiment> {
  const t0 = performance.now();
  const dataset = opts.quick ? await loadEmbedded() : opts.dataDir ? await loadDataset(opts.dataDir) : await loadDataset();
  const embedded = (dataset.source ?? '').startsWith('embedded');
  const [task] = taskSequence('permuted', { dataset, numTasks: 1, seed: opts.seed ?? 0 });
  if (!task) throw new Error('pruningExperiment: no task');
  const epochs = opts.epochs ?? (opts.quick ? 1 : 6);
  const model = mlp([784, 300, 150, 10], { activation: { name: 'leakyRelu', alpha: 0.01 }, seed: opts.seed ?? 0 });
  const optimizer = tf.train.adam(1e-3);
  const calibration = Math.min(10000, task.train.size);
  const sizes = new Map<Paper2PruningRow, SizeReport>();
  let result: Awaited<ReturnType<typeof paper2PruningExperiment>>;
  try {
    result = await paper2PruningExperiment(model, {
      task,
      train: { optimizer, epochs, batchSize: 100, learningRate: 1e-3, seed: opts.seed ?? 0 },
      importanceOptions: { limit: calibration, batchSize: 100 },
      methods: PAPER2_METHODS,
      globalSparsities: PAPER2_GLOBAL_SPARSITIES,
      layerSparsities: PAPER2_LAYER_SPARSITIES,
      labels: PAPER2_LABELS,
      published: paper2Accuracy,
      onPruned: async (row, m) => {
        if (row.importance !== 'magnitude' || row.scope !== 'global') return;
        const b = await weightBytes(m.params);
        sizes.set(row, await sizeReport(b.dense, b.sparse));
      },
      onProgress: (e) => {
        if (e.kind === 'train' && e.event.kind === 'task') process.stderr.write(`  trained ${epochs} epoch(s) on ${task.train.size} examples\n`);
        if (e.kind === 'method') process.stderr.write(`  ${e.method}: ${e.rows.map((r) => f3(r.accuracy)).join(' ')}\n`);
      },
    });
    process.stderr.write(`  unpruned test accuracy ${f3(result.unpruned)}\n`);
  } finally {
    optimizer.dispose();
    model.dispose();
  }
  const { unpruned } = result;
  const rows: PruningResultRow[] = result.rows.map((r) => {
    const size = sizes.get(r);
    return { method: r.method, scope: r.scope, sparsity: r.sparsity, accuracy: r.accuracy, paper: r.paper ?? Number.NaN, ...(size ? { sizes: size } : {}) };
  });
  const seconds = (performance.now() - t0) / 1000;
  const data = embedded
    ? `the embedded Fashion-MNIST subset (${task.train.size} train / ${task.test.size} test: NOT the full set)`
    : `Fashion-MNIST from ${dataset.source ?? 'disk'} (${task.train.size} train, ${task.validation?.size ?? 0} held out, ${task.test.size} test)`;
  const table = { rows, unpruned, data, epochs, trainSize: task.train.size, calibration, seconds };
  return { table, markdown: experimentMarkdown(table), svg: experimentSvg(table) };
}

function experimentMarkdown(t: PruningExperiment['table']): string {
  const head = ['importance', ...SPARSITIES.map((s) => `global ${Math.round(s * 100)} %`), ...LAYER_SPARSITIES.map((s) => `per layer ${Math.round(s * 100)} %`)];
  const lines = [
    `Data: ${t.data}. MLP 784-300-150-10, leaky ReLU 0.01, Adam lr 1e-3, batch 100, ${t.epochs} epoch(s); unpruned test accuracy ${f3(t.unpruned)}.`,
    `Importances on the first ${t.calibration} training samples (SI: tracked during training); biases ranked with the weights. Cells: measured test accuracy (paper 2, MNIST). ${t.seconds.toFixed(0)} s.`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i ? '---:' : '---')).join(' | ')} |`,
  ];
  for (const { label } of METHODS) {
    const cells = (scope: 'global' | 'layer', list: readonly number[]) =>
      list.map((s) => {
        const r = t.rows.find((x) => x.method === label && x.scope === scope && x.sparsity === s);
        return r ? `${f3(r.accuracy)} (${f3(r.paper)})` : '';
      });
    lines.push(`| ${label.replace('|', '\\|').replace(/\|$/, '\\|')} | ${[...cells('global', SPARSITIES), ...cells('layer', LAYER_SPARSITIES)].join(' | ')} |`);
  }
  const sized = t.rows.filter((r) => r.sizes);
  if (sized.length) {
    const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
    lines.push(
      '',
      'Sizes of the |w|-pruned weights (float32 shard as tfjs saves it; gzip at the default level; the sparse export, `sparseLayersModel`):',
      '',
      '| global sparsity | shard | shard gzip | sparse export | sparse gzip |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...sized.map((r) => {
        const s = r.sizes as SizeReport;
        return `| ${Math.round(r.sparsity * 100)} % | ${kb(s.dense.bytes)} | ${kb(s.dense.gzipBytes)} | ${kb(s.sparse.bytes)} | ${kb(s.sparse.gzipBytes)} |`;
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

const COLORS: Record<string, string> = { '|w|': '#4c72b0', SIG: '#c44e52', FIS: '#55a868', MAS: '#8172b2', SI: '#dd8452' };

/** Accuracy against sparsity: global (left) and per layer (right); measured solid, paper 2 (MNIST) dashed. */
function experimentSvg(t: PruningExperiment['table']): string {
  const W = 760;
  const H = 380;
  const top = 48;
  const bottom = H - 48;
  const panels = [
    { scope: 'global' as const, xs: [...SPARSITIES], x0: 60, x1: 440, title: 'global (biases included)' },
    { scope: 'layer' as const, xs: [...LAYER_SPARSITIES], x0: 500, x1: 640, title: 'per layer' },
  ];
  const y = (a: number) => bottom - a * (bottom - top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">Pruning by importance: test accuracy vs sparsity (solid: measured, Fashion-MNIST; dashed: paper 2, MNIST)</text>`,
  ];
  for (const p of panels) {
    const span = p.xs[p.xs.length - 1]! - p.xs[0]!;
    const x = (s: number) => (span === 0 ? (p.x0 + p.x1) / 2 : p.x0 + ((s - p.xs[0]!) / span) * (p.x1 - p.x0));
    out.push(`<text x="${(p.x0 + p.x1) / 2}" y="${top - 10}" text-anchor="middle">${p.title}</text>`);
    for (let a = 0; a <= 1.0001; a += 0.2) {
      out.push(`<line x1="${p.x0}" x2="${p.x1}" y1="${y(a)}" y2="${y(a)}" stroke="#ddd"/>`, `<text x="${p.x0 - 6}" y="${y(a) + 4}" text-anchor="end">${a.toFixed(1)}</text>`);
    }
    for (const s of p.xs) out.push(`<text x="${x(s)}" y="${bottom + 16}" text-anchor="middle">${Math.round(s * 100)} %</text>`);
    out.push(`<text x="${(p.x0 + p.x1) / 2}" y="${bottom + 34}" text-anchor="middle">sparsity</text>`);
    for (const { label } of METHODS) {
      const rows = t.rows.filter((r) => r.method === label && r.scope === p.scope).sort((a, b) => a.sparsity - b.sparsity);
      const c = COLORS[label] ?? '#000';
      const line = (key: 'accuracy' | 'paper', dash: string) =>
        `<polyline fill="none" stroke="${c}" stroke-width="2"${dash} points="${rows.map((r) => `${x(r.sparsity).toFixed(1)},${y(r[key]).toFixed(1)}`).join(' ')}"/>`;
      out.push(line('accuracy', ''), line('paper', ' stroke-dasharray="5,4" stroke-opacity="0.6"'));
      for (const r of rows) {
        out.push(
          `<circle cx="${x(r.sparsity).toFixed(1)}" cy="${y(r.accuracy).toFixed(1)}" r="3.5" fill="${c}"/>`,
          `<circle cx="${x(r.sparsity).toFixed(1)}" cy="${y(r.paper).toFixed(1)}" r="3" fill="white" stroke="${c}"/>`,
        );
      }
    }
  }
  out.push(`<text x="14" y="${(top + bottom) / 2}" transform="rotate(-90 14 ${(top + bottom) / 2})" text-anchor="middle">test accuracy</text>`);
  METHODS.forEach(({ label }, i) => {
    const ly = top + 10 + i * 20;
    out.push(`<line x1="670" x2="694" y1="${ly}" y2="${ly}" stroke="${COLORS[label]}" stroke-width="2"/>`, `<text x="700" y="${ly + 4}">${label}</text>`);
  });
  out.push(`<text x="670" y="${top + 120}" font-size="10">unpruned: ${f3(t.unpruned)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
