/**
 * report.md of an experiment: per-method rows (average accuracy after each task, final average,
 * forgetting, BWT, mean ± std over seeds), the best λ of each grid, the papers' published numbers
 * beside the measured ones for presets, paper 3's correlation claims, per-task timings, and links
 * to the SVG charts.
 */
import type { ExperimentConfig } from '@forgetless/experiments';
import type { Preset } from '@forgetless/experiments';
import type { ExperimentResult } from '@forgetless/experiments';
import { type LambdaSummary, type VariantSummary, divergenceText, formatStat } from '@forgetless/experiments';
import { slug } from './svg.js';

export interface ReportContext {
  result: ExperimentResult;
  summaries: VariantSummary[];
  preset?: Preset;
  /** Where the data came from, in words. */
  data: string;
  seconds: number;
  /** Command line that produced it. */
  command?: string;
  /** Correlation surfaces (paper 3), summarised per pair and layer. */
  correlations?: { pair: string; layers: string[]; tasks: string[]; values: number[][]; runs?: number; std?: number[][] }[];
  /** A partial sweep's note (`sweep --collect --partial`), shown under the "Here:" line. */
  partial?: string;
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
/** The final average, or where the λ's runs diverged (then every accuracy of it is —). */
const finalCell = (l: LambdaSummary) => (l.diverged ? esc(divergenceText(l)) : formatStat(l.final));
const esc = (s: string) => s.replace(/\|/g, '\\|');

function trainingLine(c: ExperimentConfig): string {
  const per = c.iterations !== undefined ? `${c.iterations} iterations` : `${c.epochs ?? 1} epoch${(c.epochs ?? 1) > 1 ? 's' : ''}`;
  return `model \`${c.model}\`, ${c.optimizer} lr ${c.learningRate}, ${per} per task, batch ${c.batchSize}, ${c.seeds.length} seed${c.seeds.length > 1 ? 's' : ''} (${c.seeds.join(', ')}), importances on ${c.importanceLimit} closing-set samples per task${c.evalLimit ? `, evaluation on ${c.evalLimit} test samples per task` : ''}`;
}

/** A label for a summary row: the variant and its λ. */
export function rowLabel(s: LambdaSummary): string {
  return s.method === 'plain' ? s.variant : `${s.variant}, λ ${s.lambda}`;
}

function resultsTable(summaries: readonly VariantSummary[], tasks: number): string[] {
  const fwt = summaries.some((s) => s.best.fwt);
  const head = ['method', 'λ', ...Array.from({ length: tasks }, (_, i) => `after ${i + 1}`), 'final avg (mean ± std)', 'forgetting', 'BWT', ...(fwt ? ['FWT'] : [])];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`];
  for (const s of summaries) {
    const b = s.best;
    const curve = Array.from({ length: tasks }, (_, i) => f3(b.curve[i]?.mean ?? Number.NaN));
    const last = fwt ? ` ${b.fwt ? formatStat(b.fwt) : '—'} |` : '';
    lines.push(
      `| ${esc(s.variant)} | ${s.method === 'plain' ? '—' : b.lambda} | ${curve.join(' | ')} | ${finalCell(b)} | ${formatStat(b.forgetting)} | ${formatStat(b.bwt)} |${last}`,
    );
  }
  return lines;
}

function gridTables(summaries: readonly VariantSummary[]): string[] {
  const grids = summaries.filter((s) => s.lambdas.length > 1);
  if (grids.length === 0) return [];
  const out = ['## λ grids', '', 'Final average accuracy at each λ (mean ± std over seeds); the best λ in bold.', ''];
  for (const s of grids) {
    out.push(`### ${esc(s.variant)}`, '', '| λ | final avg | forgetting | BWT |', '| ---: | ---: | ---: | ---: |');
    for (const l of s.lambdas) {
      const lam = l.lambda === s.best.lambda ? `**${l.lambda}**` : String(l.lambda);
      out.push(`| ${lam} | ${finalCell(l)} | ${formatStat(l.forgetting)} | ${formatStat(l.bwt)} |`);
    }
    out.push('', `![λ sweep of ${s.variant}](lambda-${slug(s.variant)}.svg)`, '');
  }
  return out;
}

