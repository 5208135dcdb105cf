/**
 * The output folder of a run: results.json (config, every run's accuracy matrix and per-task
 * timings, the summaries), report.md, and the SVG charts (avg-accuracy.svg, matrix-<method>.svg,
 * lambda-<method>.svg for grids, correlations.svg for paper 3).
 */
import { join } from 'node:path';
import { writeFileAtomic } from '@forgetless/core/node';
import { type ChartSpec, averageAccuracySpec, correlationSpec, lambdaSpec, matrixSpec } from '@forgetless/experiments';
import type { Preset } from '@forgetless/experiments';
import type { ExperimentResult } from '@forgetless/experiments';
import { type CorrelationSurface, type VariantSummary, meanCorrelationSurfaces, summarize } from '@forgetless/experiments';
import { reportMarkdown } from '../report/markdown.js';
import { renderSvg, slug } from '../report/svg.js';
import { toJson } from './json.js';

export interface OutputContext {
  preset?: Preset;
  data: string;
  seconds: number;
  command?: string;
  /** A partial sweep's note (`sweep --collect --partial`): shown under the title, kept in results.json. */
  partial?: string;
}

/** The charts of a result, by file name. */
export function chartSpecs(summaries: readonly VariantSummary[], surfaces: readonly CorrelationSurface[]): Record<string, ChartSpec> {
  const charts: Record<string, ChartSpec> = { 'avg-accuracy.svg': averageAccuracySpec(summaries) };
  for (const s of summaries) {
    charts[`matrix-${slug(s.variant)}.svg`] = matrixSpec(s.best);
    if (s.lambdas.length > 1) charts[`lambda-${slug(s.variant)}.svg`] = lambdaSpec(s);
  }
  if (surfaces.length) charts['correlations.svg'] = correlationSpec(surfaces);
  return charts;
}

/**
 * Surfaces of the first run that recorded correlations (paper 3 runs one variant at one λ), averaged
 * over every seed of that variant and λ (mean and standard deviation per cell).
 */
export function surfacesOf(result: ExperimentResult): CorrelationSurface[] {
  const run = result.runs.find((r) => r.correlations?.length);
  if (!run) return [];
  const same = result.runs.filter((r) => r.variant === run.variant && r.lambda === run.lambda && r.correlations?.length);
  return meanCorrelationSurfaces(same.map((r) => r.correlations ?? []));
}

/** Writes everything; returns the files written (relative to `dir`). */
export async function writeOutputs(dir: string, result: ExperimentResult, ctx: OutputContext): Promise<{ files: string[]; summaries: VariantSummary[] }> {
  const summaries = summarize(result);
  const surfaces = surfacesOf(result);
  const files: string[] = [];
  const write = async (name: string, text: string) => {
    await writeFileAtomic(join(dir, name), text);
    files.push(name);
  };
  await write(
    'results.json',
    toJson({
      format: 'forgetless-results',
      formatVersion: 1,
      ...(ctx.preset ? { preset: { name: ctx.preset.name, paper: ctx.preset.paper, published: ctx.preset.published, publishedMetric: ctx.preset.publishedMetric } } : {}),
      data: ctx.data,
      seconds: ctx.seconds,
      ...(ctx.command ? { command: ctx.command } : {}),
      ...(ctx.partial ? { partial: ctx.partial } : {}),
      ...result,
      summaries,
    }),
  );
  await write(
    'report.md',
    reportMarkdown({
      result,
      summaries,
      data: ctx.data,
      seconds: ctx.seconds,
      ...(ctx.preset ? { preset: ctx.preset } : {}),
      ...(ctx.command ? { command: ctx.command } : {}),
      ...(ctx.partial ? { partial: ctx.partial } : {}),
      ...(surfaces.length ? { correlations: surfaces } : {}),
    }),
  );
  for (const [name, spec] of Object.entries(chartSpecs(summaries, surfaces))) await write(name, await renderSvg(spec));
  return { files, summaries };
}
