/**
 * Chart specifications (Vega-Lite v6) for an experiment's results: average accuracy after each task
 * per method, accuracy-matrix heatmaps, λ sweeps, paper 3's correlation surfaces and paper 2's
 * pruning curves. Plain JSON: the CLI renders them to SVG (src/report/svg.ts), the browser page can
 * embed the same specs live (vega-embed).
 *
 * Browser-safe: no node:* imports.
 */
import type { LambdaSummary, VariantSummary } from './summary.js';

/** A Vega-Lite top-level spec (kept loose: the specs below are checked by compiling them in tests). */
export type ChartSpec = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 420;

const round = (x: number, d = 4) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);

/**
 * Average accuracy after each task, one line per variant (at its best λ), mean ± std over seeds. A
 * variant whose runs diverged has no points and `(diverged)` in its legend entry.
 */
export function averageAccuracySpec(summaries: readonly VariantSummary[], title = 'Average accuracy on the tasks seen so far'): ChartSpec {
  const values = summaries.flatMap((s) =>
    s.best.curve.map((c, i) => ({
      method: `${s.lambdas.length > 1 || s.method !== 'plain' ? `${s.variant}${s.method === 'plain' ? '' : ` (λ ${s.best.lambda})`}` : s.variant}${s.best.diverged ? ' (diverged)' : ''}`,
      task: i + 1,
      mean: round(c.mean),
      lo: round(Number.isFinite(c.std) ? c.mean - c.std : c.mean),
      hi: round(Number.isFinite(c.std) ? c.mean + c.std : c.mean),
    })),
  );
  const tasks = Math.max(1, ...summaries.map((s) => s.best.curve.length));
  const x = { field: 'task', type: 'quantitative', title: 'tasks trained', scale: { domain: [1, tasks] }, axis: { tickMinStep: 1, format: 'd' } };
  return {
    $schema: SCHEMA,
    title,
    width: WIDTH,
    height: 280,
    data: { values },
    encoding: { x },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: { y: { field: 'mean', type: 'quantitative', title: 'average accuracy', scale: { zero: false } }, color: { field: 'method', type: 'nominal', title: 'method' } },
      },
      {
        mark: { type: 'errorband', opacity: 0.2 },
        encoding: { y: { field: 'lo', type: 'quantitative', title: 'average accuracy' }, y2: { field: 'hi' }, color: { field: 'method', type: 'nominal' } },
      },
    ],
  };
}

/** Heatmap of R[i][j] (mean over seeds): rows = after task i, columns = accuracy on task j. */
export function matrixSpec(s: LambdaSummary, title?: string): ChartSpec {
  const values = s.matrix.flatMap((row, i) =>
    row.map((a, j) => ({ after: `after ${i + 1}`, on: `task ${j + 1}`, i, j, accuracy: round(a, 3) })).filter((v) => v.accuracy !== null),
  );
  const size = Math.max(160, Math.min(420, 44 * Math.max(1, s.matrix.length)));
  return {
    $schema: SCHEMA,
    title:
      title ??
      (s.diverged
        ? `${s.variant}${s.method === 'plain' ? '' : `, λ ${s.lambda}`}: ${s.divergence?.message ?? 'diverged'}, no accuracy`
        : `${s.variant}${s.method === 'plain' ? '' : `, λ ${s.lambda}`}: accuracy on task j after training task i`),
    width: size,
    height: size,
    data: { values },
    encoding: {
      x: { field: 'on', type: 'ordinal', title: 'accuracy on', sort: { field: 'j' } },
      y: { field: 'after', type: 'ordinal', title: 'after training', sort: { field: 'i' } },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1], scheme: 'viridis' }, title: 'accuracy' } } },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'accuracy', type: 'quantitative', format: '.2f' },
          color: { condition: { test: 'datum.accuracy > 0.6', value: 'black' }, value: 'white' },
        },
      },
    ],
  };
}

