/**
 * Group importance and the choice of groups to remove. A group's score reduces the importances I
 * of every entry of every slice it carries (its filters, biases, normalisation vectors and the
 * next layers' input rows; state such as moving statistics has no importance):
 *   l1: Σ |I|,   l2: √(Σ I²),   mean: Σ I / n   (n entries),   abs-sum: |Σ I|,
 * as Torch-Pruning's group importance (Fang et al. 2023). Any importance map works: magnitude |θ|,
 * SIG, FIS, MAS, SI, or a Taylor score. `abs-sum` is for signed maps: on θ ⊙ ḡ it is the group's
 * first-order Taylor score |Σ_S θ·ḡ| (Molchanov et al. 2019), the loss change when the whole group
 * goes, where l1 gives Σ_S |θ·ḡ| (each weight's own change, signs ignored). On a non-negative map
 * abs-sum equals l1.
 *
 * Groups are removed lowest score first until the target fraction of parameters, FLOPs or channels
 * is removed, never taking a layer below `minWidth` channels. `scope: 'layer'` ranks each group
 * within its layer (score → rank / count), so every layer loses about the same fraction.
 */
import type { ParamMap } from '@forgetless/core';
import type { ImportanceOptions } from '@forgetless/importances';
import type { ImportanceSpec } from '../importance.js';
import { type UnitScore, UNIT_SCORES } from '../structured.js';
import { type ChannelGroup, type ChannelSlice, type DependencyGroups, removableGroups } from './groups.js';

/** Host copies of importances by parameter name (row-major values). */
export type HostImportances = Readonly<Record<string, Float32Array>>;

/** Reads an importance map to host arrays. */
export async function hostImportances(importances: ParamMap): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [n, t] of Object.entries(importances)) out[n] = Float32Array.from((await t.data()) as Float32Array);
  return out;
}

/** Calls `visit(flatIndex)` for every entry of `shape` whose coordinate on `axis` is `index`. */
export function forEachInSlice(shape: readonly number[], axis: number, index: number, visit: (i: number) => void): void {
  const dim = shape[axis] as number;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  for (let o = 0; o < outer; o++) {
    const base = (o * dim + index) * inner;
    for (let k = 0; k < inner; k++) visit(base + k);
  }
}

/** How a group's importances reduce to its score: the unit scores and `abs-sum`, |Σ I|. */
export type GroupReduce = UnitScore | 'abs-sum';
export const GROUP_REDUCES: readonly GroupReduce[] = [...UNIT_SCORES, 'abs-sum'];

export function checkGroupReduce(value: unknown, what: string): GroupReduce {
  if (!GROUP_REDUCES.includes(value as GroupReduce)) throw new Error(`${what}: reduce must be one of ${GROUP_REDUCES.join(', ')}, got '${String(value)}'`);
  return value as GroupReduce;
}

/**
 * The reduce and importance options a structural pruning by `importance` uses. With `taylor`, the
 * default reduce is `abs-sum` on the signed map θ ⊙ ḡ (Molchanov 2019's group score |Σ_S θ·ḡ|);
 * with `taylor` and l1/l2/mean the per-weight |θ ⊙ ḡ| is reduced. Every other importance: l1.
 */
export function groupImportance(
  importance: ImportanceSpec,
  reduce: GroupReduce | undefined,
  importanceOptions: ImportanceOptions | undefined,
  what: string,
): { reduce: GroupReduce; importanceOptions: ImportanceOptions | undefined } {
  const taylor = importance === 'taylor';
  const r = checkGroupReduce(reduce ?? (taylor ? 'abs-sum' : 'l1'), what);
  if (!taylor) return { reduce: r, importanceOptions };
  return { reduce: r, importanceOptions: { ...importanceOptions, signed: r === 'abs-sum' } };
}

/** One score per group (NaN for groups without removable channels or importances). */
export function groupScores(deps: DependencyGroups, importances: HostImportances, reduce: GroupReduce = 'l1'): Float64Array {
  const out = new Float64Array(deps.groups.length).fill(Number.NaN);
  for (const g of deps.groups) {
    if (g.channels.length === 0) continue;
    let sum = 0;
    let n = 0;
    for (const s of g.slices) {
      const values = importances[s.param];
      if (!values) continue;
      forEachInSlice(deps.shapes[s.param] as number[], s.axis, s.index, (i) => {
        const v = values[i] as number;
        sum += reduce === 'l2' ? v * v : reduce === 'l1' ? Math.abs(v) : v;
        n++;
      });
    }
    if (n > 0) out[g.id] = reduce === 'l2' ? Math.sqrt(sum) : reduce === 'mean' ? sum / n : reduce === 'abs-sum' ? Math.abs(sum) : sum;
  }
  return out;
}

export interface StructureTarget {
  /** Fraction of the model's parameters (`countParams`) to remove, in [0, 1). */
  params?: number;
  /** Fraction of the FLOPs (dense and convolution kernels' multiply-adds ×2) to remove. */
  flops?: number;
  /** Fraction of the removable channels to remove. */
  channels?: number;
}

export interface SelectOptions {
  target: StructureTarget;
  /** Rank over all groups (default) or within each layer. */
  scope?: 'global' | 'layer';
  /** Fewest channels a producer layer keeps (default 1). */
  minWidth?: number;
}

