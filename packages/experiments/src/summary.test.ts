import { describe, expect, it } from 'vitest';
import type { RunRecord } from './run.js';
import { correlationSurfaces, formatStat, meanCorrelationSurfaces, stat, summarize } from './summary.js';

const N = Number.NaN;
function record(index: number, variant: string, lambda: number, seed: number, R: number[][], extra: Partial<RunRecord> = {}): RunRecord {
  const avg = R.map((row, i) => row.slice(0, i + 1).reduce((a, b) => a + b, 0) / (i + 1));
  return {
    index,
    variant,
    method: variant.split(':')[0] as string,
    lambda,
    seed,
    optimizer: 'sgd',
    learningRate: 0.1,
    accuracy: R,
    averageAccuracy: avg,
    timings: R.map((_, i) => ({ task: `t${i}`, trainMs: 1000, consolidateMs: 10, evalMs: 5, steps: 10 })),
    finalAverage: avg[avg.length - 1] as number,
    forgetting: (R[0]?.[0] ?? 0) - (R[R.length - 1]?.[0] ?? 0),
    bwt: (R[R.length - 1]?.[0] ?? 0) - (R[0]?.[0] ?? 0),
    cancelled: false,
    seconds: 3,
    ...extra,
  };
}

describe('stat', () => {
  it('gives the mean and the sample standard deviation, NaN std for one value', () => {
    const s = stat([0.8, 0.9, 1.0]);
    expect(s.mean).toBeCloseTo(0.9, 12);
    expect(s.std).toBeCloseTo(0.1, 12); // sqrt(((−.1)² + 0 + .1²) / 2)
    expect(stat([0.5]).std).toBeNaN();
    expect(formatStat(s)).toBe('0.900 ± 0.100');
    expect(formatStat(stat([0.5]))).toBe('0.500');
    expect(formatStat(stat([]))).toBe('—');
  });
});

describe('summarize', () => {
  const runs = [
    record(0, 'plain', 0, 0, [
      [0.9, N],
      [0.5, 0.9],
    ]),
    record(1, 'plain', 0, 1, [
      [0.8, N],
      [0.6, 0.8],
    ]),
    record(2, 'ewc-fis', 1, 0, [
      [0.9, N],
      [0.7, 0.9],
    ]),
    record(3, 'ewc-fis', 1, 1, [
      [0.8, N],
      [0.7, 0.8],
    ]),
    record(4, 'ewc-fis', 10, 0, [
      [0.9, N],
      [0.85, 0.85],
    ]),
    record(5, 'ewc-fis', 10, 1, [
      [0.8, N],
      [0.8, 0.7],
    ]),
    record(6, 'ewc-fis', 100, 0, [[0.9, N]], { diverged: 'fisherDiagonal: NaN', finalAverage: N }),
    record(7, 'ewc-fis', 100, 1, [
      [0.8, N],
      [0.9, 0.9],
    ]),
  ];
  const [plain, ewc] = summarize({ runs });

  it('averages each λ over seeds: curve, final, forgetting, mean matrix', () => {
    expect(plain?.best.curve.map((s) => s.mean)).toEqual([expect.closeTo(0.85, 12), expect.closeTo(0.7, 12)]);
    expect(plain?.best.final.mean).toBeCloseTo(0.7, 12);
    expect(plain?.best.forgetting.mean).toBeCloseTo(0.3, 12);
    expect(plain?.best.matrix[1]?.[0]).toBeCloseTo(0.55, 12);
    expect(plain?.best.matrix[0]?.[1]).toBeNaN();
    expect(plain?.best.trainSecondsPerTask).toBe(1);
  });

  it('picks the λ with the best mean final average; a λ where a seed diverged is never best', () => {
    expect(ewc?.lambdas.map((l) => l.lambda)).toEqual([1, 10, 100]);
    expect(ewc?.lambdas.map((l) => l.final.mean)).toEqual([expect.closeTo(0.775, 12), expect.closeTo(0.8, 12), N]);
    expect(ewc?.lambdas[2]?.diverged).toBe(1);
    expect(ewc?.best.lambda).toBe(10);
    expect(ewc?.best.final.std).toBeCloseTo(Math.sqrt(((0.85 - 0.8) ** 2 + (0.75 - 0.8) ** 2) / 1), 12);
  });
});

