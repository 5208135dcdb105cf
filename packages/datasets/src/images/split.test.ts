import { describe, expect, it } from 'vitest';
import { splitIndices } from './split.js';

// 3 classes of 50, 30 and 3 examples, interleaved
const labels = Int32Array.from([...Array.from({ length: 80 }, (_, i) => (i % 8 < 5 ? 0 : 1)), 2, 2, 2]);
const count = (idx: Int32Array, c: number) => Array.from(idx).filter((i) => labels[i] === c).length;

describe('splitIndices', () => {
  it('is reproducible for a seed, different for another, disjoint and covering, stratified by class', () => {
    const a = splitIndices(labels, { validation: 0.2, test: 0.1, seed: 3 });
    expect(splitIndices(labels, { validation: 0.2, test: 0.1, seed: 3 })).toEqual(a);
    expect(splitIndices(labels, { validation: 0.2, test: 0.1, seed: 4 }).validation).not.toEqual(a.validation);
    const all = [...a.train, ...a.validation, ...a.test].sort((p, q) => p - q);
    expect(all).toEqual(Array.from({ length: labels.length }, (_, i) => i));
    // per class: round(n·0.2) validation and round(n·0.1) test; the class of 3 keeps one in each split
    expect([0, 1, 2].map((c) => [count(a.train, c), count(a.validation, c), count(a.test, c)])).toEqual([
      [35, 10, 5],
      [21, 6, 3],
      [1, 1, 1],
    ]);
    for (const s of [a.train, a.validation, a.test]) expect(Array.from(s)).toEqual([...s].sort((p, q) => p - q));
  });

  it('fills train first for tiny classes, splits the whole set when not stratified, and refuses bad fractions', () => {
    const tiny = splitIndices(Int32Array.from([0, 0, 1]), { validation: 0.5, test: 0.4 });
    expect([tiny.train.length, tiny.validation.length, tiny.test.length]).toEqual([2, 1, 0]);
    const flat = splitIndices(labels, { test: 0.25, stratified: false, seed: 1 });
    expect([flat.train.length, flat.validation.length, flat.test.length]).toEqual([62, 0, 21]);
    expect(splitIndices(labels).train.length).toBe(labels.length);
    expect(() => splitIndices(labels, { validation: 1 })).toThrow(/validation must be a fraction in \[0, 1\), got 1/);
    expect(() => splitIndices(labels, { test: -0.1 })).toThrow(/test must be a fraction/);
    expect(() => splitIndices(labels, { validation: 0.6, test: 0.4 })).toThrow(/sum below 1/);
  });
});
