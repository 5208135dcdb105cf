/**
 * What an experiment's runs say, per variant and λ: the average accuracy after each task
 * (mean_{j≤i} R[i][j]), its final value, forgetting (Chaudhry et al. 2018) and BWT (Lopez-Paz &
 * Ranzato 2017), each as mean ± sample standard deviation over seeds; the mean accuracy matrix; and
 * the best λ of a grid (the highest mean final average accuracy).
 *
 * Browser-safe: no node:* imports.
 */
import type { ExperimentResult, RunDivergence, RunRecord } from './run.js';

/** Mean and sample standard deviation (n − 1; NaN for one value) over seeds. */
export interface Stat {
  mean: number;
  std: number;
  n: number;
}

export function stat(values: readonly number[]): Stat {
  const xs = values.filter((v) => Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : Number.NaN;
  return { mean, std, n };
}

export interface LambdaSummary {
  variant: string;
  method: string;
  lambda: number;
  seeds: number[];
  /** Average accuracy after each task. */
  curve: Stat[];
  final: Stat;
  forgetting: Stat;
  bwt: Stat;
  /** Forward transfer, when the runs evaluated every task (`evaluateOn: 'all'`). */
  fwt?: Stat;
  /** Mean R[i][j] over seeds (NaN where not evaluated). */
  matrix: number[][];
  /**
   * Runs (seeds) that diverged. A λ where any did has no accuracy (curve, matrix, final, forgetting
   * and BWT are NaN, shown as —) and is never "best" unless every λ of the variant diverged.
   */
  diverged: number;
  /** The first diverged seed's divergence (where and why). */
  divergence?: RunDivergence;
  /** Mean seconds per run and mean training seconds per task. */
  seconds: number;
  trainSecondsPerTask: number;
}

export interface VariantSummary {
  variant: string;
  method: string;
  /** One entry per λ, in grid order. */
  lambdas: LambdaSummary[];
  /** The λ with the best mean final average accuracy. */
  best: LambdaSummary;
}

function meanMatrix(runs: readonly RunRecord[]): number[][] {
  const rows = Math.max(...runs.map((r) => r.accuracy.length));
  const out: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const cols = Math.max(...runs.map((r) => r.accuracy[i]?.length ?? 0));
    const row: number[] = [];
    for (let j = 0; j < cols; j++) row.push(stat(runs.map((r) => r.accuracy[i]?.[j] ?? Number.NaN)).mean);
    out.push(row);
  }
  return out;
}

const NONE: Stat = { mean: Number.NaN, std: Number.NaN, n: 0 };

function summarizeLambda(runs: readonly RunRecord[]): LambdaSummary {
  const first = runs[0] as RunRecord;
  const tasks = Math.max(...runs.map((r) => r.averageAccuracy.length));
  const trainMs = runs.flatMap((r) => r.timings.map((t) => t.trainMs));
  const diverged = runs.filter((r) => r.diverged);
  const failed = diverged.length > 0;
  const divergence =
    diverged[0]?.divergence ??
    (diverged[0] ? { taskIndex: diverged[0].accuracy.length, task: '', reason: 'importance' as const, message: diverged[0].diverged as string } : undefined);
  const matrix = meanMatrix(runs);
  return {
    variant: first.variant,
    method: first.method,
    lambda: first.lambda,
    seeds: runs.map((r) => r.seed),
    curve: Array.from({ length: tasks }, (_, i) => (failed ? NONE : stat(runs.map((r) => r.averageAccuracy[i] ?? Number.NaN)))),
    final: failed ? NONE : stat(runs.map((r) => r.finalAverage)),
    diverged: diverged.length,
    ...(divergence ? { divergence } : {}),
    forgetting: failed ? NONE : stat(runs.map((r) => r.forgetting)),
    bwt: failed ? NONE : stat(runs.map((r) => r.bwt)),
    ...(runs.some((r) => r.fwt !== undefined) ? { fwt: failed ? NONE : stat(runs.map((r) => r.fwt ?? Number.NaN)) } : {}),
    matrix: failed ? matrix.map((row) => row.map(() => Number.NaN)) : matrix,
    seconds: stat(runs.map((r) => r.seconds)).mean,
    trainSecondsPerTask: trainMs.length ? trainMs.reduce((a, b) => a + b, 0) / trainMs.length / 1000 : Number.NaN,
  };
}

