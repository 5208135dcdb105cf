/**
 * The report of a scenarios preset: per method, the final average accuracy (mean ± std over seeds),
 * forgetting, BWT and FWT (when every task was evaluated) in each scenario, beside the published table.
 */
import type { HeadChoice } from '@forgetless/experiments';
import type { Preset } from '@forgetless/experiments';
import { type VariantSummary, formatStat } from '@forgetless/experiments';

export interface ScenarioRun {
  scenario: string;
  summaries: readonly VariantSummary[];
}

const HEAD_WORDS: Record<HeadChoice, string> = {
  shared: 'one shared output layer',
  multi: 'one head per task (multi-head)',
  grow: 'one head growing with the classes',
};

/** `| method | task | domain | class |` with final average accuracy ± std; then forgetting and BWT. */
export function scenariosTable(runs: readonly ScenarioRun[]): string {
  const variants = [...new Set(runs.flatMap((r) => r.summaries.map((s) => s.variant)))];
  const cell = (r: ScenarioRun, v: string, pick: (s: VariantSummary) => string) => {
    const s = r.summaries.find((x) => x.variant === v);
    return s ? pick(s) : '—';
  };
  const fwt = runs.some((r) => r.summaries.some((s) => s.best.fwt));
  const groups: [string, (s: VariantSummary) => string][] = [
    ['', (s) => formatStat(s.best.final)],
    ['forgetting', (s) => formatStat(s.best.forgetting)],
    ['BWT', (s) => formatStat(s.best.bwt)],
    ...(fwt ? [['FWT', (s: VariantSummary) => (s.best.fwt ? formatStat(s.best.fwt) : '—')] as [string, (s: VariantSummary) => string]] : []),
  ];
  const title = (g: string, r: ScenarioRun) => (g ? `${g} (${r.scenario})` : `${r.scenario}-incremental`);
  const head = `| method | ${groups.map(([g]) => runs.map((r) => title(g, r)).join(' | ')).join(' | ')} |`;
  const rule = `| --- |${' ---: |'.repeat(runs.length * groups.length)}`;
  const rows = variants.map((v) => `| ${v} | ${groups.map(([, pick]) => runs.map((r) => cell(r, v, pick)).join(' | ')).join(' | ')} |`);
  return [head, rule, ...rows].join('\n');
}

/** The published table of the preset (percent). */
export function publishedScenariosTable(preset: Preset): string {
  const rows = preset.publishedScenarios ?? [];
  return [
    '| method (paper) | variant here | task-incremental | domain-incremental | class-incremental |',
    '| --- | --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.method} | ${r.variant ?? '—'} | ${r.task ?? '—'} | ${r.domain ?? '—'} | ${r.class ?? '—'} |`),
  ].join('\n');
}

export function scenariosMarkdown(preset: Preset, runs: readonly ScenarioRun[], ctx: { data: string; seconds: number; command: string }): string {
  return [
    `# ${preset.title}`,
    '',
    `Protocol: ${preset.protocol}`,
    '',
    `Data: ${ctx.data}. Command: \`${ctx.command}\`. Wall time: ${(ctx.seconds / 60).toFixed(1)} min.`,
    '',
    `Output heads: ${(preset.scenarios ?? []).map((sc) => `${sc}-incremental ${HEAD_WORDS[preset.heads?.[sc] ?? 'shared']}`).join('; ')}.`,
    '',
    '## Measured: average accuracy over the 5 tasks after the last (mean ± std over seeds), forgetting, BWT and FWT',
    '',
    scenariosTable(runs),
    '',
    '![average accuracy per scenario](scenarios.svg)',
    '',
    `## Published: ${preset.publishedMetric} (%, mean ± SEM)`,
    '',
    publishedScenariosTable(preset),
    '',
    'Each scenario has its own folder (report.md: accuracy matrices, curves; results.json).',
    '',
  ].join('\n');
}
