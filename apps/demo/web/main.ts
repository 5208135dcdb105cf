/**
 * The page: reads the form into the runner's ExperimentConfig, starts the experiment worker, and
 * draws what it reports as it arrives: a progress bar, an accuracy matrix per run (a table shaded by
 * value, filled after each task), per-task accuracy curves filled in live (every N steps), and the runner's charts: average
 * accuracy, paper 3's importance correlations and paper 2's pruning experiment (`runPruning`). The
 * fine-tuning section is finetune-panel.ts; it shares the worker.
 */
import embed, { type Result, type VisualizationSpec } from 'vega-embed';
import { averageAccuracySpec, correlationSpec, pruningSpec } from '../src/experiment/charts.js';
import type { ExperimentConfig, HeadChoice, Scenario, SequenceName } from '../src/experiment/config.js';
import type { PruningConfig, PruningEvent, PruningResult } from '../src/experiment/pruning.js';
import type { ExperimentEvent, RunRecord } from '../src/experiment/run.js';
import { correlationSurfaces, recordCells, summarize } from '../src/experiment/summary.js';
import { curvesSpec } from './charts.js';
import { setupFinetunePanel } from './finetune-panel.js';
import type { BackendChoice, FromWorker, RunRequest, ToWorker } from './protocol.js';

/**
 * The methods offered (ids of the runner's registry, as the CLI spells them) with a default λ for
 * this page's short runs: 784-100-10 MLP, SGD lr 0.1. Plain EWC diverges here once η·λ·I > 1
 * (λ ≈ 14 for FIS); stabilised EWC does not.
 */
const METHOD_CHOICES: { id: string; text: string; lambda?: number; checked: boolean }[] = [
  { id: 'plain', text: 'plain SGD', checked: true },
  { id: 'ewc-fis', text: 'EWC, Fisher', lambda: 5, checked: true },
  { id: 'ewc-mas', text: 'EWC, MAS', lambda: 3, checked: false },
  { id: 'sewc-fis', text: 'stabilised EWC, Fisher', lambda: 100, checked: false },
  { id: 'wva-sig', text: 'WVA, SIG', lambda: 250, checked: false },
  { id: 'l2', text: 'L2 to the last task', lambda: 0.01, checked: false },
  { id: 'lwf', text: 'LwF (distillation)', lambda: 1, checked: false },
  { id: 'replay-200', text: 'replay, 200 examples', checked: false },
  { id: 'packnet', text: 'PackNet', checked: false },
  { id: 'joint', text: 'joint training (upper bound)', checked: false },
];

function $<T extends HTMLElement>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`page: missing element ${selector}`);
  return el;
}

const form = $<HTMLFormElement>('#controls');
const runButton = $<HTMLButtonElement>('#run');
const stopButton = $<HTMLButtonElement>('#stop');
const progressBar = $<HTMLProgressElement>('#progress');
const statusText = $<HTMLSpanElement>('#status');
const backendText = $<HTMLSpanElement>('#backend-name');
const matrices = $<HTMLDivElement>('#matrices');
const summaryTable = $<HTMLTableElement>('#summary');

function numberInput(id: string): number {
  const input = $<HTMLInputElement>(`#${id}`);
  const v = Number(input.value);
  if (input.value.trim() === '' || !Number.isFinite(v)) throw new Error(`${input.labels?.[0]?.textContent?.trim() ?? id}: not a number`);
  return v;
}

function buildMethodControls(): void {
  const box = $<HTMLFieldSetElement>('#methods');
  for (const m of METHOD_CHOICES) {
    const row = document.createElement('div');
    row.className = 'method';
    const check = Object.assign(document.createElement('input'), { type: 'checkbox', id: `method-${m.id}`, checked: m.checked });
    const label = Object.assign(document.createElement('label'), { htmlFor: check.id, textContent: m.text, title: m.id });
    row.append(check, label);
    if (m.lambda !== undefined) {
      const lambda = Object.assign(document.createElement('input'), { type: 'number', id: `lambda-${m.id}`, min: '0', step: 'any', value: String(m.lambda) });
      lambda.setAttribute('aria-label', `λ of ${m.text}`);
      row.append(lambda);
    }
    box.append(row);
  }
}