function publishedTable(ctx: ReportContext): string[] {
  const p = ctx.preset;
  if (!p || p.published.length === 0) return [];
  const tasks = ctx.result.tasks.length;
  const out = [
    '## Published beside measured',
    '',
    `Paper: arXiv ${p.paper}. Published: ${p.publishedMetric}. Measured: average accuracy after task ${tasks} on ${ctx.data}, at the best λ of the grid run here.`,
    'Different data and (with `--quick`) a scaled-down protocol: compare the ordering and the gaps, not the digits.',
    '',
    '| method | paper λ | paper | measured λ | measured | Δ vs plain (paper) | Δ vs plain (measured) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const plainPaper = p.published.find((x) => x.variant.startsWith('plain'))?.value;
  const byVariant = new Map(ctx.summaries.map((s) => [s.variant, s]));
  const plainFor = (variant: string) => {
    const opt = variant.includes('@') ? variant.slice(variant.indexOf('@')) : '';
    return byVariant.get(`plain${opt}`) ?? byVariant.get('plain');
  };
  for (const pub of p.published) {
    const s = byVariant.get(pub.variant);
    const plain = plainFor(pub.variant);
    const measured = s?.best.final.mean ?? Number.NaN;
    const dPaper = plainPaper !== undefined && !pub.variant.startsWith('plain') ? `${pub.value - plainPaper >= 0 ? '+' : ''}${(pub.value - plainPaper).toFixed(3)}` : '—';
    const gap = measured - (plain?.best.final.mean ?? Number.NaN);
    const dMeasured = plain && s && s !== plain && Number.isFinite(gap) ? `${gap >= 0 ? '+' : ''}${gap.toFixed(3)}` : '—';
    out.push(
      `| ${esc(pub.variant)} | ${pub.lambda ?? '—'} | ${pub.value.toFixed(3)} | ${s ? (s.method === 'plain' ? '—' : s.best.lambda) : 'not run'} | ${s ? formatStat(s.best.final) : '—'} | ${dPaper} | ${dMeasured} |`,
    );
  }
  out.push('');
  return out;
}

function correlationSection(ctx: ReportContext): string[] {
  const surfaces = ctx.correlations;
  if (!surfaces || surfaces.length === 0) return [];
  const claims = new Map((ctx.preset?.correlations ?? []).map((c) => [c.pair, c]));
  const runs = surfaces[0]?.runs ?? 1;
  const over = runs > 1 ? `, mean ± standard deviation over ${runs} seeds` : '';
  const out = ['## Correlations of importances (paper 3)', '', `Pearson r per layer, after the last task${over} (mean over tasks in brackets).`, ''];
  const layers = surfaces[0]?.layers ?? [];
  out.push(`| pair | ${layers.join(' | ')} | paper 3 says |`, `| --- | ${layers.map(() => '---:').join(' | ')} | --- |`);
  for (const s of surfaces) {
    const cells = s.layers.map((_, l) => {
      const row = s.values[l] ?? [];
      const t = row.length - 1;
      const last = row[t] ?? Number.NaN;
      const sd = s.std?.[l]?.[t] ?? Number.NaN;
      const finite = row.filter(Number.isFinite);
      const mean = finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : Number.NaN;
      return `${f3(last)}${runs > 1 && Number.isFinite(sd) ? ` ± ${f3(sd)}` : ''} (${f3(mean)})`;
    });
    out.push(`| ${esc(s.pair)} | ${cells.join(' | ')} | ${claims.get(s.pair)?.claim ?? ''} |`);
  }
  out.push('', '![correlation surfaces](correlations.svg)', '');
  return out;
}

function matrices(summaries: readonly VariantSummary[]): string[] {
  const out = ['## Accuracy matrices', '', 'R[i][j]: test accuracy on task j after training task i (mean over seeds, best λ).', ''];
  for (const s of summaries) {
    const m = s.best.matrix;
    out.push(`### ${esc(rowLabel(s.best))}`, '', `| after \\ on | ${m.map((_, j) => `task ${j + 1}`).join(' | ')} |`, `| --- | ${m.map(() => '---:').join(' | ')} |`);
    m.forEach((row, i) => out.push(`| task ${i + 1} | ${m.map((_, j) => (j <= i ? f3(row[j] ?? Number.NaN) : '')).join(' | ')} |`));
    out.push('', `![accuracy matrix of ${s.variant}](matrix-${slug(s.variant)}.svg)`, '');
  }
  return out;
}

/** Every run that diverged: where, and why (no accuracy of it is reported anywhere). */
function divergedRuns(result: ExperimentResult): string[] {
  const runs = result.runs.filter((r) => r.diverged);
  if (runs.length === 0) return [];
  const out = [
    '## Diverged runs',
    '',
    'A loss or weight became NaN or infinite: training stopped at that step, and the run has no accuracy from then on (— above); it is never ranked.',
    '',
    '| run | seed | where |',
    '| --- | ---: | --- |',
  ];
  for (const r of runs) out.push(`| ${esc(r.variant)}${r.method === 'plain' ? '' : `, λ ${r.lambda}`} | ${r.seed} | ${esc(r.diverged ?? '')} |`);
  out.push('');
  return out;
}

/** Finite blow-ups the training loop warned of (weights or loss growing by orders of magnitude). */
function warnings(result: ExperimentResult): string[] {
  const runs = result.runs.filter((r) => r.warnings?.length);
  if (runs.length === 0) return [];
  const out = ['## Training warnings', '', 'Weights or losses that grew by orders of magnitude without becoming NaN: treat these runs’ numbers with care.', ''];
  for (const r of runs) for (const w of r.warnings ?? []) out.push(`- ${esc(r.variant)}${r.method === 'plain' ? '' : `, λ ${r.lambda}`}, seed ${r.seed}: ${esc(w.message)}`);
  out.push('');
  return out;
}

function timings(result: ExperimentResult): string[] {
  const out = ['## Timings', '', 'Seconds per run: training, consolidation (importances at task end) and evaluation, summed over tasks.', ''];
  out.push('| run | seed | train s | consolidate s | eval s | steps | total s |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of result.runs) {
    const sum = (k: 'trainMs' | 'consolidateMs' | 'evalMs') => r.timings.reduce((a, t) => a + t[k], 0) / 1000;
    const steps = r.timings.reduce((a, t) => a + t.steps, 0);
    out.push(
      `| ${esc(r.variant)}${r.method === 'plain' ? '' : `, λ ${r.lambda}`} | ${r.seed} | ${sum('trainMs').toFixed(1)} | ${sum('consolidateMs').toFixed(1)} | ${sum('evalMs').toFixed(1)} | ${steps} | ${r.seconds.toFixed(1)} |`,
    );
  }
  out.push('', 'Per-task timings are in `results.json` (`runs[].timings`).', '');
  return out;
}

export function reportMarkdown(ctx: ReportContext): string {
  const { result, summaries, preset } = ctx;
  const c = result.config;
  const tasks = result.tasks.length;
  const lines: string[] = [`# forgetless: ${preset ? preset.title : `run '${c.name}'`}`, ''];
  if (ctx.command) lines.push(`Command: \`${ctx.command}\``, '');
  if (preset) lines.push(`Protocol of the paper (arXiv ${preset.paper}): ${preset.protocol}`, '');
  lines.push(
    `Here: ${tasks} ${c.data.sequence} task${tasks > 1 ? 's' : ''} (${result.tasks.join(', ')}) from ${ctx.data}; ${trainingLine(c)}; backend ${result.backend}; ${ctx.seconds.toFixed(0)} s.`,
    '',
  );
  if (ctx.partial) lines.push(ctx.partial, '');
  if (result.cancelled) lines.push('**Cancelled**: the results below cover the runs finished before the interruption.', '');
  lines.push('## Results', '', 'Average accuracy on the tasks seen so far after each task (mean over seeds), at each method’s best λ.', '');
  lines.push(...resultsTable(summaries, tasks), '', '![average accuracy after each task](avg-accuracy.svg)', '');
  lines.push(...divergedRuns(result), ...warnings(result));
  lines.push(...publishedTable(ctx), ...correlationSection(ctx), ...gridTables(summaries), ...matrices(summaries), ...timings(result));
  return `${lines.join('\n')}\n`;
}
