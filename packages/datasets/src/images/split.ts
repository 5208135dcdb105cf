/**
 * Seeded train / validation / test splits of a labelled set, stratified by class by default.
 */
import { Rng } from '@forgetless/core';

export interface SplitIndicesOptions {
  /** Fraction of the examples held out for validation, in [0, 1). Default 0. */
  validation?: number;
  /** Fraction held out for test, in [0, 1). Default 0. The two fractions sum below 1. */
  test?: number;
  /** Default 0. The same seed and labels give the same split on every platform. */
  seed?: number;
  /** Split each class separately, so every split keeps the class proportions. Default true. */
  stratified?: boolean;
}

export interface Splits {
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

/**
 * Splits the positions 0..N−1 of `labels` into train, validation and test (each sorted ascending,
 * disjoint, together covering every position). Stratified (the default): within each class, a seeded
 * shuffle of its positions gives round(n_c·validation) to validation and round(n_c·test) to test, and
 * the rest to train; a class with enough examples keeps at least one in every split whose fraction is
 * above 0, filled in the order train, validation, test (so a class of 2 with both fractions above 0
 * gives one to train and one to validation). Not stratified: the same on the whole set.
 */
export function splitIndices(labels: Int32Array | Uint8Array | readonly number[], options: SplitIndicesOptions = {}): Splits {
  const v = options.validation ?? 0;
  const t = options.test ?? 0;
  for (const [name, f] of [
    ['validation', v],
    ['test', t],
  ] as const) {
    if (!(f >= 0 && f < 1)) throw new Error(`splitIndices: ${name} must be a fraction in [0, 1), got ${f}`);
  }
  if (v + t >= 1) throw new Error(`splitIndices: validation ${v} + test ${t} = ${v + t} leaves nothing to train on (the fractions must sum below 1)`);
  const rng = new Rng(options.seed ?? 0);
  const groups = new Map<number, number[]>();
  if (options.stratified ?? true) {
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i] as number;
      let g = groups.get(l);
      if (!g) groups.set(l, (g = []));
      g.push(i);
    }
  } else {
    groups.set(
      0,
      Array.from({ length: labels.length }, (_, i) => i),
    );
  }
  const train: number[] = [];
  const validation: number[] = [];
  const test: number[] = [];
  // classes in label order, so the random stream does not depend on which class appears first
  for (const label of [...groups.keys()].sort((a, b) => a - b)) {
    const members = rng.fork(label).shuffle(groups.get(label) as number[]);
    const n = members.length;
    let nv = Math.round(n * v);
    let nt = Math.round(n * t);
    // at least one per non-empty split when the class is big enough, train first
    if (v > 0 && nv === 0 && n >= 2) nv = 1;
    if (t > 0 && nt === 0 && n >= 2 + (v > 0 ? 1 : 0)) nt = 1;
    while (nv + nt > n - 1 && nv + nt > 0) {
      if (nt >= nv && nt > 0) nt--;
      else nv--;
    }
    validation.push(...members.slice(0, nv));
    test.push(...members.slice(nv, nv + nt));
    train.push(...members.slice(nv + nt));
  }
  const sorted = (a: number[]) => Int32Array.from(a).sort();
  return { train: sorted(train), validation: sorted(validation), test: sorted(test) };
}
