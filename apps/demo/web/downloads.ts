/**
 * The page's downloads: the experiment's results.json (the request, the task names, every run's
 * record, the pruning experiment), results.csv (one row per measured accuracy R[i][j], with the run's
 * metrics), and each chart as SVG or PNG (Vega's own renderers: `view.toSVG()`, `view.toImageURL`).
 */
import type { Result } from 'vega-embed';
import type { PruningResult } from '@forgetless/experiments';
import type { RunRecord } from '@forgetless/experiments';
import type { RunRequest } from './protocol.js';

/** Offers `blob` as a download named `name`. */
export function saveBlob(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** What a finished (or stopped) experiment leaves: enough to redraw it (history.ts keeps the same). */
export interface ExperimentResults {
  /** ISO time the experiment ended. */
  date: string;
  request: RunRequest;
  /** The run names the page showed, by run index (`ewc-fis λ 5`). */
  labels: string[];
  tasks: string[];
  runs: RunRecord[];
  pruning?: PruningResult;
  backend?: string;
  cancelled?: boolean;
}

/** results.json: the experiment as data (NaN, for a diverged run's metrics, written as null). */
export function resultsJson(r: ExperimentResults): string {
  return JSON.stringify({ format: 'forgetless-page-results', version: 1, ...r }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
}

const CSV_HEADER = ['run', 'method', 'lambda', 'seed', 'after_task', 'on_task', 'task_name', 'accuracy', 'average_accuracy', 'forgetting', 'backward_transfer', 'diverged'];

function csvCell(v: string | number | undefined): string {
  if (v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** results.csv: one row per R[i][j] measured (i, j from 1), each with its run's metrics; a diverged run's metrics are empty and `diverged` says where. */
export function resultsCsv(r: ExperimentResults): string {
  const lines = [CSV_HEADER.join(',')];
  for (const run of r.runs) {
    const label = r.labels[run.index] ?? run.variant;
    const common = [run.index + 1, label, run.lambda, run.seed];
    const metrics = [run.finalAverage, run.forgetting, run.bwt, run.diverged ?? ''];
    const cells = run.accuracy.flatMap((row, i) => row.map((a, j) => ({ i, j, a })).filter((c) => c.j <= i && Number.isFinite(c.a)));
    if (cells.length === 0) lines.push([...common, '', '', '', '', ...metrics].map(csvCell).join(','));
    for (const c of cells) lines.push([...common, c.i + 1, c.j + 1, r.tasks[c.j] ?? '', c.a, ...metrics].map(csvCell).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Adds "SVG" and "PNG" buttons under a chart box; `view()` gives the chart's current Vega view. */
export function chartDownloads(box: HTMLElement, name: string, title: string, view: () => Result['view'] | undefined): void {
  const tools = document.createElement('div');
  tools.className = 'chart-tools';
  const svg = Object.assign(document.createElement('button'), { type: 'button', textContent: 'SVG' });
  svg.setAttribute('aria-label', `download the ${title} chart as SVG`);
  svg.dataset.download = `${name}.svg`;
  const png = Object.assign(document.createElement('button'), { type: 'button', textContent: 'PNG' });
  png.setAttribute('aria-label', `download the ${title} chart as PNG`);
  png.dataset.download = `${name}.png`;
  svg.addEventListener('click', async () => {
    const v = view();
    if (v) saveBlob(`${name}.svg`, new Blob([await v.toSVG()], { type: 'image/svg+xml' }));
  });
  png.addEventListener('click', async () => {
    const v = view();
    if (v) saveBlob(`${name}.png`, await (await fetch(await v.toImageURL('png', 2))).blob());
  });
  tools.append(svg, png);
  box.append(tools);
}
