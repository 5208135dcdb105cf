/**
 * The history: every finished experiment kept in this browser's IndexedDB (database
 * `forgetless-page`, store `experiments`), so it survives a reload; a table of them, each with a
 * box to tick for the comparison chart (average accuracy after each task, one colour per method,
 * one dash per experiment), a link that puts its form back, and a delete button.
 */
import embed, { type Result, type VisualizationSpec } from 'vega-embed';
import { type AveragePoint, averageSpec } from './charts.js';
import type { ExperimentResults } from './downloads.js';

const DB = 'forgetless-page';
const STORE = 'experiments';

export interface StoredExperiment extends ExperimentResults {
  id: number;
  /** The page's address that ran it (the form in the query). */
  search: string;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('history: IndexedDB did not open'));
  });
}

async function transact<T>(mode: IDBTransactionMode, f: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('history: IndexedDB transaction failed'));
    });
  } finally {
    db.close();
  }
}

/** Keeps `r` (without the per-layer correlation records, the bulk of a record); returns its id. */
export async function keepExperiment(r: ExperimentResults, search: string): Promise<number> {
  const runs = r.runs.map(({ correlations: _c, ...rest }) => rest);
  return (await transact('readwrite', (s) => s.add({ ...r, runs, search }))) as number;
}

export async function experiments(): Promise<StoredExperiment[]> {
  return (await transact('readonly', (s) => s.getAll())) as StoredExperiment[];
}

export async function forgetExperiment(id: number): Promise<void> {
  await transact('readwrite', (s) => s.delete(id));
}

function describe(e: StoredExperiment): string {
  const d = e.request.config.data;
  const c = e.request.config;
  return `${d.sequence}, ${d.numTasks} tasks × ${c.iterations} steps, batch ${c.batchSize}, lr ${c.learningRate}, ${e.request.backend}${e.cancelled ? ' (stopped)' : ''}`;
}

/** Average accuracy after each task of a stored experiment's runs, by run label ('diverged' runs: the tasks before only). */
function averages(e: StoredExperiment, group: string): AveragePoint[] {
  return e.runs.flatMap((run) =>
    run.averageAccuracy.flatMap((a, i) => (Number.isFinite(a) ? [{ method: e.labels[run.index] ?? run.variant, task: i + 1, average: a, group }] : [])),
  );
}

/** The history section: its table and comparison chart, redrawn by `refresh()` (after each experiment). */
export function setupHistory(): { refresh: () => Promise<void>; view: () => Result['view'] | undefined } {
  const table = document.querySelector<HTMLTableElement>('#history-table') as HTMLTableElement;
  const empty = document.querySelector<HTMLElement>('#history-empty') as HTMLElement;
  const chartBox = document.querySelector<HTMLElement>('#chart-history') as HTMLElement;
  const compared = new Set<number>();
  let chart: Result | undefined;
  let list: StoredExperiment[] = [];

  const drawChart = async () => {
    chart?.finalize();
    chart = undefined;
    chartBox.replaceChildren();
    const picked = list.filter((e) => compared.has(e.id));
    if (picked.length === 0) return;
    const rows = picked.flatMap((e) => averages(e, `#${e.id} ${describe(e)}`));
    const spec = averageSpec(rows, [...new Set(rows.map((r) => r.method))], 'Average accuracy: the experiments ticked');
    chart = await embed(chartBox, spec as VisualizationSpec, { actions: false, renderer: 'svg' });
  };

  const refresh = async () => {
    list = await experiments();
    const body = table.tBodies[0] as HTMLTableSectionElement;
    body.replaceChildren();
    empty.hidden = list.length > 0;
    for (const e of [...list].reverse()) {
      const tr = body.insertRow();
      tr.dataset.id = String(e.id);
      const box = Object.assign(document.createElement('input'), { type: 'checkbox', checked: compared.has(e.id) });
      box.setAttribute('aria-label', `compare experiment ${e.id}`);
      box.addEventListener('change', () => {
        if (box.checked) compared.add(e.id);
        else compared.delete(e.id);
        void drawChart();
      });
      tr.insertCell().append(box);
      tr.insertCell().textContent = new Date(e.date).toLocaleString();
      const what = tr.insertCell();
      what.append(Object.assign(document.createElement('a'), { href: e.search || '?', textContent: describe(e), title: 'put this experiment back in the form' }));
      tr.insertCell().textContent = e.runs
        .map((r) => `${e.labels[r.index] ?? r.variant}: ${r.diverged ? 'diverged' : Number.isFinite(r.finalAverage) ? r.finalAverage.toFixed(3) : '—'}`)
        .join('; ');
      const del = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Delete' });
      del.setAttribute('aria-label', `delete experiment ${e.id} from the history`);
      del.addEventListener('click', async () => {
        compared.delete(e.id);
        await forgetExperiment(e.id);
        await refresh();
      });
      tr.insertCell().append(del);
    }
    await drawChart();
  };
  return { refresh, view: () => chart?.view };
}
