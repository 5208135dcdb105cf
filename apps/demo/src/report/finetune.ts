/**
 * The report of a fine-tuning comparison: the stdout table, report.md, and the chart (old- vs
 * new-data accuracy, one point per method and λ, the pretrained model marked). Browser-safe: the
 * page shows the same chart.
 */
import type { ChartSpec } from '@forgetless/experiments';
import type { FinetuneMetrics, FinetuneRecord, FinetuneResult } from '../finetune/run.js';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : null);
const lam = (r: FinetuneRecord) => (r.method === 'plain' ? '' : String(r.lambda));

/** Whether old and new data use different classes (then the own-class columns say something). */
const ownDiffers = (result: FinetuneResult) =>
  result.runs.some((r) => r.after.old !== r.after.oldOwn || r.after.new !== r.after.newOwn) || result.before.old !== result.before.oldOwn;

function cells(m: FinetuneMetrics, own: boolean): string[] {
  return [f3(m.old), f3(m.new), ...(own ? [f3(m.oldOwn), f3(m.newOwn)] : []), f3(m.oldLoss)];
}

/** The stdout table: before, then every run, the selected λ of each method marked with *. */
export function finetuneTable(result: FinetuneResult): string {
  const own = ownDiffers(result);
  const chosen = new Set(result.selection.map((s) => s.index));
  const head = ['method', 'λ', 'old acc', 'new acc', ...(own ? ['old (own)', 'new (own)'] : []), 'old loss', 'time'];
  const rows = [['pretrained', '', ...cells(result.before, own), '']];
  for (const r of result.runs) {
    const mark = chosen.has(r.index) ? ' *' : '';
    if (r.diverged) rows.push([`${r.variant}${mark}`, lam(r), 'diverged', '', ...(own ? ['', ''] : []), '', `${r.seconds.toFixed(1)} s`]);
    else rows.push([`${r.variant}${mark}`, lam(r), ...cells(r.after, own), `${r.seconds.toFixed(1)} s`]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (c: string[]) => c.map((x, i) => (i < 2 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join('  ');
  const notes = result.selection
    .filter((s) => s.index !== undefined && !s.withinRule)
    .map((s) => `${s.variant}: ${s.variant === 'plain' ? 'the old accuracy fell by more than' : 'no λ kept the old accuracy within'} ${result.config.maxOldDrop}`);
  return [line(head), ...rows.map(line), '', `* selected: ${result.rule}`, ...notes].join('\n');
}

export interface FinetuneReportContext {
  command: string;
  seconds: number;
  model: string;
  old: string;
  new: string;
  models: { variant: string; index?: number; withinRule: boolean; model?: string | undefined; oldHeadModel?: string }[];
}

/** report.md. */
export function finetuneMarkdown(result: FinetuneResult, ctx: FinetuneReportContext): string {
  const c = result.config;
  const own = ownDiffers(result);
  const chosen = new Set(result.selection.map((s) => s.index));
  const lines: string[] = [];
  lines.push('# Fine-tuning without forgetting', '');
  lines.push(`\`${ctx.command}\``, '');
  lines.push(
    `- model: \`${ctx.model}\`; ${result.classNames.length} outputs${c.head === 'keep' ? '' : c.head === 'extend' ? ' after extending its head' : ' of the new head'} (${result.classNames.join(', ')})`,
  );
  if (c.head === 'replace') {
    lines.push(
      '- head replaced: the new data is measured through the new head, the old data through the pretrained head on the same fine-tuned body (two heads, one body; both are saved)',
    );
  }
  lines.push(`- old data: \`${ctx.old}\`; new data: \`${ctx.new}\``);
  lines.push(
    `- ${c.optimizer} lr ${c.learningRate}, ${c.epochs} epoch(s), batch ${c.batchSize}, seed ${c.seed}; importances of the pretrained weights on ${c.importanceLimit} old training examples; head ${c.head}; batch norm ${c.batchNorm}${result.frozen.length ? `; frozen: ${result.frozen.length} layers` : ''}`,
  );
  lines.push(
    `- backend ${result.backend}${result.threads > 1 ? `, ${result.threads} threads` : ''}; ${ctx.seconds.toFixed(1)} s${result.cancelled ? '; **cancelled**: partial results' : ''}`,
    '',
  );
  lines.push(
    `Accuracy on the old and new test data after fine-tuning. "acc" counts a prediction over all of the model's outputs${own ? ';' : '.'}` +
      (own ? ' "(own)" counts it over the part\'s own classes only (given that an image is old, which old class: what the features still know).' : '') +
      ' Old loss: cross-entropy on the old test data.',
    '',
  );
  const head = ['method', 'λ', 'old acc', 'new acc', ...(own ? ['old (own)', 'new (own)'] : []), 'old loss', 'time (s)'];
  lines.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`);
  lines.push(`| pretrained | | ${cells(result.before, own).join(' | ')} | |`);
  for (const r of result.runs) {
    const name = chosen.has(r.index) ? `**${r.variant}**` : r.variant;
    if (r.diverged) lines.push(`| ${name} | ${lam(r)} | diverged: ${r.diverged} | ${' |'.repeat(head.length - 3)}`);
    else lines.push(`| ${name} | ${lam(r)} | ${cells(r.after, own).join(' | ')} | ${r.seconds.toFixed(1)} |`);
  }
  lines.push('', `Bold: the selected λ of each method: ${result.rule}.`, '');
  for (const s of ctx.models) {
    const r = result.runs.find((x) => x.index === s.index);
    if (!r) {
      lines.push(`- ${s.variant}: every run diverged`);
      continue;
    }
    lines.push(
      `- ${s.variant}${r.method === 'plain' ? '' : ` λ ${r.lambda}`}: old ${f3(result.before.old)} → ${f3(r.after.old)}, new ${f3(result.before.new)} → ${f3(r.after.new)}${s.withinRule ? '' : r.method === 'plain' ? ` (old accuracy fell by more than ${c.maxOldDrop})` : ` (no λ within ${c.maxOldDrop})`}${s.model ? `; model: \`${s.model}\`` : ''}${s.oldHeadModel ? ` (the pretrained head on the same body: \`${s.oldHeadModel}\`)` : ''}`,
    );
  }
  lines.push('', '![old vs new accuracy](finetune.svg)', '');
  return lines.join('\n');
}

/** Old- vs new-data accuracy per run (over all outputs, and over own classes when they differ). */
export function finetuneChartSpec(result: FinetuneResult): ChartSpec {
  const own = ownDiffers(result);
  const views = own ? (['all outputs', 'own classes'] as const) : (['all outputs'] as const);
  const values = views.flatMap((view) => {
    const pick = (m: FinetuneMetrics) => (view === 'all outputs' ? { old: m.old, new: m.new } : { old: m.oldOwn, new: m.newOwn });
    return [
      { view, method: 'pretrained', lambda: '', ...mapRound(pick(result.before)) },
      ...result.runs.filter((r) => !r.diverged).map((r) => ({ view, method: r.variant, lambda: lam(r), ...mapRound(pick(r.after)) })),
    ];
  });
  const methods = ['pretrained', ...new Set(result.runs.map((r) => r.variant))];
  const panel = (view: string) => ({
    title: `accuracy over ${view}`,
    width: 300,
    height: 260,
    transform: [{ filter: { field: 'view', equal: view } }],
    layer: [
      {
        mark: { type: 'point', filled: true, size: 90 },
        encoding: {
          x: { field: 'old', type: 'quantitative', title: 'old data accuracy', scale: { domain: [0, 1] } },
          y: { field: 'new', type: 'quantitative', title: 'new data accuracy', scale: { domain: [0, 1] } },
          color: { field: 'method', type: 'nominal', title: 'method', scale: { domain: methods } },
          shape: { field: 'method', type: 'nominal', scale: { domain: methods } },
          tooltip: [{ field: 'method' }, { field: 'lambda', title: 'λ' }, { field: 'old' }, { field: 'new' }],
        },
      },
      {
        mark: { type: 'text', dx: 8, dy: -8, align: 'left', fontSize: 10 },
        encoding: { x: { field: 'old', type: 'quantitative' }, y: { field: 'new', type: 'quantitative' }, text: { field: 'lambda' } },
      },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Fine-tuning: old vs new data accuracy', subtitle: 'one point per method and λ (labels: λ); top right is best' },
    data: { values },
    hconcat: views.map(panel),
    resolve: { scale: { color: 'shared', shape: 'shared' } },
  };
}

function mapRound(m: { old: number; new: number }) {
  return { old: round(m.old), new: round(m.new) };
}
