/**
 * The page's live chart: accuracy on each task seen so far, against the optimizer step, a point each
 * time the runner measures it. Its data set is named, so the page streams rows in as they arrive
 * (`view.insert('curves', rows)`). The
 * after-the-fact charts (average accuracy, correlations, pruning) are the runner's specs
 * (src/experiment/charts.ts), shared with the CLI's report.
 */
import type { TopLevelSpec } from 'vega-lite';

const WIDTH = 420;
const HEIGHT = 260;

export interface CurvePoint {
  method: string;
  task: string;
  step: number;
  accuracy: number;
}

/** Accuracy on each task seen so far: one colour per task, one dash per run. */
export function curvesSpec(rows: readonly CurvePoint[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Accuracy on each task as training proceeds',
    width: WIDTH,
    height: HEIGHT,
    // the first rows inline (an empty data set would give Vega an infinite extent to warn about)
    data: { name: 'curves', values: [...rows] },
    mark: { type: 'line', point: { size: 18 } },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'optimizer step (per run)' },
      y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, title: 'test accuracy' },
      color: { field: 'task', type: 'nominal', title: 'task' },
      strokeDash: { field: 'method', type: 'nominal', title: 'method' },
      detail: [{ field: 'method' }, { field: 'task' }],
      tooltip: [{ field: 'method' }, { field: 'task' }, { field: 'step' }, { field: 'accuracy', format: '.3f' }],
    },
  };
}
