/**
 * The page: reads the form (form.ts, its address: url-state.ts) into the runner's ExperimentConfig,
 * starts the experiment worker, and draws what it reports as it arrives: the phase and a progress
 * bar that only moves forward (progress.ts), the live accuracy curves and loss beside the form
 * (charts.ts; one colour per method and the page's own legend, legend.ts), an accuracy matrix per
 * run (a table shaded by value, filled after each task, "diverged" at the task where a run's loss or
 * weights went non-finite), the average accuracy, and the runner's charts: paper 3's importance
 * correlations and paper 2's pruning experiment (`runPruning`). Finished experiments are kept
 * (history.ts) and can be downloaded (downloads.ts). The fine-tuning section is finetune-panel.ts;
 * it shares the worker.
 */
import embed, { type Result, type VisualizationSpec, vega } from 'vega-embed';
import { correlationSpec, pruningSpec } from '@forgetless/experiments';
import type { PruningEvent, PruningResult } from '@forgetless/experiments';
import type { ExperimentEvent, RunRecord } from '@forgetless/experiments';
import { correlationSurfaces, recordCells } from '@forgetless/experiments';
import { type AveragePoint, CHART_CONFIG, type CurvePoint, type LiveLayout, type LossPoint, averageSpec, curvesSpec, lossSpec, smoother } from './charts.js';
import { type ExperimentResults, chartDownloads, resultsCsv, resultsJson, saveBlob } from './downloads.js';
import { setupFinetunePanel } from './finetune-panel.js';
import { buildMethodControls, checkForm, readRequest, readThreads } from './form.js';
import { keepExperiment, setupHistory } from './history.js';
import { kernelsText } from './kernels-info.js';
import { renderLegend, runLabel } from './legend.js';
import { ExperimentProgress } from './progress.js';
import type { BackendChoice, FromWorker, RunRequest, ToWorker } from './protocol.js';
import { paramsToForm, syncUrl } from './url-state.js';

function $<T extends HTMLElement>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`page: missing element ${selector}`);
  return el;
}

const form = $<HTMLFormElement>('#controls');
const runButton = $<HTMLButtonElement>('#run');
const stopButton = $<HTMLButtonElement>('#stop');
const statusText = $<HTMLSpanElement>('#status');
const formError = $<HTMLElement>('#form-error');
const backendText = $<HTMLSpanElement>('#backend-name');
const matrices = $<HTMLDivElement>('#matrices');
const summaryTable = $<HTMLTableElement>('#summary');
const legend = $<HTMLDivElement>('#legend');
const smoothing = $<HTMLInputElement>('#smoothing');
const progress = new ExperimentProgress({ bar: $<HTMLProgressElement>('#progress'), phase: $('#phase'), announcer: $('#announcer') });

// ---- the live view of one experiment ----

interface LiveRun {
  label: string;
  table: HTMLTableElement;
  /** Where its loss or weights went non-finite (the runner's message, or the page's own check of the loss). */
  diverged?: { taskIndex: number; step: number; message: string };
  smooth: (x: number) => number;
  /** The first finite blow-up the runner warned of. */
  warning?: string;
}

let worker: Worker | undefined;
let request: RunRequest | undefined;
let layout: LiveLayout = { methods: [], tasks: 1, stepsPerTask: 1 };
let taskNames: string[] = [];
let runs = new Map<number, LiveRun>();
let records: RunRecord[] = [];
let lossRows: LossPoint[] = [];
let pruningResult: PruningResult | undefined;
let backendName = '';
/** The backend line's name: with the wasm threads where more than 1, and any note (a fallback, threads not granted). */
let backendLabel = '';
let results: ExperimentResults | undefined;
/** The charts on the page by container; the live curve and loss charts are streamed into. */
const charts = new Map<string, Result>();
/** Messages handled one after another: a chart exists before rows are streamed into it. */
let queue = Promise.resolve();