/** Final average accuracy against λ (log scale), mean ± std over seeds. */
export function lambdaSpec(s: VariantSummary): ChartSpec {
  const values = s.lambdas.map((l) => ({
    lambda: l.lambda,
    mean: round(l.final.mean),
    lo: round(Number.isFinite(l.final.std) ? l.final.mean - l.final.std : l.final.mean),
    hi: round(Number.isFinite(l.final.std) ? l.final.mean + l.final.std : l.final.mean),
  }));
  const x = { field: 'lambda', type: 'quantitative', title: 'λ', scale: { type: values.every((v) => v.lambda > 0) ? 'log' : 'symlog' } };
  return {
    $schema: SCHEMA,
    title: `${s.variant}: average accuracy after the last task against λ (best ${s.best.lambda})`,
    width: WIDTH,
    height: 240,
    data: { values },
    encoding: { x },
    layer: [
      { mark: 'errorbar', encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      { mark: { type: 'line', point: true }, encoding: { y: { field: 'mean', type: 'quantitative', title: 'final average accuracy', scale: { zero: false } } } },
    ],
  };
}

export interface SurfaceLike {
  pair: string;
  layers: string[];
  tasks: string[];
  values: number[][];
}

/** Paper 3's surfaces: one heatmap per importance pair, layer × task, Pearson r in [−1, 1]. */
export function correlationSpec(surfaces: readonly SurfaceLike[], method = 'Pearson'): ChartSpec {
  const values = surfaces.flatMap((s) =>
    s.layers.flatMap((layer, l) => s.tasks.map((_, t) => ({ pair: s.pair, layer, l, task: t + 1, r: round(s.values[l]?.[t] ?? Number.NaN, 3) }))),
  );
  const tasks = Math.max(1, ...surfaces.map((s) => s.tasks.length));
  return {
    $schema: SCHEMA,
    title: `${method} correlation of importances per layer (rows) after each task (columns)`,
    data: { values },
    facet: { field: 'pair', type: 'nominal', title: null },
    columns: tasks > 6 ? 2 : 3,
    spec: {
      width: Math.max(180, 36 * tasks), // room for a two-decimal label in every cell
      height: 120,
      encoding: {
        x: { field: 'task', type: 'ordinal', title: 'after task' },
        y: { field: 'layer', type: 'ordinal', title: null, sort: { field: 'l' } },
      },
      layer: [
        { mark: 'rect', encoding: { color: { field: 'r', type: 'quantitative', scale: { domain: [-1, 1], scheme: 'redblue', reverse: true }, title: 'r' } } },
        { mark: { type: 'text', fontSize: 9 }, encoding: { text: { field: 'r', type: 'quantitative', format: '.2f' } } },
      ],
    },
  };
}

export interface PruningPoint {
  method: string;
  scope: 'global' | 'layer';
  sparsity: number;
  accuracy: number;
  /** The published accuracy, when there is one. */
  paper?: number;
}

/** Accuracy against sparsity per importance: measured (solid) and paper 2 (dashed), global and per layer. */
export function pruningSpec(points: readonly PruningPoint[]): ChartSpec {
  const values = points.flatMap((p) => [
    { method: p.method, scope: p.scope === 'global' ? 'global (biases included)' : 'per layer', sparsity: p.sparsity, accuracy: round(p.accuracy, 3), source: 'measured' },
    ...(p.paper !== undefined
      ? [{ method: p.method, scope: p.scope === 'global' ? 'global (biases included)' : 'per layer', sparsity: p.sparsity, accuracy: p.paper, source: 'paper 2 (MNIST)' }]
      : []),
  ]);
  return {
    $schema: SCHEMA,
    title: 'Test accuracy after pruning the least important weights',
    data: { values },
    facet: { column: { field: 'scope', type: 'nominal', title: null } },
    spec: {
      width: 300,
      height: 240,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'sparsity', type: 'quantitative', title: 'fraction of weights zeroed', scale: { zero: false }, axis: { format: '.0%' } },
        y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', scale: { domain: [0, 1] } },
        color: { field: 'method', type: 'nominal', title: 'importance' },
        strokeDash: {
          field: 'source',
          type: 'nominal',
          title: null,
          legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 300, encode: { symbols: { update: { stroke: { value: '#444' } } } } },
        },
      },
    },
  };
}

/** One bar of the scenarios chart: a variant's final average accuracy in one scenario (mean ± std over seeds). */
export interface ScenarioPoint {
  variant: string;
  scenario: string;
  mean: number;
  std: number;
}

/** Grouped bars: the final average accuracy of every method, one group per method, one bar per scenario. */
export function scenariosSpec(points: readonly ScenarioPoint[], title = 'Average accuracy after the last task, per scenario'): ChartSpec {
  const values = points.map((p) => ({
    method: p.variant,
    scenario: p.scenario,
    mean: round(p.mean),
    lo: round(Number.isFinite(p.std) ? p.mean - p.std : p.mean),
    hi: round(Number.isFinite(p.std) ? p.mean + p.std : p.mean),
  }));
  const methods = [...new Set(points.map((p) => p.variant))];
  const x = { field: 'method', type: 'nominal', sort: methods, title: null, axis: { labelAngle: -40 } };
  const offset = { field: 'scenario', type: 'nominal', sort: ['task', 'domain', 'class'] };
  return {
    $schema: SCHEMA,
    title,
    width: 560,
    height: 280,
    data: { values },
    encoding: { x, xOffset: offset },
    layer: [
      {
        mark: 'bar',
        encoding: {
          y: { field: 'mean', type: 'quantitative', title: 'average accuracy', scale: { domain: [0, 1] } },
          color: { field: 'scenario', type: 'nominal', sort: ['task', 'domain', 'class'], title: 'scenario' },
        },
      },
      { mark: { type: 'rule' }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
    ],
  };
}