/** The form as the runner's config (the same shape `forgetless run` builds from its flags). */
function readRequest(): RunRequest {
  const variants = METHOD_CHOICES.filter((m) => $<HTMLInputElement>(`#method-${m.id}`).checked).map((m) => ({
    method: m.id,
    lambdas: [m.lambda === undefined ? 0 : numberInput(`lambda-${m.id}`)],
  }));
  if (variants.length === 0) throw new Error('pick at least one method');
  const backend = $<HTMLSelectElement>('#backend').value as BackendChoice;
  const sequence = $<HTMLSelectElement>('#sequence').value as SequenceName;
  const numTasks = numberInput('num-tasks');
  const chosen = $<HTMLSelectElement>('#scenario').value as Scenario | '';
  // rotated tasks share their labels: domain-incremental only
  const scenario = sequence === 'rotated' ? undefined : chosen || undefined;
  const head = $<HTMLSelectElement>('#head').value as HeadChoice;
  const config: ExperimentConfig = {
    name: 'browser',
    data: { dataset: 'embedded', sequence, numTasks, seed: 0, ...(scenario ? { scenario } : {}) },
    // validated with the scenario: multi needs task-incremental, grow class-incremental
    ...(head !== 'shared' ? { head } : {}),
    // permuted task- and class-incremental: task t's labels are 10t..10t+9, one output per label
    model: sequence === 'permuted' && scenario && scenario !== 'domain' ? `784-100-${10 * numTasks}` : '784-100-10',
    optimizer: 'sgd',
    learningRate: numberInput('lr'),
    iterations: numberInput('steps'),
    batchSize: numberInput('batch'),
    seeds: [0],
    variants,
    importanceLimit: 1000,
    evalLimit: 1000,
    evaluateEvery: numberInput('evaluate-every'),
    // the page activates its backend itself; the config names the CLI's backends only
    backend: backend === 'cpu' ? 'cpu' : 'wasm',
    correlations: $<HTMLInputElement>('#correlations').checked,
  };
  // paper 2's pruning experiment, scaled to the page: one task, one epoch, the same model and optimizer
  const pruning: PruningConfig = {
    model: config.model,
    optimizer: config.optimizer,
    learningRate: config.learningRate,
    epochs: 1,
    batchSize: config.batchSize,
    seed: 0,
    calibration: config.importanceLimit,
    methods: ['magnitude', 'sig', 'fisher', 'mas', 'si'],
    ...(config.evalLimit !== undefined ? { evalLimit: config.evalLimit } : {}),
  };
  return {
    config,
    backend,
    dataUrl: new URL(`${import.meta.env.BASE_URL}fashion-mnist-subset/`, location.href).href,
    ...($<HTMLInputElement>('#pruning').checked ? { pruning } : {}),
  };
}

// ---- the live view of one experiment ----

interface LiveRun {
  label: string;
  table: HTMLTableElement;
}

let worker: Worker | undefined;
let taskNames: string[] = [];
let runs = new Map<number, LiveRun>();
let records: RunRecord[] = [];
/** The charts on the page by container; the live curve chart is streamed into. */
const charts = new Map<string, Result>();

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

function runLabel(label: string, lambda: number): string {
  return label === 'plain' ? label : `${label} λ ${lambda}`;
}

function buildMatrix(run: number, label: string, tasks: number): HTMLTableElement {
  const table = document.createElement('table');
  table.className = 'matrix';
  table.dataset.run = String(run);
  table.dataset.method = label.split(' ')[0] ?? label;
  table.createCaption().textContent = label;
  const head = table.createTHead().insertRow();
  head.append(Object.assign(document.createElement('th'), { textContent: 'after ↓ / on →' }));
  for (let j = 0; j < tasks; j++) head.append(Object.assign(document.createElement('th'), { textContent: `task ${j + 1}`, title: taskNames[j] ?? '' }));
  const body = table.createTBody();
  for (let i = 0; i < tasks; i++) {
    const row = body.insertRow();
    row.append(Object.assign(document.createElement('th'), { textContent: `task ${i + 1}`, title: taskNames[i] ?? '' }));
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
    if (!cell || !Number.isFinite(a)) return;
    cell.textContent = a.toFixed(3);
    cell.dataset.value = String(a);
    cell.style.background = shade(a);
  });
}

/** Embeds `spec` in `selector`, replacing (and finalising) the chart there. */
async function chart(selector: string, spec: unknown, title?: string): Promise<Result> {
  charts.get(selector)?.finalize();
  charts.delete(selector);
  const s = (title ? { ...(spec as object), title } : spec) as VisualizationSpec;
  const result = await embed(selector, s, { actions: false, renderer: 'svg' });
  charts.set(selector, result);
  return result;
}

async function onProgress(e: Extract<ExperimentEvent, { kind: 'progress' }>): Promise<void> {
  const run = runs.get(e.run);
  const p = e.event;
  if (p.kind === 'warning' || p.kind === 'diverged') {
    // a blow-up, or the end of this run: said in the status line (the run's row and matrix say it too)
    statusText.textContent = `run ${e.run + 1}/${e.runs} ${run?.label ?? e.label}: ${p.kind === 'warning' ? `warning: ${p.warning?.message ?? ''}` : (p.diverged?.message ?? 'diverged')}`;
    return;
  }
  const tasks = Math.max(1, taskNames.length);
  progressBar.value = Math.min(1, (e.run + (p.taskIndex + p.taskStep / Math.max(1, p.stepsInTask)) / tasks) / e.runs);
  const loss = p.loss !== undefined ? `, loss ${p.loss.toFixed(3)}` : '';
  const speed = p.examplesPerSecond !== undefined ? `, ${Math.round(p.examplesPerSecond)} examples/s` : '';
  statusText.textContent = `run ${e.run + 1}/${e.runs} ${run?.label ?? e.label}: task ${p.taskIndex + 1}/${tasks}, step ${p.taskStep}/${p.stepsInTask}${loss}${speed}`;
  // 'eval': every `evaluateEvery` steps within a task; 'task': after it (the task's last eval is
  // left out, the 'task' point at the same step follows it)
  const lastEval = p.kind === 'eval' && p.taskStep >= p.stepsInTask;
  if ((p.kind === 'eval' || p.kind === 'task') && !lastEval && p.accuracies && run) {
    if (p.kind === 'task') fillRow(run.table, p.taskIndex, p.accuracies);
    const rows = p.accuracies.map((accuracy, j) => ({ method: run.label, task: `task ${j + 1}`, step: p.step, accuracy }));
    const curves = charts.get('#chart-curves');
    if (curves) await curves.view.insert('curves', rows).runAsync();
    else await chart('#chart-curves', curvesSpec(rows));
  }
}