function setState(state: 'idle' | 'running' | 'done' | 'stopped' | 'error'): void {
  document.body.dataset.state = state;
  const running = state === 'running';
  runButton.disabled = running;
  stopButton.disabled = !running;
}

/** A cell's shade: white at chance (0.1) or below, green at 1. */
function shade(acc: number): string {
  const t = Math.max(0, Math.min(1, (acc - 0.1) / 0.9));
  return `hsl(130 55% ${Math.round(97 - 45 * t)}%)`;
}

function buildMatrix(run: number, label: string, tasks: number): HTMLTableElement {
  const table = document.createElement('table');
  table.className = 'matrix';
  table.dataset.run = String(run);
  table.dataset.method = label.split(' ')[0] ?? label;
  table.createCaption().textContent = label;
  const head = table.createTHead().insertRow();
  head.append(Object.assign(document.createElement('th'), { textContent: 'after ↓ / on →', scope: 'col' }));
  for (let j = 0; j < tasks; j++) head.append(Object.assign(document.createElement('th'), { textContent: `task ${j + 1}`, title: taskNames[j] ?? '', scope: 'col' }));
  const body = table.createTBody();
  for (let i = 0; i < tasks; i++) {
    const row = body.insertRow();
    row.dataset.row = String(i);
    row.append(Object.assign(document.createElement('th'), { textContent: `task ${i + 1}`, title: taskNames[i] ?? '', scope: 'row' }));
    for (let j = 0; j < tasks; j++) {
      const cell = row.insertCell();
      cell.className = 'acc';
      cell.dataset.row = String(i);
      cell.dataset.col = String(j);
      cell.textContent = j <= i ? '…' : '';
    }
  }
  return table;
}

function fillRow(table: HTMLTableElement, row: number, accuracies: readonly number[]): void {
  accuracies.forEach((a, j) => {
    const cell = table.querySelector<HTMLTableCellElement>(`td[data-row="${row}"][data-col="${j}"]`);
    if (!cell || !Number.isFinite(a) || table.dataset.divergedAt !== undefined) return;
    cell.textContent = a.toFixed(3);
    cell.dataset.value = String(a);
    cell.style.background = shade(a);
  });
}

/** Marks `run` diverged at its task `taskIndex`: "diverged" in that row, — after it, its caption, the charts' cross, the legend. */
async function markDiverged(run: LiveRun, taskIndex: number, step: number, message: string): Promise<void> {
  if (run.diverged) return;
  run.diverged = { taskIndex, step, message };
  const t = run.table;
  t.dataset.diverged = 'true';
  t.dataset.divergedAt = String(taskIndex);
  if (t.caption) t.caption.textContent = `${run.label}: ${message}`;
  for (const cell of t.querySelectorAll<HTMLTableCellElement>('td.acc')) {
    const i = Number(cell.dataset.row);
    if (i < taskIndex || cell.textContent === '') continue;
    delete cell.dataset.value;
    cell.style.background = '';
    const first = i === taskIndex && cell.dataset.col === '0';
    cell.textContent = first ? 'diverged' : '—';
    cell.title = message;
    if (first) cell.classList.add('diverged');
  }
  const earlier = [...runs.values()].filter((r) => r !== run && r.diverged).length;
  const point = { method: run.label, step, text: `${run.label} diverged`, y: 30 + 18 * earlier };
  for (const [id, name] of [
    ['#chart-curves', 'diverged'],
    ['#chart-loss', 'loss-diverged'],
  ] as const) {
    const c = charts.get(id);
    if (c) await c.view.insert(name, [point]).runAsync();
  }
  drawLegend();
  progress.announce(`${run.label}: ${message}`);
}

function drawLegend(): void {
  const diverged = new Set([...runs.values()].filter((r) => r.diverged).map((r) => r.label));
  renderLegend(legend, layout.methods, layout.tasks, diverged);
}