export interface StructureCounts {
  params: number;
  flops: number;
  /** Channels that may be removed (producers' units outside protected groups). */
  channels: number;
}

export interface Selection {
  /** Ids of the groups to remove, in the order chosen. */
  removed: number[];
  before: StructureCounts;
  after: StructureCounts;
}

/** Tracks the kept size of every axis of every tensor as groups go. */
class Counter {
  private readonly kept = new Map<string, number[]>();
  private readonly gone = new Map<string, Set<number>>();
  params = 0;
  flops = 0;
  channels = 0;
  constructor(private readonly deps: DependencyGroups) {
    const trainable = new Set(deps.trainable);
    for (const [n, s] of Object.entries(deps.shapes)) {
      this.kept.set(n, [...s]);
      const size = s.reduce((a, b) => a * b, 1);
      if (trainable.has(n)) this.params += size;
      this.flops += (deps.flopsPerEntry[n] ?? 0) * size;
    }
    this.channels = removableGroups(deps).reduce((n, g) => n + g.channels.length, 0);
  }
  counts(): StructureCounts {
    return { params: this.params, flops: this.flops, channels: this.channels };
  }
  remove(g: ChannelGroup): void {
    const trainable = new Set(this.deps.trainable);
    const touched = new Map<string, ChannelSlice[]>();
    for (const s of g.slices) touched.set(s.param, [...(touched.get(s.param) ?? []), s]);
    for (const [param, slices] of touched) {
      const k = this.kept.get(param) as number[];
      const before = k.reduce((a, b) => a * b, 1);
      for (const s of slices) {
        const key = `${param}#${s.axis}`;
        const set = this.gone.get(key) ?? new Set<number>();
        if (set.has(s.index)) continue;
        set.add(s.index);
        this.gone.set(key, set);
        k[s.axis] = (k[s.axis] as number) - 1;
      }
      const after = k.reduce((a, b) => a * b, 1);
      if (trainable.has(param)) this.params -= before - after;
      this.flops -= (this.deps.flopsPerEntry[param] ?? 0) * (before - after);
    }
    this.channels -= g.channels.length;
  }
}

/** The parameter, FLOP and channel counts of a model after removing `removed` groups (all: none). */
export function structureCounts(deps: DependencyGroups, removed: Iterable<number> = []): StructureCounts {
  const c = new Counter(deps);
  for (const id of removed) c.remove(deps.groups[id] as ChannelGroup);
  return c.counts();
}

function checkFraction(v: unknown, what: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new Error(`selectGroups: ${what} must be a fraction in [0, 1), got ${String(v)}`);
  return v;
}

/** The groups to remove, lowest score first, to reach the target (see the module comment). */
export function selectGroups(deps: DependencyGroups, scores: Float64Array, options: SelectOptions): Selection {
  const { target } = options;
  const keys = (['params', 'flops', 'channels'] as const).filter((k) => target?.[k] !== undefined);
  if (keys.length !== 1) throw new Error(`selectGroups: give exactly one target (params, flops or channels), got ${keys.length ? keys.join(', ') : 'none'}`);
  const key = keys[0] as 'params' | 'flops' | 'channels';
  const fraction = checkFraction(target[key], `target.${key}`);
  const scope = options.scope ?? 'global';
  if (scope !== 'global' && scope !== 'layer') throw new Error(`selectGroups: scope must be 'global' or 'layer', got '${String(scope)}'`);
  const minWidth = options.minWidth ?? 1;
  if (!Number.isInteger(minWidth) || minWidth < 1) throw new Error(`selectGroups: minWidth must be a positive integer, got ${String(minWidth)}`);
  if (scores.length !== deps.groups.length) throw new Error(`selectGroups: ${scores.length} scores for ${deps.groups.length} groups`);

  const candidates = removableGroups(deps).filter((g) => !Number.isNaN(scores[g.id] as number));
  const rank = new Map<number, number>();
  if (scope === 'layer') {
    const byLayer = new Map<string, ChannelGroup[]>();
    for (const g of candidates) {
      const leader = (g.channels[0] as { layer: string }).layer;
      byLayer.set(leader, [...(byLayer.get(leader) ?? []), g]);
    }
    for (const list of byLayer.values()) {
      const sorted = [...list].sort((a, b) => (scores[a.id] as number) - (scores[b.id] as number) || a.id - b.id);
      sorted.forEach((g, i) => rank.set(g.id, (i + 0.5) / sorted.length));
    }
  } else for (const g of candidates) rank.set(g.id, scores[g.id] as number);
  const order = [...candidates].sort((a, b) => (rank.get(a.id) as number) - (rank.get(b.id) as number) || a.id - b.id);

  const counter = new Counter(deps);
  const before = counter.counts();
  const goal = fraction * before[key];
  const width = { ...deps.widths };
  const removed: number[] = [];
  const done = () => before[key] - counter.counts()[key] >= goal - 1e-9;
  for (const g of order) {
    if (done()) break;
    const take = new Map<string, number>();
    for (const c of g.channels) take.set(c.layer, (take.get(c.layer) ?? 0) + 1);
    if ([...take].some(([l, n]) => (width[l] as number) - n < minWidth)) continue;
    for (const [l, n] of take) width[l] = (width[l] as number) - n;
    counter.remove(g);
    removed.push(g.id);
  }
  return { removed, before, after: counter.counts() };
}