describe('correlationSurfaces', () => {
  it('lays records out as layer × task per pair', () => {
    const recs = [
      { taskIndex: 0, task: 'a', pair: 'FIS vs MAS', layer: 'dense_0', pearson: 0.9, spearman: 0.8 },
      { taskIndex: 0, task: 'a', pair: 'FIS vs MAS', layer: 'dense_1', pearson: 0.5, spearman: 0.4 },
      { taskIndex: 1, task: 'b', pair: 'FIS vs MAS', layer: 'dense_0', pearson: 0.7, spearman: 0.6 },
      { taskIndex: 1, task: 'b', pair: 'FIS vs MAS', layer: 'dense_1', pearson: 0.3, spearman: 0.2 },
      { taskIndex: 0, task: 'a', pair: 'FIS vs SIG', layer: 'dense_0', pearson: -0.1, spearman: 0 },
    ];
    const [fm, fs] = correlationSurfaces(recs);
    expect(fm).toEqual({
      pair: 'FIS vs MAS',
      layers: ['dense_0', 'dense_1'],
      tasks: ['a', 'b'],
      values: [
        [0.9, 0.7],
        [0.5, 0.3],
      ],
    });
    expect(fs?.values).toEqual([[-0.1]]);
    expect(correlationSurfaces(recs, 'spearman')[0]?.values).toEqual([
      [0.8, 0.6],
      [0.4, 0.2],
    ]);
  });
});

describe('meanCorrelationSurfaces', () => {
  const rec = (taskIndex: number, layer: string, pearson: number) => ({ taskIndex, task: `t${taskIndex}`, pair: 'FIS vs MAS', layer, pearson, spearman: -pearson });
  it('averages the seeds cell by cell, with the sample standard deviation; a cell a run lacks is left out of its mean', () => {
    const seed0 = [rec(0, 'dense_0', 0.9), rec(0, 'dense_1', 0.5), rec(1, 'dense_0', 0.7), rec(1, 'dense_1', 0.3)];
    const seed1 = [rec(0, 'dense_0', 0.8), rec(0, 'dense_1', 0.1), rec(1, 'dense_0', 0.5), rec(1, 'dense_1', 0.2)];
    const seed2 = [rec(0, 'dense_0', 0.4), rec(0, 'dense_1', 0.3)]; // stopped after the first task
    const [s] = meanCorrelationSurfaces([seed0, seed1, seed2]);
    expect(s?.runs).toBe(3);
    expect(s?.layers).toEqual(['dense_0', 'dense_1']);
    // by hand: dense_0 after t0: (0.9 + 0.8 + 0.4) / 3 = 0.7, sd √((0.04 + 0.01 + 0.09) / 2) = √0.07
    expect(s?.values[0]?.[0]).toBeCloseTo(0.7, 12);
    expect(s?.std?.[0]?.[0]).toBeCloseTo(Math.sqrt(0.07), 12);
    // dense_1 after t1: seeds 0 and 1 only: 0.25, sd √((0.05² · 2) / 1)
    expect(s?.values[1]?.[1]).toBeCloseTo(0.25, 12);
    expect(s?.std?.[1]?.[1]).toBeCloseTo(Math.sqrt(2 * 0.05 ** 2), 12);
    expect(meanCorrelationSurfaces([seed0, seed1], 'spearman')[0]?.values[0]?.[1]).toBeCloseTo(-0.6, 12);
  });
  it('one run: its own surface, std NaN; no runs: none', () => {
    const seed0 = [rec(0, 'dense_0', 0.9)];
    const [s] = meanCorrelationSurfaces([seed0]);
    expect(s?.values).toEqual(correlationSurfaces(seed0)[0]?.values);
    expect(s?.std?.[0]?.[0]).toBeNaN();
    expect(meanCorrelationSurfaces([])).toEqual([]);
  });
});
