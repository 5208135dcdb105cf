/**
 * A memory of past examples with a fixed budget, the store of experience replay (Rolnick et al. 2019;
 * Chaudhry et al. 2019, "On tiny episodic memories"). The budget counts examples in total or per class.
 * Selection:
 * - `reservoir` (Vitter 1985, algorithm R): the n-th example of the stream is kept with probability
 *   budget / n, in place of a uniformly chosen stored one, so the memory is a uniform sample of the
 *   stream at every moment. Per class: one reservoir of `budget` per class.
 * - `class-balanced` (class-balanced reservoir sampling, Chrysakis & Moens 2020): while full, a new
 *   example of a class that is not among the largest in memory replaces a random example of a
 *   largest class; one of a largest class replaces a random example of its own class with
 *   probability m_c / n_c (stored / seen of that class). Classes end with equal counts (±1).
 * - `herding` (Welling 2009; iCaRL, Rebuffi et al. 2017): at a task's end, per class, the examples
 *   whose running feature mean best approximates the class's mean feature, chosen greedily:
 *   p_k = argmin_i ‖μ − (φ_i + Σ_{j<k} φ_{p_j}) / k‖ on L2-normalised features φ. Stored in that order,
 *   so shrinking a class drops its last-chosen examples.
 *
 * Examples are stored as the float values a batch gave (after the source's scaling and permutation),
 * with their label and the index of the task they came from. Host memory: budget × example size floats.
 */
import { Rng, type RngState } from '@forgetless/core';

export type Selection = 'reservoir' | 'class-balanced' | 'herding';
export const SELECTIONS: readonly Selection[] = ['reservoir', 'class-balanced', 'herding'];

export interface ReplayMemoryOptions {
  /** Examples kept: in total (default) or per class (`per: 'class'`). */
  budget: number;
  per?: 'total' | 'class';
  /** Default 'reservoir'. */
  selection?: Selection;
  /** Seed of the memory's generator: which examples are kept and which are replayed (default 0). */
  seed?: number;
}

/** Examples drawn from or given to the memory: `x` holds n rows of `exampleSize` values. */
export interface Examples {
  x: Float32Array;
  y: Int32Array;
  task: Int32Array;
}

/** The memory's state without its examples (plain JSON). */
export interface ReplayMemoryMeta {
  selection: Selection;
  per: 'total' | 'class';
  budget: number;
  exampleSize: number;
  /** Examples offered so far: in total, and per class. */
  seen: number;
  seenPerClass: Record<string, number>;
  rng: RngState;
}

export class ReplayMemory {
  readonly budget: number;
  readonly per: 'total' | 'class';
  readonly selection: Selection;
  private rows: Float32Array[] = [];
  private labels: number[] = [];
  private tasks: number[] = [];
  private seen = 0;
  private seenPerClass = new Map<number, number>();
  private rng: Rng;
  private width = 0;

  constructor(options: ReplayMemoryOptions) {
    const { budget, per = 'total', selection = 'reservoir', seed = 0 } = options ?? ({} as ReplayMemoryOptions);
    if (!Number.isInteger(budget) || budget < 1) throw new Error(`replay memory: budget must be a positive integer, got ${budget}`);
    if (per !== 'total' && per !== 'class') throw new Error(`replay memory: per must be 'total' or 'class', got '${String(per)}'`);
    if (!SELECTIONS.includes(selection)) throw new Error(`replay memory: selection must be one of ${SELECTIONS.join(', ')}, got '${String(selection)}'`);
    this.budget = budget;
    this.per = per;
    this.selection = selection;
    this.rng = new Rng(seed);
  }

  /** Examples stored. */
  get size(): number {
    return this.rows.length;
  }

  /** Values per stored example (0 before the first). */
  get exampleSize(): number {
    return this.width;
  }

  /** Stored examples per class. */
  counts(): Map<number, number> {
    const out = new Map<number, number>();
    for (const c of this.labels) out.set(c, (out.get(c) ?? 0) + 1);
    return out;
  }

  /** A copy of every stored example, in storage order. */
  examples(): Examples {
    return this.gather(Array.from({ length: this.size }, (_, i) => i));
  }