/** Embeds `spec` in `selector`, replacing (and finalising) the chart there. */
async function chart(selector: string, spec: unknown, title?: string): Promise<Result> {
  charts.get(selector)?.finalize();
  charts.delete(selector);
  const s = { ...(spec as object), ...(title ? { title } : {}), config: { ...CHART_CONFIG, ...((spec as { config?: object }).config ?? {}) } } as VisualizationSpec;
  const result = await embed(selector, s, { actions: false, renderer: 'svg' });
  charts.set(selector, result);
  return result;
}

function smoothingWeight(): number {
  const w = Number(smoothing.value);
  return Number.isFinite(w) ? Math.max(0, Math.min(0.99, w)) : 0;
}

async function onProgress(e: Extract<ExperimentEvent, { kind: 'progress' }>): Promise<void> {
  const run = runs.get(e.run);
  const p = e.event;
  if (!run) return;
  if (p.kind === 'warning') {
    // a finite blow-up (weights or loss grown by orders of magnitude): the run goes on, its results are flagged
    const message = p.warning?.message ?? 'the weights or the loss blew up';
    statusText.textContent = `${run.label}: warning: ${message}`;
    if (!run.warning) {
      run.warning = message;
      run.table.dataset.warned = 'true';
      if (run.table.caption) run.table.caption.textContent = `${run.label}: blew up (${message})`;
      progress.announce(`${run.label}: warning: ${message}`);
    }
    return;
  }
  if (p.kind === 'diverged') {
    statusText.textContent = `${run.label}: ${p.diverged?.message ?? 'diverged'}`;
    await markDiverged(run, p.diverged?.taskIndex ?? p.taskIndex, p.diverged?.step ?? p.step, p.diverged?.message ?? `diverged at task ${p.taskIndex + 1}`);
    return;
  }
  const tasks = Math.max(1, layout.tasks);
  progress.training(e.run, e.runs, (p.taskIndex + p.taskStep / Math.max(1, p.stepsInTask)) / tasks);
  const loss = p.loss !== undefined ? `, loss ${p.loss.toFixed(3)}` : '';
  const speed = p.examplesPerSecond !== undefined ? `, ${Math.round(p.examplesPerSecond)} examples/s` : '';
  statusText.textContent = `run ${e.run + 1}/${e.runs} ${run.label}: task ${p.taskIndex + 1}/${tasks}, step ${p.taskStep}/${p.stepsInTask}${loss}${speed}`;
  if (run.diverged) return;
  if (p.loss !== undefined) {
    // the page's own check: a backend whose NaN the runner did not catch is still not shown as a result
    if (!Number.isFinite(p.loss)) {
      await markDiverged(run, p.taskIndex, p.step, `diverged at task ${p.taskIndex + 1} step ${p.taskStep} (loss = ${p.loss})`);
      return;
    }
    if (p.loss > 0) {
      const row = { method: run.label, step: p.step, loss: p.loss, smoothed: run.smooth(p.loss) };
      lossRows.push(row);
      const c = charts.get('#chart-loss');
      // drawn at the first loss (a log scale has no domain without data)
      if (c) await c.view.insert('loss', [row]).runAsync();
      else await chart('#chart-loss', lossSpec([row], layout));
    }
  }
  // 'eval': every `evaluateEvery` steps within a task; 'task': after it (the task's last eval is
  // left out, the 'task' point at the same step follows it)
  const lastEval = p.kind === 'eval' && p.taskStep >= p.stepsInTask;
  if ((p.kind === 'eval' || p.kind === 'task') && !lastEval && p.accuracies) {
    if (p.kind === 'task') {
      fillRow(run.table, p.taskIndex, p.accuracies);
      progress.announce(`${run.label}: task ${p.taskIndex + 1} of ${tasks} trained`);
    }
    const rows: CurvePoint[] = p.accuracies.flatMap((accuracy, j) => (Number.isFinite(accuracy) ? [{ method: run.label, task: `task ${j + 1}`, step: p.step, accuracy }] : []));
    const c = charts.get('#chart-curves');
    if (c && rows.length) await c.view.insert('curves', rows).runAsync();
  }
}

