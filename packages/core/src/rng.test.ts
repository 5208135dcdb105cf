import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

describe('Rng', () => {
  it('is repeatable per seed and differs across seeds', () => {
    const a = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(7)),
    );
    const b = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(7)),
    );
    const c = Array.from(
      { length: 5 },
      (
        (r) => () =>
          r.next()
      )(new Rng(8)),
    );
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('normal samples have mean ≈ 0 and variance ≈ 1', () => {
    const r = new Rng(1);
    const n = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.04);
  });

  it('permutations are permutations, and forks are independent of the parent stream', () => {
    const p = new Rng(3).permutation(100);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const r = new Rng(3);
    const f1 = r.fork('a').next();
    r.next();
    expect(r.fork('a').next()).toBe(f1);
    expect(new Rng(3).fork('b').next()).not.toBe(f1);
  });
});

describe('Rng state', () => {
  it('fromState(getState()) continues the same stream, normal spares included', () => {
    const a = new Rng(7);
    a.next();
    a.normal();
    const b = Rng.fromState(JSON.parse(JSON.stringify(a.getState())));
    expect([a.normal(), a.next(), a.int(100)]).toEqual([b.normal(), b.next(), b.int(100)]);
    expect(a.fork('x').next()).toBe(b.fork('x').next());
  });
});