  /**
   * Offers a stream of examples (reservoir and class-balanced selection); `x` holds `y.length` rows.
   * Herding memories ignore the stream: they choose at a task's end (`herd`).
   */
  add(x: Float32Array, y: ArrayLike<number>, task: number): void {
    if (this.selection === 'herding') return;
    const n = y.length;
    if (n === 0) return;
    const d = this.checkWidth(x.length / n);
    for (let r = 0; r < n; r++) {
      const c = y[r] as number;
      const row = () => x.slice(r * d, (r + 1) * d);
      this.seen++;
      const nc = (this.seenPerClass.get(c) ?? 0) + 1;
      this.seenPerClass.set(c, nc);
      if (this.per === 'class') this.offerPerClass(c, nc, row, task);
      else if (this.selection === 'reservoir') this.offerReservoir(c, row, task);
      else this.offerBalanced(c, nc, row, task);
    }
  }

  /** Algorithm R over the whole stream. */
  private offerReservoir(c: number, row: () => Float32Array, task: number): void {
    if (this.size < this.budget) {
      this.push(row(), c, task);
      return;
    }
    const j = this.rng.int(this.seen);
    if (j < this.budget) this.put(j, row(), c, task);
  }

  /** Algorithm R within the class: its n_c-th example is kept with probability budget / n_c. */
  private offerPerClass(c: number, nc: number, row: () => Float32Array, task: number): void {
    const mine = this.indicesOf(c);
    if (mine.length < this.budget) {
      this.push(row(), c, task);
      return;
    }
    const j = this.rng.int(nc);
    if (j < this.budget) this.put(mine[j] as number, row(), c, task);
  }

  /** Class-balanced reservoir sampling (Chrysakis & Moens 2020). */
  private offerBalanced(c: number, nc: number, row: () => Float32Array, task: number): void {
    if (this.size < this.budget) {
      this.push(row(), c, task);
      return;
    }
    const counts = this.counts();
    const largest = Math.max(...counts.values());
    if ((counts.get(c) ?? 0) < largest) {
      const big = [...counts.entries()].filter(([, k]) => k === largest).map(([cls]) => cls);
      const victimClass = big[this.rng.int(big.length)] as number;
      const victims = this.indicesOf(victimClass);
      this.put(victims[this.rng.int(victims.length)] as number, row(), c, task);
      return;
    }
    const mine = this.indicesOf(c);
    if (this.rng.next() * nc < mine.length) this.put(mine[this.rng.int(mine.length)] as number, row(), c, task);
  }

