/**
 * Layer-by-layer correlation of two importance maps (paper 3, Kutalev 2022): Pearson's r of the
 * values, or Spearman's ρ (Pearson's r of their ranks, ties given their mean rank). Computed in
 * float64. A layer whose values are all equal in either map has no defined correlation: NaN.
 * Scopes: `kernel` (kernels and batchNorm γ), `bias` (biases and batchNorm β), `both`.
 */
import type { ParamMap } from '@forgetless/core';

export type CorrelationMethod = 'pearson' | 'spearman';
export type CorrelationScope = 'kernel' | 'bias' | 'both';

export interface CorrelationOptions {
  method?: CorrelationMethod;
  scope?: CorrelationScope;
}

export interface LayerCorrelation {
  /** Layer name, e.g. `dense_0`. */
  layer: string;
  /** The correlation coefficient, in [−1, 1] (NaN if undefined). */
  r: number;
  /** Number of values correlated. */
  n: number;
}

/** Pearson's r of two equally long sequences. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (y.length !== n) throw new Error(`pearson: lengths differ (${n} vs ${y.length})`);
  if (n === 0) return Number.NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return Number.NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Ranks 1..n, ties sharing the mean of the ranks they span (fractional ranking). */
export function ranks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (x[a] as number) - (x[b] as number));
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && x[order[j + 1] as number] === x[order[i] as number]) j++;
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k] as number] = mean;
    i = j + 1;
  }
  return r;
}

/** Spearman's ρ: Pearson's r of the fractional ranks. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (y.length !== x.length) throw new Error(`spearman: lengths differ (${x.length} vs ${y.length})`);
  return pearson(ranks(x), ranks(y));
}

const KERNEL = ['kernel', 'gamma'];
const BIAS = ['bias', 'beta'];

function inScope(local: string, scope: CorrelationScope): boolean {
  if (scope === 'both') return true;
  return (scope === 'kernel' ? KERNEL : BIAS).includes(local);
}

function split(name: string): [string, string] {
  const i = name.lastIndexOf('/');
  return i < 0 ? [name, ''] : [name.slice(0, i), name.slice(i + 1)];
}

export function checkCorrelationOptions(options: CorrelationOptions, what = 'correlate'): { method: CorrelationMethod; scope: CorrelationScope } {
  const method = options.method ?? 'pearson';
  const scope = options.scope ?? 'both';
  if (method !== 'pearson' && method !== 'spearman') throw new Error(`${what}: method must be 'pearson' or 'spearman', got '${String(method)}'`);
  if (!['kernel', 'bias', 'both'].includes(scope)) throw new Error(`${what}: scope must be 'kernel', 'bias' or 'both', got '${String(scope)}'`);
  return { method, scope };
}

/** The values of each layer's parameters in scope, concatenated in parameter order. */
async function layerValues(map: ParamMap, scope: CorrelationScope, transform?: (v: number) => number): Promise<Map<string, Float64Array>> {
  const parts = new Map<string, Float32Array[]>();
  for (const [name, t] of Object.entries(map)) {
    const [layer, local] = split(name);
    if (!inScope(local, scope)) continue;
    const list = parts.get(layer) ?? [];
    list.push((await t.data()) as Float32Array);
    parts.set(layer, list);
  }
  const out = new Map<string, Float64Array>();
  for (const [layer, list] of parts) {
    const all = new Float64Array(list.reduce((n, a) => n + a.length, 0));
    let off = 0;
    for (const a of list) {
      for (let i = 0; i < a.length; i++) all[off + i] = transform ? transform(a[i] as number) : (a[i] as number);
      off += a.length;
    }
    out.set(layer, all);
  }
  return out;
}

/** Per-layer correlation of `a` and `b` (same parameter names and shapes), in layer order. */
export async function correlate(a: ParamMap, b: ParamMap, options: CorrelationOptions = {}): Promise<LayerCorrelation[]> {
  const { method, scope } = checkCorrelationOptions(options);
  checkPair(a, b);
  return correlateValues(await layerValues(a, scope), await layerValues(b, scope), method);
}

function checkPair(a: ParamMap, b: ParamMap, what = 'correlate'): void {
  for (const [name, t] of Object.entries(a)) {
    const u = b[name];
    if (!u) throw new Error(`${what}: parameter '${name}' is missing from the second map`);
    if (u.size !== t.size || u.shape.length !== t.shape.length || u.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(`${what}: parameter '${name}' has shape [${t.shape}] in the first map and [${u.shape}] in the second`);
    }
  }
  for (const name of Object.keys(b)) if (!a[name]) throw new Error(`${what}: parameter '${name}' is missing from the first map`);
}

function correlateValues(va: Map<string, Float64Array>, vb: Map<string, Float64Array>, method: CorrelationMethod): LayerCorrelation[] {
  const f = method === 'pearson' ? pearson : spearman;
  return [...va.entries()].map(([layer, x]) => ({ layer, r: f(x, vb.get(layer) as Float64Array), n: x.length }));
}

export interface CorrelationTable {
  method: CorrelationMethod;
  scope: CorrelationScope;
  layers: string[];
  /** One row per pair: `A vs B` and, with FIS and MAS present, `FIS vs MAS²`; r by layer. */
  rows: { pair: string; a: string; b: string; r: Record<string, number> }[];
}

export interface CorrelationTableOptions extends CorrelationOptions {
  /**
   * Adds a row correlating map `fisher` with the square of map `mas` when both are present
   * (default ['FIS', 'MAS']; paper 3: FIS is close to MAS², since both are squares of gradients).
   */
  squaredPair?: [fisher: string, mas: string] | false;
}

/** Correlations of every pair of the named maps (in the order given), per layer. */
export async function correlationTable(maps: Record<string, ParamMap>, options: CorrelationTableOptions = {}): Promise<CorrelationTable> {
  const { method, scope } = checkCorrelationOptions(options, 'correlationTable');
  const names = Object.keys(maps);
  if (names.length < 2) throw new Error(`correlationTable: needs at least two maps, got ${names.length}`);
  const values = new Map<string, Map<string, Float64Array>>();
  for (const n of names) {
    checkPair(maps[names[0] as string] as ParamMap, maps[n] as ParamMap, `correlationTable ('${names[0]}' vs '${n}')`);
    values.set(n, await layerValues(maps[n] as ParamMap, scope));
  }
  const layers = [...(values.get(names[0] as string) as Map<string, Float64Array>).keys()];
  const rows: CorrelationTable['rows'] = [];
  const row = (pair: string, a: string, b: string, va: Map<string, Float64Array>, vb: Map<string, Float64Array>) => {
    const r: Record<string, number> = {};
    for (const c of correlateValues(va, vb, method)) r[c.layer] = c.r;
    rows.push({ pair, a, b, r });
  };
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = names[i] as string;
      const b = names[j] as string;
      row(`${a} vs ${b}`, a, b, values.get(a) as Map<string, Float64Array>, values.get(b) as Map<string, Float64Array>);
    }
  }
  const sq = options.squaredPair === undefined ? (['FIS', 'MAS'] as const) : options.squaredPair;
  if (sq && maps[sq[0]] && maps[sq[1]]) {
    const squared = await layerValues(maps[sq[1]] as ParamMap, scope, (v) => v * v);
    row(`${sq[0]} vs ${sq[1]}²`, sq[0], `${sq[1]}²`, values.get(sq[0]) as Map<string, Float64Array>, squared);
  }
  return { method, scope, layers, rows };
}
