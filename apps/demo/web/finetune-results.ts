/**
 * The fine-tune section's results: old vs new accuracy per run as a table (a row as each run ends:
 * the pretrained model, plain fine-tuning, the method; then the pruned model and the model as
 * downloaded), the CLI's chart (`finetuneChartSpec`, vega-embed), and the downloads: the method's
 * model.json + shards as a zip (fflate), results.json.
 */
import { strToU8, zipSync } from 'fflate';
import embed, { type Result, type VisualizationSpec } from 'vega-embed';
import type { FinetuneConfig } from '../src/finetune/config.js';
import type { FinetuneMetrics, FinetuneRecord, FinetuneResult } from '../src/finetune/run.js';
import { finetuneChartSpec } from '../src/report/finetune.js';
import type { FinetuneModelFiles, FinetunePruned, FromWorker } from './protocol.js';
import type { StructurePruned } from './structure-job.js';
import { structureResults } from './structure-panel.js';

type FinetuneDone = Extract<FromWorker, { type: 'finetune-done' }>;

function $<T extends HTMLElement>(selector: string): T {
  const el = document.querySelector<T>(selector);
  if (!el) throw new Error(`page: missing element ${selector}`);
  return el;
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
/** JSON has no NaN: a diverged run's metrics are written as null. */
const json = (value: unknown) => JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1);

