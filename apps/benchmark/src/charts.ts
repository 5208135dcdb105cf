/**
 * SVG charts of a benchmark run: Vega-Lite v6 specs rendered headless in Node (vega-lite compiles
 * to Vega; a Vega View with no renderer lays the scene out and `toSVG()` serialises it, no canvas;
 * text widths are estimated). The same library and versions as the demo app's charts
 * (apps/demo/src/report/svg.ts), so the project draws every chart one way; declarative specs keep
 * each chart a few lines, with log scales, facets and legends for free.
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { Row } from './workload.js';

export type ChartSpec = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export async function renderSvg(spec: ChartSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec as unknown as Parameters<typeof compile>[0]).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Step time per backend, forgetless against tfjs stock gradients, one panel per model (min–max whiskers). */
export function stepsSpec(rows: readonly Row[]): ChartSpec | undefined {
  const values = rows.map((r) => ({
    model: `${r.model} (batch ${r.batch})`,
    backend: r.backend,
    gradients: r.gradients,
    median: num(r.median_ms),
    min: num(r.min_ms),
    max: num(r.max_ms),
  }));
  if (values.length === 0) return undefined;
  const x = { field: 'backend', type: 'nominal', title: null, axis: { labelAngle: 0 } };
  return {
    $schema: SCHEMA,
    title: 'Training step: forgetless gradients vs tfjs stock (median, min–max)',
    data: { values },
    facet: { column: { field: 'model', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 260,
      height: 220,
      encoding: { x, xOffset: { field: 'gradients' }, color: { field: 'gradients', type: 'nominal', title: 'gradients' } },
      layer: [
        { mark: 'bar', encoding: { y: { field: 'median', type: 'quantitative', title: 'ms per step' } } },
        { mark: { type: 'rule', color: 'black' }, encoding: { y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
      ],
    },
  };
}

/** Scaling curves on log–log axes: time against batch size or parameter count, per backend and quantity. */
export function scalingSpec(rows: readonly Row[], sweep: 'batch' | 'width'): ChartSpec | undefined {
  const values = rows
    .filter((r) => r.sweep === sweep)
    .map((r) => ({
      model: r.model,
      series: `${r.backend}: ${r.quantity}`,
      backend: r.backend,
      quantity: r.quantity,
      batch: r.batch,
      width: r.width,
      params: r.params,
      median: num(r.median_ms),
      perExample: num(r.ms_per_example),
    }));
  if (values.length === 0) return undefined;
  const x =
    sweep === 'batch'
      ? { field: 'batch', type: 'quantitative', title: 'batch size', scale: { type: 'log', base: 2 }, axis: { format: 'd', values: [...new Set(values.map((v) => v.batch))] } }
      : { field: 'params', type: 'quantitative', title: 'parameters (width ×¼ … ×4)', scale: { type: 'log' }, axis: { format: '~s' } };
  return {
    $schema: SCHEMA,
    title:
      sweep === 'batch'
        ? 'Time per call against batch size (MLP width ×1; conv net width ×0.5, ×0.125 on cpu)'
        : 'Time per call against model width (MLP batch 100; conv net batch 16, 2 on cpu)',
    data: { values },
    facet: { column: { field: 'model', type: 'nominal', title: null } },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    spec: {
      width: 300,
      height: 240,
      mark: { type: 'line', point: true },
      encoding: {
        x,
        y: { field: 'median', type: 'quantitative', title: 'ms (median)', scale: { type: 'log' } },
        color: { field: 'backend', type: 'nominal' },
        strokeDash: { field: 'quantity', type: 'nominal', legend: { labelLimit: 300 } },
        shape: { field: 'quantity', type: 'nominal', legend: { labelLimit: 300 } },
        detail: { field: 'series' },
      },
    },
  };
}

/** Project / torch ratios per comparison and backend (log axis; 1 = parity). */
export function peerSpec(rows: readonly Row[]): ChartSpec | undefined {
  const values = rows.flatMap((r) =>
    Object.entries(r)
      .filter(([k, v]) => k.endsWith('_ratio') && typeof v === 'number')
      .map(([k, v]) => ({ comparison: `${r.comparison} [${r.shape}]`, backend: k.slice(0, -'_ratio'.length), ratio: v })),
  );
  if (values.length === 0) return undefined;
  return {
    $schema: SCHEMA,
    title: 'forgetless time / PyTorch time, 1 thread each (bars from parity: left of 1, forgetless is faster)',
    data: { values },
    width: 360,
    height: { step: 14 },
    layer: [
      {
        mark: 'bar',
        encoding: {
          y: { field: 'comparison', type: 'nominal', title: null, axis: { labelLimit: 520 } },
          yOffset: { field: 'backend' },
          x: { field: 'ratio', type: 'quantitative', title: 'ratio (log scale)', scale: { type: 'log' } },
          x2: { datum: 1 },
          color: { field: 'backend', type: 'nominal' },
        },
      },
      { mark: { type: 'rule', color: 'black', strokeDash: [4, 3] }, encoding: { x: { datum: 1 } } },
    ],
  };
}

/** Evaluation throughput, examples per second per backend, one panel per model. */
export function evalSpec(rows: readonly Row[]): ChartSpec | undefined {
  const values = rows.map((r) => ({ model: r.model, backend: r.backend, rate: num(r.examples_per_s) }));
  if (values.length === 0) return undefined;
  return {
    $schema: SCHEMA,
    title: 'Evaluation throughput (examples per second, median)',
    data: { values },
    facet: { column: { field: 'model', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 220,
      height: 200,
      mark: 'bar',
      encoding: {
        x: { field: 'backend', type: 'nominal', title: null, axis: { labelAngle: 0 } },
        y: { field: 'rate', type: 'quantitative', title: 'examples / s' },
        color: { field: 'backend', type: 'nominal', legend: null },
      },
    },
  };
}

/** Every chart a run's results allow, by file name. */
export function chartSpecs(results: Record<string, { rows: Row[] }>): Record<string, ChartSpec> {
  const out: Record<string, ChartSpec | undefined> = {
    'steps.svg': stepsSpec(results.steps?.rows ?? []),
    'scaling-batch.svg': scalingSpec(results.scaling?.rows ?? [], 'batch'),
    'scaling-width.svg': scalingSpec(results.scaling?.rows ?? [], 'width'),
    'eval-throughput.svg': evalSpec(results.eval?.rows ?? []),
    'peer.svg': peerSpec(results.peer?.rows ?? []),
  };
  return Object.fromEntries(Object.entries(out).filter((e): e is [string, ChartSpec] => e[1] !== undefined));
}