async function onRunEnd(record: RunRecord): Promise<void> {
  const run = runs.get(record.index);
  if (run) record.accuracy.forEach((row, i) => fillRow(run.table, i, row));
  if (run && record.diverged) {
    // no accuracy of the diverged model: the rows it did not reach show —
    run.table.dataset.diverged = 'true';
    if (run.table.caption) run.table.caption.textContent = `${run.label}: ${record.diverged}`;
    for (const cell of run.table.querySelectorAll<HTMLTableCellElement>('td.acc')) if (cell.textContent === '…') cell.textContent = '—';
  }
  if (record.cancelled) return;
  records.push(record);
  const tr = (summaryTable.tBodies[0] as HTMLTableSectionElement).insertRow();
  const shown = recordCells(record);
  if (shown.title) {
    tr.title = shown.title;
    tr.dataset.diverged = 'true';
  }
  const cells = [run?.label ?? record.variant, shown.final, shown.forgetting, shown.bwt, `${record.seconds.toFixed(1)} s`];
  for (const c of cells) tr.insertCell().textContent = c;
  summaryTable.hidden = false;
  await chart('#chart-average', averageAccuracySpec(summarize({ runs: records })));
  if (record.correlations?.length) {
    const title = `Importance correlations per layer after each task (${run?.label ?? record.variant} run, Pearson's r)`;
    await chart('#chart-correlations', correlationSpec(correlationSurfaces(record.correlations)), title);
  }
}

function onPruningEvent(e: PruningEvent): void {
  if (e.kind === 'train') {
    const p = e.event;
    progressBar.value = p.taskStep / Math.max(1, p.stepsInTask);
    statusText.textContent = `pruning experiment: training ${p.taskName}, step ${p.taskStep}/${p.stepsInTask}`;
  } else statusText.textContent = `pruning experiment: pruned by ${e.method}`;
}

async function onPruning(r: PruningResult): Promise<void> {
  const title = `Pruning (paper 2): ${r.task} trained alone (accuracy ${r.unpruned.toFixed(3)}), the least important weights zeroed; dashed: paper 2, MNIST`;
  await chart('#chart-pruning', pruningSpec(r.rows), title);
}

async function onMessage(msg: FromWorker): Promise<void> {
  switch (msg.type) {
    case 'status':
      statusText.textContent = msg.text;
      break;
    case 'backend':
      backendText.textContent = `backend: ${msg.name}${msg.note ? ` (${msg.note})` : ''}`;
      break;
    case 'tasks':
      taskNames = msg.names;
      break;
    case 'experiment': {
      const e = msg.event;
      if (e.kind === 'run-start') {
        const label = runLabel(e.label, e.lambda);
        const run = { label, table: buildMatrix(e.run, label, e.tasks) };
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
      if (!msg.cancelled) progressBar.value = 1;
      statusText.textContent = msg.cancelled ? 'Stopped.' : `Done in ${(msg.ms / 1000).toFixed(1)} s.`;
      setState(msg.cancelled ? 'stopped' : 'done');
      break;
    case 'error':
      statusText.textContent = `Error: ${msg.message}`;
      setState('error');
      break;
    default:
      await finetune.onMessage(msg);
  }
}

function ensureWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'forgetless-experiment' });
  // messages are handled one after another: a chart exists before rows are streamed into it
  let queue = Promise.resolve();
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

function start(request: RunRequest): void {
  setState('running');
  progressBar.value = 0;
  statusText.textContent = 'starting…';
  runs = new Map();
  records = [];
  taskNames = [];
  matrices.replaceChildren();
  summaryTable.hidden = true;
  summaryTable.tBodies[0]?.replaceChildren();
  for (const [id, c] of charts) {
    c.finalize();
    $(id).replaceChildren();
  }
  charts.clear();
  ensureWorker().postMessage({ type: 'run', request } satisfies ToWorker);
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  let request: RunRequest;
  try {
    request = readRequest();
  } catch (err) {
    statusText.textContent = (err as Error).message;
    return;
  }
  start(request);
});

stopButton.addEventListener('click', () => {
  worker?.postMessage({ type: 'stop' } satisfies ToWorker);
  statusText.textContent = 'stopping…';
});

buildMethodControls();
setState('idle');
const finetune = setupFinetunePanel(ensureWorker, () => $<HTMLSelectElement>('#backend').value as BackendChoice);