/** The runner's record, with the page's own divergence (a non-finite loss the runner let through) applied. */
function checked(record: RunRecord, run: LiveRun | undefined): RunRecord {
  if (!run?.diverged || record.diverged) return record;
  const { taskIndex, message } = run.diverged;
  return {
    ...record,
    diverged: message,
    accuracy: record.accuracy.slice(0, taskIndex),
    averageAccuracy: record.averageAccuracy.slice(0, taskIndex),
    finalAverage: Number.NaN,
    forgetting: Number.NaN,
    bwt: Number.NaN,
  };
}

async function drawAverage(): Promise<void> {
  const rows: AveragePoint[] = records.flatMap((r) =>
    r.averageAccuracy.flatMap((a, i) => (Number.isFinite(a) ? [{ method: runs.get(r.index)?.label ?? r.variant, task: i + 1, average: a }] : [])),
  );
  await chart('#chart-average', averageSpec(rows, layout.methods));
}

async function onRunEnd(raw: RunRecord): Promise<void> {
  const run = runs.get(raw.index);
  if (run && raw.diverged && !run.diverged) {
    const d = raw.divergence;
    await markDiverged(run, d?.taskIndex ?? raw.accuracy.length, 'step' in (d ?? {}) ? Number((d as { step?: number }).step ?? 0) : 0, raw.diverged);
  }
  const record = checked(raw, run);
  if (run) record.accuracy.forEach((row, i) => fillRow(run.table, i, row));
  if (run && !record.diverged) for (const cell of run.table.querySelectorAll<HTMLTableCellElement>('td.acc')) if (cell.textContent === '…') cell.textContent = '—';
  if (record.cancelled) return;
  records.push(record);
  const tr = (summaryTable.tBodies[0] as HTMLTableSectionElement).insertRow();
  tr.dataset.run = String(record.index);
  const shown = recordCells(record);
  if (shown.title) {
    tr.title = shown.title;
    tr.dataset.diverged = 'true';
  }
  const warning = record.diverged ? undefined : (run?.warning ?? record.warnings?.[0]?.message);
  if (warning) {
    tr.title = `blew up: ${warning}`;
    tr.dataset.warned = 'true';
  }
  const flag = warning ? ' ⚠ blew up' : '';
  const cells = [run?.label ?? record.variant, `${shown.final}${flag}`, shown.forgetting, shown.bwt, `${record.seconds.toFixed(1)} s`];
  for (const c of cells) tr.insertCell().textContent = c;
  summaryTable.hidden = false;
  await drawAverage();
  if (record.correlations?.length) {
    const title = `Importance correlations per layer after each task (${run?.label ?? record.variant} run, Pearson's r)`;
    await chart('#chart-correlations', correlationSpec(correlationSurfaces(record.correlations)), title);
  }
}

let pruningDone = 0;
function onPruningEvent(e: PruningEvent): void {
  const methods = request?.pruning?.methods.length ?? 5;
  if (e.kind === 'train') {
    const p = e.event;
    progress.pruningStep((0.5 * p.taskStep) / Math.max(1, p.stepsInTask));
    statusText.textContent = `pruning experiment: training ${p.taskName}, step ${p.taskStep}/${p.stepsInTask}`;
  } else {
    pruningDone++;
    progress.pruningStep(0.5 + (0.5 * pruningDone) / methods);
    statusText.textContent = `pruning experiment: pruned by ${e.method}`;
  }
}

async function onPruning(r: PruningResult): Promise<void> {
  pruningResult = r;
  const title = `Pruning (paper 2): ${r.task} trained alone (accuracy ${r.unpruned.toFixed(3)}), the least important weights zeroed; dashed: paper 2, MNIST`;
  await chart('#chart-pruning', pruningSpec(r.rows), title);
}

