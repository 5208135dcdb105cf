import { describe, expect, it } from 'vitest';
import { averageAccuracySpec, correlationSpec, lambdaSpec, matrixSpec, pruningSpec } from '@forgetless/experiments';
import { defaultConfig, PRESETS } from '@forgetless/experiments';
import type { ExperimentResult, RunRecord } from '@forgetless/experiments';
import { summarize } from '@forgetless/experiments';
import { surfacesOf } from '../cli/output.js';
import { reportMarkdown } from './markdown.js';
import { renderSvg, slug } from './svg.js';

const N = Number.NaN;
function record(index: number, variant: string, lambda: number, seed: number, R: number[][]): RunRecord {
  const avg = R.map((row, i) => row.slice(0, i + 1).reduce((a, b) => a + b, 0) / (i + 1));
  return {
    index,
    variant,
    method: variant.split(':')[0]?.split('@')[0] as string,
    lambda,
    seed,
    optimizer: 'adam',
    learningRate: 1e-3,
    accuracy: R,
    averageAccuracy: avg,
    timings: R.map((_, i) => ({ task: `t${i}`, trainMs: 2000, consolidateMs: 100, evalMs: 50, steps: 20 })),
    finalAverage: avg[avg.length - 1] as number,
    forgetting: 0.1,
    bwt: -0.1,
    cancelled: false,
    seconds: 7,
  };
}

const result: ExperimentResult = {
  config: {
    ...defaultConfig(),
    name: 'paper2-fc',
    seeds: [0, 1],
    variants: [
      { method: 'plain', lambdas: [0] },
      { method: 'ewc-fis', lambdas: [20.5, 41] },
    ],
  },
  tasks: ['p0', 'p1'],
  backend: 'cpu',
  cancelled: false,
  runs: [
    record(0, 'plain', 0, 0, [
      [0.97, N],
      [0.61, 0.97],
    ]),
    record(1, 'plain', 0, 1, [
      [0.96, N],
      [0.63, 0.97],
    ]),
    record(2, 'ewc-fis', 20.5, 0, [
      [0.97, N],
      [0.9, 0.95],
    ]),
    record(3, 'ewc-fis', 20.5, 1, [
      [0.96, N],
      [0.88, 0.95],
    ]),
    record(4, 'ewc-fis', 41, 0, [
      [0.97, N],
      [0.93, 0.94],
    ]),
    record(5, 'ewc-fis', 41, 1, [
      [0.96, N],
      [0.94, 0.95],
    ]),
  ],
};

describe('report.md', () => {
  const summaries = summarize(result);
  const md = reportMarkdown({ result, summaries, preset: PRESETS['paper2-fc'], data: 'test data', seconds: 12 });

  it('has per-method rows with the curve, final mean ± std, forgetting and BWT at the best λ', () => {
    // plain: (0.61 + 0.97)/2 = 0.79 and (0.63 + 0.97)/2 = 0.80 → 0.795 ± 0.007
    expect(md).toContain('| plain | — | 0.965 | 0.795 | 0.795 ± 0.007 | 0.100 ± 0.000 | -0.100 ± 0.000 |');
    // λ 41: 0.935 and 0.945 → 0.940; λ 20.5: 0.925 and 0.915 → 0.920, so 41 is best
    expect(md).toContain('| ewc-fis | 41 | 0.965 | 0.940 | 0.940 ± 0.007 |');
    expect(md).toContain('| **41** | 0.940 ± 0.007 |');
    expect(md).toContain('| 20.5 | 0.920 ± 0.007 |');
  });

  it("sets the paper's numbers beside the measured ones, and links the charts", () => {
    expect(md).toContain('| plain | — | 0.469 | — | 0.795 ± 0.007 | — | — |');
    expect(md).toContain('| ewc-fis | 41 | 0.951 | 41 | 0.940 ± 0.007 | +0.482 | +0.145 |');
    expect(md).toContain('| ewc-mas | 4.5 | 0.955 | not run | — |');
    for (const f of ['avg-accuracy.svg', 'matrix-plain.svg', 'matrix-ewc-fis.svg', 'lambda-ewc-fis.svg']) expect(md).toContain(`(${f})`);
  });
});

describe("report.md: paper 3's correlations", () => {
  it('averages every seed of the run (mean ± sd after the last task, the mean over tasks in brackets)', () => {
    const corr = (seed: number, ...last: number[]) =>
      ['dense_0', 'dense_1'].flatMap((layer, l) => [
        { taskIndex: 0, task: 'p0', pair: 'FIS vs MAS', layer, pearson: 0.5, spearman: 0.5 },
        { taskIndex: 1, task: 'p1', pair: 'FIS vs MAS', layer, pearson: last[l] as number, spearman: seed },
      ]);
    const runs = [0, 1].map((seed) => ({
      ...record(seed, 'ewc-mas', 4.5, seed, [
        [0.9, N],
        [0.8, 0.9],
      ]),
      correlations: corr(seed, seed ? 0.8 : 0.9, seed ? 0.2 : 0.4),
    }));
    const r: ExperimentResult = { ...result, config: { ...result.config, seeds: [0, 1], variants: [{ method: 'ewc-mas', lambdas: [4.5] }] }, runs };
    const md = reportMarkdown({ result: r, summaries: summarize(r), preset: PRESETS.paper3, data: 'test data', seconds: 12, correlations: surfacesOf(r) });
    expect(md).toContain('mean ± standard deviation over 2 seeds');
    // by hand: dense_0 after p1: 0.9 and 0.8 → 0.850 ± 0.071 (√0.005), over tasks (0.5 + 0.85)/2 = 0.675; dense_1: 0.4 and 0.2 → 0.300 ± 0.141, 0.400
    expect(md).toContain('| FIS vs MAS | 0.850 ± 0.071 (0.675) | 0.300 ± 0.141 (0.400) |');
  });
});

describe('charts', () => {
  const summaries = summarize(result);
  it('render to SVG with their data', async () => {
    const avg = await renderSvg(averageAccuracySpec(summaries));
    expect(avg.startsWith('<svg')).toBe(true);
    expect(avg).toMatch(/class="mark-text role-legend-label"[^>]*>.*ewc-fis \(λ 41\)/s); // a legend naming the method at its best λ
    const m = await renderSvg(matrixSpec(summaries[1]?.best as never));
    expect(m).toContain('accuracy: 0.935'); // the mean R[1][0] of ewc-fis at λ 41
    expect(await renderSvg(lambdaSpec(summaries[1] as never))).toContain('best 41');
    const corr = await renderSvg(
      correlationSpec([
        {
          pair: 'FIS vs MAS',
          layers: ['dense_0', 'dense_1'],
          tasks: ['a', 'b'],
          values: [
            [0.91, 0.8],
            [0.5, -0.2],
          ],
        },
      ]),
    );
    expect(corr).toContain('FIS vs MAS');
    expect(corr).toContain('−0.20'); // vega writes a typographic minus
    const pr = await renderSvg(pruningSpec([{ method: 'SIG', scope: 'global', sparsity: 0.9, accuracy: 0.81, paper: 0.896 }]));
    expect(pr).toContain('paper 2 (MNIST)');
  });

  it('slugs labels into file names', () => {
    expect(slug('wva-sig:exp:steps@adam')).toBe('wva-sig-exp-steps-adam');
  });
});
