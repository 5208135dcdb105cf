import { Rng } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { selectSmallest } from './rank.js';

/** Reference: sort every (value, array, index) triple and take the first k. */
function reference(scores: Float32Array[], k: number): Set<string> {
  const all: [number, number, number][] = [];
  scores.forEach((s, a) => s.forEach((v, i) => all.push([v === 0 ? 0 : v, a, i])));
  all.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
  return new Set(all.slice(0, k).map(([, a, i]) => `${a}:${i}`));
}

function selected(flags: Uint8Array[]): Set<string> {
  const out = new Set<string>();
  flags.forEach((f, a) => f.forEach((v, i) => v && out.add(`${a}:${i}`)));
  return out;
}

describe('selectSmallest', () => {
  it('selects exactly the k smallest of continuous scores, over several arrays', () => {
    const rng = new Rng(1);
    const scores = [37, 1, 200, 64].map((n) => Float32Array.from({ length: n }, () => rng.normal() * 3));
    for (const k of [0, 1, 5, 150, 301, 302]) {
      const flags = selectSmallest(scores, k);
      expect(flags.reduce((n, f) => n + f.reduce((a, b) => a + b, 0), 0)).toBe(k);
      expect(selected(flags)).toEqual(reference(scores, k));
    }
  });

  it('breaks ties by array order, then by flat index (many equal values, −0 = +0)', () => {
    const rng = new Rng(2);
    // values in {−0, 0, 1, 2, 2.5}: ties everywhere
    const pool = [-0, 0, 1, 2, 2.5];
    const scores = [50, 20, 80].map((n) => Float32Array.from({ length: n }, () => pool[rng.int(pool.length)] as number));
    for (let k = 0; k <= 150; k += 7) expect(selected(selectSmallest(scores, k))).toEqual(reference(scores, k));
    // all equal: the first k entries in order
    const flat = [new Float32Array(4).fill(3), new Float32Array(6).fill(3)];
    expect([...selectSmallest(flat, 7).map((f) => [...f])]).toEqual([
      [1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0],
    ]);
  });

  it('orders negative values, infinities and values that share their high bits', () => {
    const a = Float32Array.from([5, -1e30, Number.POSITIVE_INFINITY, -0.5, Number.NEGATIVE_INFINITY, 1e-40, 1.0000001, 1]);
    const b = Float32Array.from([1, 1.0000001, -0.5, 0]);
    for (let k = 0; k <= 12; k++) expect(selected(selectSmallest([a, b], k))).toEqual(reference([a, b], k));
  });

  it('gives the same answer as a sort on a large map with few distinct values', () => {
    const rng = new Rng(3);
    const scores = [Float32Array.from({ length: 20000 }, () => Math.round(rng.next() * 50) / 7)];
    expect(selected(selectSmallest(scores, 12345))).toEqual(reference(scores, 12345));
  });

  it('rejects NaN scores (naming the array) and k out of range', () => {
    expect(() => selectSmallest([Float32Array.from([1, Number.NaN])], 1, ['dense_0/kernel'])).toThrow(/'dense_0\/kernel' has a NaN score at flat index 1/);
    expect(() => selectSmallest([new Float32Array(3)], 4)).toThrow(/k must be an integer in \[0, 3\], got 4/);
    expect(() => selectSmallest([new Float32Array(3)], 1.5)).toThrow(/got 1.5/);
  });
});