/** Summaries per variant, in the order the variants were configured. */
export function summarize(result: Pick<ExperimentResult, 'runs'>): VariantSummary[] {
  const byVariant = new Map<string, Map<number, RunRecord[]>>();
  for (const r of [...result.runs].sort((a, b) => a.index - b.index)) {
    if (r.cancelled) continue;
    const lambdas = byVariant.get(r.variant) ?? new Map<number, RunRecord[]>();
    byVariant.set(r.variant, lambdas);
    lambdas.set(r.lambda, [...(lambdas.get(r.lambda) ?? []), r]);
  }
  const out: VariantSummary[] = [];
  for (const [variant, lambdas] of byVariant) {
    const list = [...lambdas.values()].map(summarizeLambda);
    const best = list.reduce((b, x) => (x.final.mean > b.final.mean || (!Number.isFinite(b.final.mean) && Number.isFinite(x.final.mean)) ? x : b), list[0] as LambdaSummary);
    out.push({ variant, method: best.method, lambdas: list, best });
  }
  return out;
}

/** `diverged at task 1 step 2 (…)` (the first diverged seed's), with `(k of n seeds diverged)` over several seeds; '' when none did. */
export function divergenceText(l: Pick<LambdaSummary, 'diverged' | 'divergence' | 'seeds'>): string {
  if (!l.diverged) return '';
  const text = l.divergence?.message ?? 'diverged';
  return l.seeds.length > 1 ? `${text} (${l.diverged} of ${l.seeds.length} seeds diverged)` : text;
}

/** A run's cells on the page's summary: `diverged` and — for a diverged run, else the numbers. */
export function recordCells(r: Pick<RunRecord, 'finalAverage' | 'forgetting' | 'bwt' | 'diverged'>): { final: string; forgetting: string; bwt: string; title?: string } {
  if (r.diverged) return { final: 'diverged', forgetting: '—', bwt: '—', title: r.diverged };
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
  return { final: f(r.finalAverage), forgetting: f(r.forgetting), bwt: f(r.bwt) };
}

/** `0.912 ± 0.004` (or `0.912` for one seed); `—` for NaN. */
export function formatStat(s: Stat, digits = 3): string {
  if (!Number.isFinite(s.mean)) return '—';
  return Number.isFinite(s.std) ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
}

/** A layer × task surface of one importance pair (paper 3), from a run's correlation records. */
export interface CorrelationSurface {
  pair: string;
  layers: string[];
  tasks: string[];
  /** values[l][t]: the correlation on layer l after task t (the mean over runs, for `meanCorrelationSurfaces`). */
  values: number[][];
  /** How many runs (seeds) `values` averages: 1 for one run's surface. */
  runs?: number;
  /** std[l][t]: the sample standard deviation over those runs (NaN for one run). */
  std?: number[][];
}

/** Surfaces per pair, from records `{ taskIndex, task, pair, layer, pearson, spearman }`. */
export function correlationSurfaces(
  records: readonly { taskIndex: number; task: string; pair: string; layer: string; pearson: number; spearman: number }[],
  method: 'pearson' | 'spearman' = 'pearson',
): CorrelationSurface[] {
  const pairs = [...new Set(records.map((r) => r.pair))];
  return pairs.map((pair) => {
    const rows = records.filter((r) => r.pair === pair);
    const layers = [...new Set(rows.map((r) => r.layer))];
    const taskIdx = [...new Set(rows.map((r) => r.taskIndex))].sort((a, b) => a - b);
    const tasks = taskIdx.map((t) => rows.find((r) => r.taskIndex === t)?.task ?? String(t));
    const values = layers.map((l) => taskIdx.map((t) => rows.find((r) => r.layer === l && r.taskIndex === t)?.[method] ?? Number.NaN));
    return { pair, layers, tasks, values };
  });
}

/**
 * Surfaces per pair averaged over several runs (the seeds of paper 3's protocol): each cell the mean
 * of the runs' correlations on that layer after that task, with their sample standard deviation. The
 * runs must have recorded the same pairs, layers and tasks; a run that lacks a cell (it diverged or was
 * cancelled before that task) leaves it out of that cell's mean.
 */
export function meanCorrelationSurfaces(
  runs: readonly (readonly { taskIndex: number; task: string; pair: string; layer: string; pearson: number; spearman: number }[])[],
  method: 'pearson' | 'spearman' = 'pearson',
): CorrelationSurface[] {
  const per = runs.filter((r) => r.length > 0).map((r) => correlationSurfaces(r, method));
  const first = per[0];
  if (!first) return [];
  return first.map((base) => {
    const same = per.map((p) => p.find((s) => s.pair === base.pair));
    const cell = (l: number, t: number) =>
      same
        .map((s) => {
          const li = s ? s.layers.indexOf(base.layers[l] as string) : -1;
          return s && li >= 0 ? (s.values[li]?.[t] ?? Number.NaN) : Number.NaN;
        })
        .filter(Number.isFinite);
    const values = base.layers.map((_, l) => base.tasks.map((_, t) => stat(cell(l, t)).mean));
    const std = base.layers.map((_, l) => base.tasks.map((_, t) => stat(cell(l, t)).std));
    return { pair: base.pair, layers: base.layers, tasks: base.tasks, values, runs: per.length, std };
  });
}
