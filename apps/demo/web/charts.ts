/**
 * The page's charts (Vega-Lite): the live accuracy curves and loss, streamed into while a run goes
 * (`view.insert(name, rows)` on their named data sets), and the average accuracy after each task.
 * Every chart colours a run by its method (legend.ts) and leaves the legend to the page (an HTML list
 * above the charts, never clipped); task boundaries are vertical rules. The other charts
 * (correlations, pruning) are the runner's specs (@forgetless/experiments, charts.ts), shared with the CLI.
 */
import type { TopLevelSpec } from 'vega-lite';
import { colourScale, dashScale } from './legend.js';

const HEIGHT = 230;

/** Larger text than Vega's defaults (11 px), for every chart of the page. */
export const CHART_CONFIG = {
  font: 'system-ui, sans-serif',
  axis: { labelFontSize: 13, titleFontSize: 14, titleFontWeight: 'normal', labelColor: '#222', titleColor: '#222' },
  legend: { labelFontSize: 13, titleFontSize: 14, labelLimit: 0, symbolType: 'stroke', symbolStrokeWidth: 3 },
  title: { fontSize: 15, anchor: 'start', color: '#222', fontWeight: 600 },
  header: { labelFontSize: 13, titleFontSize: 14 },
  view: { stroke: '#ddd' },
} as const;

export interface CurvePoint {
  method: string;
  task: string;
  step: number;
  accuracy: number;
}

export interface LossPoint {
  method: string;
  step: number;
  loss: number;
  /** The exponential moving average of `loss` (TensorBoard's smoothing). */
  smoothed: number;
}

/** A run that diverged: where (its step), shown as a labelled cross. */
export interface DivergedPoint {
  method: string;
  step: number;
  text: string;
  /** Pixels from the top of the plot (one line per diverged run). */
  y: number;
}

/** What the live charts know before the first point: the runs, tasks and steps per task (x runs 0 … tasks × steps). */
export interface LiveLayout {
  methods: readonly string[];
  tasks: number;
  stepsPerTask: number;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

function base(title: string, layout: LiveLayout) {
  return {
    $schema: SCHEMA,
    title,
    width: 'container' as const,
    height: HEIGHT,
    autosize: { type: 'fit' as const, contains: 'padding' as const, resize: true },
    config: CHART_CONFIG,
    x: {
      field: 'step',
      type: 'quantitative' as const,
      title: 'optimizer step (per run)',
      scale: { domain: [0, Math.max(1, layout.tasks * layout.stepsPerTask)], nice: false },
    },
  };
}

/** Task boundaries: a rule at the end of every task but the last. */
function boundaries(layout: LiveLayout) {
  const values = Array.from({ length: Math.max(0, layout.tasks - 1) }, (_, i) => ({ step: (i + 1) * layout.stepsPerTask, label: `task ${i + 2}` }));
  return {
    data: { name: 'boundaries', values },
    layer: [
      { mark: { type: 'rule' as const, color: '#888', strokeDash: [3, 3] }, encoding: { x: { field: 'step', type: 'quantitative' as const } } },
      {
        mark: { type: 'text' as const, align: 'left' as const, baseline: 'top' as const, dx: 3, y: 2, fontSize: 12, color: '#555' },
        encoding: { x: { field: 'step', type: 'quantitative' as const }, text: { field: 'label' } },
      },
    ],
  };
}

/** Diverged runs: a cross in the run's colour at the step, labelled; each run's label on its own line (`y`, pixels from the top). */
function divergedLayer(name: string) {
  const y = { field: 'y', type: 'quantitative' as const, scale: null, axis: null };
  return {
    data: { name, values: [] as DivergedPoint[] },
    layer: [
      {
        mark: { type: 'point' as const, shape: 'cross', size: 160, filled: true },
        encoding: { x: { field: 'step', type: 'quantitative' as const }, y, color: { field: 'method', type: 'nominal' as const, legend: null } },
      },
      {
        mark: { type: 'text' as const, align: 'left' as const, dx: 8, fontSize: 13, fontWeight: 600 as const, color: '#a0001a' },
        encoding: { x: { field: 'step', type: 'quantitative' as const }, y, text: { field: 'text' } },
      },
    ],
    resolve: { scale: { y: 'independent' as const } },
  };
}

/** Accuracy on each task seen so far as training proceeds: one colour per method, one dash per task. */
export function curvesSpec(rows: readonly CurvePoint[], layout: LiveLayout): TopLevelSpec {
  const b = base('Accuracy on each task as training proceeds', layout);
  const color = { field: 'method', type: 'nominal', scale: colourScale(layout.methods), legend: null };
  return {
    $schema: b.$schema,
    title: b.title,
    width: b.width,
    height: b.height,
    autosize: b.autosize,
    config: CHART_CONFIG,
    encoding: { x: b.x },
    layer: [
      boundaries(layout),
      {
        data: { name: 'curves', values: [...rows] },
        mark: { type: 'line', point: { size: 20 }, strokeWidth: 2 },
        encoding: {
          y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, title: 'test accuracy' },
          color,
          strokeDash: { field: 'task', type: 'nominal', scale: dashScale(layout.tasks), legend: null },
          detail: [{ field: 'method' }, { field: 'task' }],
          tooltip: [{ field: 'method' }, { field: 'task' }, { field: 'step' }, { field: 'accuracy', format: '.3f' }],
        },
      },
      divergedLayer('diverged'),
    ],
  } as TopLevelSpec;
}