export function finetuneResults() {
  const table = $<HTMLTableElement>('#ft-results');
  const downloads = $<HTMLDivElement>('#ft-downloads');
  let chart: Result | undefined;
  let live: { config?: FinetuneConfig; classNames: string[]; before?: FinetuneMetrics; runs: FinetuneRecord[] } = { classNames: [], runs: [] };
  let output: { zip: Uint8Array; zipName: string; results: string } | undefined;
  const structure = structureResults();

  const row = (key: string, cells: string[], values?: (number | undefined)[]) => {
    const tr = (table.tBodies[0] as HTMLTableSectionElement).insertRow();
    tr.dataset.run = key;
    cells.forEach((c, i) => {
      const td = tr.insertCell();
      td.textContent = c;
      const v = values?.[i];
      if (v !== undefined && Number.isFinite(v)) td.dataset.value = String(v);
    });
    table.hidden = false;
    return tr;
  };
  const metricCells = (m: FinetuneMetrics) => [f3(m.old), f3(m.new), f3(m.oldOwn), f3(m.newOwn)];
  const metricValues = (m: FinetuneMetrics) => [undefined, undefined, m.old, m.new, m.oldOwn, m.newOwn];

  const drawChart = async () => {
    if (!live.config || !live.before) return;
    const partial = {
      config: live.config,
      classNames: live.classNames,
      before: live.before,
      runs: live.runs,
      selection: [],
      rule: '',
      backend: '',
      threads: 1,
      cancelled: false,
      frozen: [],
    } as FinetuneResult;
    chart?.finalize();
    chart = await embed('#ft-chart', finetuneChartSpec(partial) as VisualizationSpec, { actions: false, renderer: 'svg' });
  };

  const run = async (record: FinetuneRecord, before: FinetuneMetrics, config: FinetuneConfig, classNames: string[]) => {
    if (!live.before) row('pretrained', ['pretrained', '', ...metricCells(before), ''], metricValues(before));
    live = { config, classNames, before, runs: [...live.runs, record] };
    const lambda = record.method === 'plain' ? '' : String(record.lambda);
    if (record.diverged) {
      const tr = row(record.variant, [record.variant, lambda, 'diverged', '—', '—', '—', `${record.seconds.toFixed(1)} s`]);
      tr.dataset.diverged = 'true';
      tr.title = record.diverged;
    } else row(record.variant, [record.variant, lambda, ...metricCells(record.after), `${record.seconds.toFixed(1)} s`], metricValues(record.after));
    await drawChart();
  };

  const onPruned = (p: FinetunePruned) => {
    const name = `pruned ${(p.sparsity * 100).toFixed(0)} % by ${p.importance === 'magnitude' ? '|w|' : p.importance}`;
    const tr = row('pruned', [name, '', ...metricCells(p.after), ''], metricValues(p.after));
    tr.title = `${p.zeros} of ${p.size} weights and biases are zero; before pruning: old ${f3(p.before.old)}, new ${f3(p.before.new)}`;
  };

  const save = (data: BlobPart, name: string, type: string) => {
    const url = URL.createObjectURL(new Blob([data], { type }));
    const a = Object.assign(document.createElement('a'), { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  };
  $<HTMLButtonElement>('#ft-download').addEventListener('click', () => output?.zipName && save(output.zip as BlobPart, output.zipName, 'application/zip'));
  $<HTMLButtonElement>('#ft-download-results').addEventListener('click', () => output && save(output.results, 'results.json', 'application/json'));

  const done = (msg: FinetuneDone, names: { model?: string | undefined; old?: string | undefined; new?: string | undefined }) => {
    if (!msg.result) return;
    const files = msg.model;
    const report = {
      format: 'forgetless-finetune-results',
      formatVersion: 1,
      source: 'forgetless page',
      ...names,
      seconds: msg.ms / 1000,
      ...msg.result,
      ...(msg.pruned ? { pruned: msg.pruned } : {}),
      ...(msg.structure ? { structure: msg.structure } : {}),
      ...(files ? { download: { label: files.label, dtypes: files.dtypes, saved: files.saved, files: ['model.json', ...files.shards.map((s) => s.path)] } } : {}),
      skipped: msg.skipped,
    };
    if (msg.pruned) onPruned(msg.pruned);
    if (msg.structure) {
      const r = msg.structure;
      const tr = row(
        'pruned',
        [`channels removed, ${Math.round(r.fraction * 100)} % of the ${r.target === 'flops' ? 'FLOPs' : 'parameters'}`, '', ...metricCells(r.after.metrics), ''],
        metricValues(r.after.metrics),
      );
      tr.title = `${r.after.params} of ${r.before.params} parameters kept`;
      structure.show(r);
    }
    if (files) {
      row(
        'download',
        [`${files.label}${msg.pruned ? ', pruned' : msg.structure ? ', channels removed' : ''}, as downloaded`, '', ...metricCells(files.saved), ''],
        metricValues(files.saved),
      ).title =
        'the model read back from the files offered for download (weights as stored: ' +
        Object.entries(files.dtypes)
          .map(([d, n]) => `${n} ${d}`)
          .join(', ') +
        ')';
      output = { zip: zipModel(files), zipName: `${zipBase(files, msg.pruned, msg.structure)}.zip`, results: json(report) };
      $('#ft-download-note').textContent = `${output.zipName}: model.json + ${files.shards.length} shard${files.shards.length === 1 ? '' : 's'} (${Object.entries(files.dtypes)
        .map(([d, n]) => `${n} ${d}`)
        .join(', ')} weights), ${(output.zip.byteLength / 1024).toFixed(0)} KiB`;
    } else {
      output = { zip: new Uint8Array(), zipName: '', results: json(report) };
      $('#ft-download-note').textContent = `the ${msg.result.config.variants.at(-1)?.method ?? ''} run diverged: no model to download`;
    }
    $<HTMLButtonElement>('#ft-download').disabled = !files;
    downloads.hidden = false;
  };

  const reset = () => {
    live = { classNames: [], runs: [] };
    output = undefined;
    table.hidden = true;
    table.tBodies[0]?.replaceChildren();
    downloads.hidden = true;
    structure.reset();
    chart?.finalize();
    chart = undefined;
    $('#ft-chart').replaceChildren();
  };

  return { reset, run, done };
}

function zipModel(files: FinetuneModelFiles): Uint8Array {
  const entries: Record<string, Uint8Array> = { 'model.json': strToU8(JSON.stringify(files.modelJson)) };
  for (const s of files.shards) entries[s.path] = new Uint8Array(s.data);
  if (files.oldHead) {
    entries['old-head/model.json'] = strToU8(JSON.stringify(files.oldHead.modelJson));
    for (const s of files.oldHead.shards) entries[`old-head/${s.path}`] = new Uint8Array(s.data);
  }
  return zipSync(entries, { level: 6 });
}

/** 'fashion-ewc-fis-lambda-1000', from the model's folder-less name and the run. */
function zipBase(files: FinetuneModelFiles, pruned?: FinetunePruned, structure?: StructurePruned): string {
  const lambda = /λ (\S+)$/.exec(files.label)?.[1];
  const smaller = structure ? `-channels-${Math.round(structure.fraction * 100)}-${structure.target}` : '';
  const name = `${files.method}${lambda ? `-lambda-${lambda}` : ''}${pruned ? `-pruned-${Math.round(pruned.sparsity * 100)}` : ''}${smaller}`;
  return `finetuned-${name.replace(/[^A-Za-z0-9._-]+/g, '-')}`;
}