  /**
   * Herding selection for the classes of one task: `features` holds one row of `featureSize` values
   * per example of `x` (the model's representation, e.g. its penultimate layer). Keeps, per class of
   * `y`, the m examples chosen by herding, where m is the budget (per class) or ⌊budget / classes
   * stored⌋ (in total, old classes shrunk to the same m).
   */
  herd(x: Float32Array, y: ArrayLike<number>, features: Float32Array, task: number): void {
    const n = y.length;
    if (n === 0) return;
    const d = this.checkWidth(x.length / n);
    const f = features.length / n;
    if (!Number.isInteger(f) || f < 1) throw new Error(`replay memory: ${features.length} feature values for ${n} examples`);
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < n; i++) byClass.set(y[i] as number, [...(byClass.get(y[i] as number) ?? []), i]);
    for (const [c, k] of byClass) this.seenPerClass.set(c, (this.seenPerClass.get(c) ?? 0) + k.length);
    this.seen += n;
    const classes = new Set([...this.labels, ...byClass.keys()]);
    const m = this.per === 'class' ? this.budget : Math.floor(this.budget / classes.size);
    // old classes shrink to m (their herding order is their priority order)
    const keep: number[] = [];
    const kept = new Map<number, number>();
    for (let i = 0; i < this.size; i++) {
      const c = this.labels[i] as number;
      if (byClass.has(c)) continue; // a class seen again is herded afresh
      const k = kept.get(c) ?? 0;
      if (k < m) {
        keep.push(i);
        kept.set(c, k + 1);
      }
    }
    const old = this.gather(keep);
    this.rows = [];
    this.labels = [];
    this.tasks = [];
    for (let i = 0; i < keep.length; i++) this.push(old.x.slice(i * d, (i + 1) * d), old.y[i] as number, old.task[i] as number);
    for (const [c, members] of [...byClass.entries()].sort((a, b) => a[0] - b[0])) {
      for (const i of herding(features, f, members, m)) this.push(x.slice(i * d, (i + 1) * d), c, task);
    }
  }

  /** `k` distinct stored examples drawn uniformly (all of them, shuffled, when k ≥ size). */
  sample(k: number): Examples {
    const n = this.size;
    const take = Math.min(Math.max(0, Math.floor(k)), n);
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < take; i++) {
      const j = i + this.rng.int(n - i);
      const t = idx[i] as number;
      idx[i] = idx[j] as number;
      idx[j] = t;
    }
    return this.gather(idx.slice(0, take));
  }

  /** The state to checkpoint: the examples and the generator's position. */
  getState(): { examples: Examples; meta: ReplayMemoryMeta } {
    return {
      examples: this.examples(),
      meta: {
        selection: this.selection,
        per: this.per,
        budget: this.budget,
        exampleSize: this.width,
        seen: this.seen,
        seenPerClass: Object.fromEntries(this.seenPerClass),
        rng: this.rng.getState(),
      },
    };
  }

  /** Restores a state from `getState` of a memory configured alike. */
  setState(state: { examples: Examples; meta: ReplayMemoryMeta }): void {
    const { examples, meta } = state;
    for (const key of ['selection', 'per', 'budget'] as const) {
      if (meta[key] !== this[key]) throw new Error(`replay memory: the saved ${key} is ${JSON.stringify(meta[key])}, this memory's is ${JSON.stringify(this[key])}`);
    }
    const n = examples.y.length;
    if (examples.task.length !== n || (n > 0 && examples.x.length !== n * meta.exampleSize)) throw new Error('replay memory: the saved examples do not match their sizes');
    this.width = meta.exampleSize;
    this.rows = Array.from({ length: n }, (_, i) => examples.x.slice(i * this.width, (i + 1) * this.width));
    this.labels = Array.from(examples.y);
    this.tasks = Array.from(examples.task);
    this.seen = meta.seen;
    this.seenPerClass = new Map(Object.entries(meta.seenPerClass).map(([c, k]) => [Number(c), k]));
    this.rng = Rng.fromState(meta.rng);
  }

  private checkWidth(d: number): number {
    if (!Number.isInteger(d) || d < 1) throw new Error(`replay memory: x does not hold whole examples (${d} values each)`);
    if (this.width === 0) this.width = d;
    if (d !== this.width) throw new Error(`replay memory: examples of ${d} values, but the memory holds examples of ${this.width}`);
    return d;
  }

  private push(row: Float32Array, c: number, task: number): void {
    this.rows.push(row);
    this.labels.push(c);
    this.tasks.push(task);
  }

  private put(i: number, row: Float32Array, c: number, task: number): void {
    this.rows[i] = row;
    this.labels[i] = c;
    this.tasks[i] = task;
  }

  private indicesOf(c: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.labels.length; i++) if (this.labels[i] === c) out.push(i);
    return out;
  }

  private gather(indices: readonly number[]): Examples {
    const d = this.width;
    const x = new Float32Array(indices.length * d);
    const y = new Int32Array(indices.length);
    const task = new Int32Array(indices.length);
    indices.forEach((i, r) => {
      x.set(this.rows[i] as Float32Array, r * d);
      y[r] = this.labels[i] as number;
      task[r] = this.tasks[i] as number;
    });
    return { x, y, task };
  }
}

/**
 * Herding (Welling 2009, as iCaRL uses it): up to m of `members` (example indices into `features`,
 * rows of f values), in the order chosen. Features are L2-normalised first.
 */
export function herding(features: Float32Array, f: number, members: readonly number[], m: number): number[] {
  const n = members.length;
  const take = Math.min(m, n);
  const phi = new Float64Array(n * f);
  const mu = new Float64Array(f);
  members.forEach((i, r) => {
    let norm = 0;
    for (let k = 0; k < f; k++) norm += (features[i * f + k] as number) ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < f; k++) {
      const v = (features[i * f + k] as number) / norm;
      phi[r * f + k] = v;
      mu[k] = (mu[k] as number) + v / n;
    }
  });
  const sum = new Float64Array(f);
  const used = new Uint8Array(n);
  const out: number[] = [];
  for (let step = 1; step <= take; step++) {
    let best = -1;
    let bestDist = Number.POSITIVE_INFINITY;
    for (let r = 0; r < n; r++) {
      if (used[r]) continue;
      let dist = 0;
      for (let k = 0; k < f; k++) {
        const e = (mu[k] as number) - ((sum[k] as number) + (phi[r * f + k] as number)) / step;
        dist += e * e;
      }
      if (dist < bestDist) {
        bestDist = dist;
        best = r;
      }
    }
    used[best] = 1;
    for (let k = 0; k < f; k++) sum[k] = (sum[k] as number) + (phi[best * f + k] as number);
    out.push(members[best] as number);
  }
  return out;
}