async function onDone(cancelled: boolean, ms: number): Promise<void> {
  const text = cancelled ? 'Stopped.' : `Done in ${(ms / 1000).toFixed(1)} s.`;
  statusText.textContent = text;
  progress.end(cancelled ? 'stopped' : 'done', text);
  if (request && records.length > 0) {
    const labels: string[] = [];
    for (const [i, r] of runs) labels[i] = r.label;
    results = {
      date: new Date().toISOString(),
      request,
      labels,
      tasks: taskNames,
      runs: records,
      ...(pruningResult ? { pruning: pruningResult } : {}),
      ...(backendName ? { backend: backendName } : {}),
      ...(cancelled ? { cancelled } : {}),
    };
    $('#downloads').hidden = false;
    try {
      await keepExperiment(results, location.search);
      await history.refresh();
    } catch (err) {
      statusText.textContent = `${text} (not kept in the history: ${(err as Error).message})`;
    }
  }
  setState(cancelled ? 'stopped' : 'done');
}

async function onMessage(msg: FromWorker): Promise<void> {
  switch (msg.type) {
    case 'status':
      statusText.textContent = msg.text;
      if (/loading/.test(msg.text)) progress.loading();
      break;
    case 'backend':
      backendName = msg.name;
      backendLabel = `${msg.name}${(msg.threads ?? 1) > 1 ? `, ${msg.threads} threads` : ''}${msg.note ? ` (${msg.note})` : ''}`;
      backendText.textContent = `backend: ${backendLabel}`;
      backendText.dataset.threads = String(msg.threads ?? 1);
      delete backendText.dataset.simdKernels;
      break;
    case 'kernels':
      // the fine-tuning's, when it is the job that ended; else the experiment's: on its backend line
      if (await finetune.onMessage(msg)) break;
      backendText.dataset.simdKernels = JSON.stringify(msg.status);
      if (kernelsText(msg.status)) backendText.textContent = `backend: ${backendLabel} · ${kernelsText(msg.status)}`;
      break;
    case 'tasks':
      taskNames = msg.names;
      break;
    case 'experiment': {
      const e = msg.event;
      if (e.kind === 'run-start') {
        const label = runLabel(e.label, e.lambda);
        const run: LiveRun = { label, table: buildMatrix(e.run, label, e.tasks), smooth: smoother(smoothingWeight()) };
        runs.set(e.run, run);
        matrices.append(run.table);
      } else if (e.kind === 'progress') await onProgress(e);
      else await onRunEnd(e.record);
      break;
    }
    case 'pruning-event':
      onPruningEvent(msg.event);
      break;
    case 'pruning':
      await onPruning(msg.result);
      break;
    case 'done':
      await onDone(msg.cancelled, msg.ms);
      break;
    case 'error':
      statusText.textContent = `Error: ${msg.message}`;
      progress.end('error', `Error: ${msg.message}`);
      setState('error');
      break;
    default:
      await finetune.onMessage(msg);
  }
}

function ensureWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'forgetless-experiment' });
  w.onmessage = (e: MessageEvent<FromWorker>) => {
    queue = queue
      .then(() => onMessage(e.data))
      .catch((err: unknown) => {
        statusText.textContent = `Error: ${(err as Error).message}`;
        setState('error');
      });
  };
  w.onerror = (e) => {
    statusText.textContent = `Worker error: ${e.message}`;
    setState('error');
  };
  worker = w;
  return w;
}