/**
 * The training loss (mean over the steps since the previous report) against the step: the raw
 * values faint, their exponential moving average (the smoothing slider) solid, one colour per method.
 */
export function lossSpec(rows: readonly LossPoint[], layout: LiveLayout): TopLevelSpec {
  const b = base('Training loss', layout);
  const color = { field: 'method', type: 'nominal', scale: colourScale(layout.methods), legend: null };
  const y = { type: 'quantitative', title: 'loss (log scale)', scale: { type: 'log' } };
  return {
    $schema: b.$schema,
    title: b.title,
    width: b.width,
    height: b.height,
    autosize: b.autosize,
    config: CHART_CONFIG,
    encoding: { x: b.x },
    layer: [
      boundaries(layout),
      {
        data: { name: 'loss', values: [...rows] },
        layer: [
          { mark: { type: 'line', opacity: 0.35, strokeWidth: 1 }, encoding: { y: { ...y, field: 'loss' }, color, detail: { field: 'method' } } },
          {
            mark: { type: 'line', strokeWidth: 2 },
            encoding: {
              y: { ...y, field: 'smoothed' },
              color,
              detail: { field: 'method' },
              tooltip: [{ field: 'method' }, { field: 'step' }, { field: 'loss', format: '.4f' }, { field: 'smoothed', format: '.4f' }],
            },
          },
        ],
      },
      divergedLayer('loss-diverged'),
    ],
  } as TopLevelSpec;
}

/** Average accuracy on the tasks seen so far, after each task; `group` (optional) dashes the history's experiments apart. */
export interface AveragePoint {
  method: string;
  task: number;
  average: number;
  group?: string;
}

export function averageSpec(rows: readonly AveragePoint[], methods: readonly string[], title = 'Average accuracy on the tasks seen so far'): TopLevelSpec {
  const tasks = Math.max(1, ...rows.map((r) => r.task));
  const groups = [...new Set(rows.map((r) => r.group ?? ''))];
  return {
    $schema: SCHEMA,
    title,
    width: 'container',
    height: HEIGHT,
    autosize: { type: 'fit', contains: 'padding', resize: true },
    config: CHART_CONFIG,
    data: { values: [...rows] },
    mark: { type: 'line', point: { size: 40 }, strokeWidth: 2 },
    encoding: {
      x: { field: 'task', type: 'quantitative', title: 'tasks trained', scale: { domain: [1, Math.max(2, tasks)] }, axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'average', type: 'quantitative', title: 'average accuracy', scale: { domain: [0, 1] } },
      color: { field: 'method', type: 'nominal', scale: colourScale(methods), legend: null },
      ...(groups.length > 1 ? { strokeDash: { field: 'group', type: 'nominal', title: 'experiment', legend: { orient: 'bottom', direction: 'vertical' } } } : {}),
      detail: [{ field: 'method' }, { field: 'group' }],
      tooltip: [{ field: 'method' }, ...(groups.length > 1 ? [{ field: 'group', title: 'experiment' }] : []), { field: 'task' }, { field: 'average', format: '.3f' }],
    },
  } as TopLevelSpec;
}

/** Exponential moving average with weight `w` in [0, 1) (0: none), TensorBoard's debiased form. */
export function smoother(w: number): (x: number) => number {
  let last = 0;
  let n = 0;
  return (x) => {
    if (!Number.isFinite(x)) return x;
    n++;
    last = last * w + (1 - w) * x;
    return w === 0 ? x : last / (1 - w ** n);
  };
}