async function start(req: RunRequest): Promise<void> {
  setState('running');
  request = req;
  progress.start(req.pruning !== undefined);
  statusText.textContent = 'starting…';
  runs = new Map();
  records = [];
  taskNames = [];
  lossRows = [];
  pruningResult = undefined;
  pruningDone = 0;
  results = undefined;
  $('#downloads').hidden = true;
  matrices.replaceChildren();
  summaryTable.hidden = true;
  summaryTable.tBodies[0]?.replaceChildren();
  for (const [id, c] of charts) {
    c.finalize();
    $(id).replaceChildren();
  }
  charts.clear();
  const c = req.config;
  layout = {
    methods: c.variants.map((v) => runLabel(v.method, v.lambdas?.[0] ?? 0)),
    tasks: Math.min(c.data.numTasks ?? 1, c.data.sequence === 'split' ? 5 : Number.POSITIVE_INFINITY),
    stepsPerTask: c.iterations ?? 1,
  };
  drawLegend();
  await chart('#chart-curves', curvesSpec([], layout));
  ensureWorker().postMessage({ type: 'run', request: req } satisfies ToWorker);
}

/** Redraws the loss with the smoothing now set (every run's moving average recomputed). */
async function resmooth(): Promise<void> {
  const w = smoothingWeight();
  $('#smoothing-value').textContent = w.toFixed(2);
  const byMethod = new Map<string, (x: number) => number>();
  for (const r of lossRows) {
    let s = byMethod.get(r.method);
    if (!s) byMethod.set(r.method, (s = smoother(w)));
    r.smoothed = s(r.loss);
  }
  for (const run of runs.values()) {
    // the runs still going continue from their recomputed average
    const mine = lossRows.filter((r) => r.method === run.label);
    const s = smoother(w);
    for (const r of mine) s(r.loss);
    run.smooth = s;
  }
  const c = charts.get('#chart-loss');
  // fresh objects: a spread copy would carry the removed tuples' Vega ids
  if (c)
    await c.view
      .change(
        'loss',
        vega
          .changeset()
          .remove(() => true)
          .insert(lossRows.map(({ method, step, loss, smoothed }) => ({ method, step, loss, smoothed }))),
      )
      .runAsync();
}

form.addEventListener('input', () => {
  checkForm();
  formError.textContent = '';
});
form.addEventListener('submit', (e) => {
  e.preventDefault();
  const messages = checkForm();
  if (messages.length > 0) {
    formError.textContent = messages.length === 1 ? (messages[0] as string) : `${messages.length} fields need a fix: ${messages.join('; ')}`;
    form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
    return;
  }
  formError.textContent = '';
  queue = queue.then(() => start(readRequest()));
});

stopButton.addEventListener('click', () => {
  worker?.postMessage({ type: 'stop' } satisfies ToWorker);
  statusText.textContent = 'stopping…';
});

smoothing.addEventListener('input', () => {
  queue = queue.then(resmooth);
});

$('#download-json').addEventListener('click', () => {
  if (results) saveBlob('results.json', new Blob([resultsJson(results)], { type: 'application/json' }));
});
$('#download-csv').addEventListener('click', () => {
  if (results) saveBlob('results.csv', new Blob([resultsCsv(results)], { type: 'text/csv' }));
});

buildMethodControls();
paramsToForm(new URLSearchParams(location.search));
$('#smoothing-value').textContent = smoothingWeight().toFixed(2);
checkForm();
syncUrl(form, [smoothing]);
setState('idle');
const history = setupHistory();
for (const [id, name, title] of [
  ['#chart-curves', 'accuracy-curves', 'accuracy curves'],
  ['#chart-loss', 'loss', 'loss'],
  ['#chart-average', 'average-accuracy', 'average accuracy'],
  ['#chart-correlations', 'importance-correlations', 'importance correlations'],
  ['#chart-pruning', 'pruning', 'pruning'],
] as const) {
  chartDownloads($(id).parentElement as HTMLElement, name, title, () => charts.get(id)?.view);
}
chartDownloads($('#chart-history').parentElement as HTMLElement, 'history', 'history comparison', history.view);
void history.refresh().catch((err: unknown) => {
  $('#history-empty').textContent = `The history is not available in this browser (${(err as Error).message}).`;
});
const finetune = setupFinetunePanel(ensureWorker, () => $<HTMLSelectElement>('#backend').value as BackendChoice, readThreads);
