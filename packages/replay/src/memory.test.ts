import { describe, expect, it } from 'vitest';
import { ReplayMemory, herding } from './memory.js';

/** A stream of `n` one-value examples whose value is their position, labels from `label`. */
function stream(n: number, label: (i: number) => number) {
  return { x: Float32Array.from({ length: n }, (_, i) => i), y: Int32Array.from({ length: n }, (_, i) => label(i)) };
}

describe('ReplayMemory', () => {
  it('reservoir sampling keeps a uniform sample of the stream (χ² over 10 position buckets, 300 streams)', () => {
    const N = 1000;
    const budget = 100;
    const trials = 300;
    const buckets = new Array(10).fill(0);
    const { x, y } = stream(N, (i) => i % 10);
    for (let s = 0; s < trials; s++) {
      const m = new ReplayMemory({ budget, seed: s });
      // offered in batches of 50, as a training loop would
      for (let b = 0; b < N; b += 50) m.add(x.subarray(b, b + 50), y.subarray(b, b + 50), 0);
      expect(m.size).toBe(budget);
      for (const v of m.examples().x) buckets[Math.floor(v / 100)]++;
    }
    const expected = (trials * budget) / 10;
    const chi2 = buckets.reduce((a, o) => a + (o - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: P(χ² > 21.67) = 0.01
    expect(chi2).toBeLessThan(21.67);
    // and the stream's late half is not favoured over its early half
    expect(Math.abs(buckets.slice(0, 5).reduce((a, b) => a + b) - buckets.slice(5).reduce((a, b) => a + b))).toBeLessThan(0.05 * trials * budget);
  });

  it('class-balanced selection ends with equal counts on an imbalanced stream', () => {
    const m = new ReplayMemory({ budget: 90, selection: 'class-balanced', seed: 1 });
    // class 0 floods first, then 1, then a rare class 2
    const { x, y } = stream(1000, (i) => (i < 600 ? 0 : i < 900 ? 1 : 2));
    m.add(x, y, 0);
    expect(Object.fromEntries(m.counts())).toEqual({ 0: 30, 1: 30, 2: 30 });
    // a fourth class arrives: 90 = 4 × 22 + 2
    const more = stream(200, () => 3);
    m.add(more.x, more.y, 1);
    const counts = [...m.counts().values()];
    expect(counts.reduce((a, b) => a + b)).toBe(90);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it('a per-class budget keeps min(budget, seen) of every class', () => {
    const m = new ReplayMemory({ budget: 20, per: 'class', seed: 2 });
    const { x, y } = stream(300, (i) => (i < 250 ? i % 2 : 2));
    m.add(x, y, 0);
    expect(Object.fromEntries(m.counts())).toEqual({ 0: 20, 1: 20, 2: 20 });
    const few = new ReplayMemory({ budget: 20, per: 'class' });
    few.add(Float32Array.of(1, 2, 3), Int32Array.of(5, 5, 6), 0);
    expect(Object.fromEntries(few.counts())).toEqual({ 5: 2, 6: 1 });
  });

  it('herding picks, in order, the examples whose running mean best matches the class mean; old classes shrink', () => {
    // 2-d features on the unit circle: the mean direction is (1, 0)
    const feats = Float32Array.of(1, 0, 0, 1, 0, -1, 0.8, 0.6);
    expect(herding(feats, 2, [0, 1, 2, 3], 4)[0]).toBe(0);
    const order = herding(feats, 2, [0, 1, 2, 3], 3);
    // after (1, 0), the mean of the pair closest to μ adds the opposite of the larger y-offset
    const mu = [0.45, 0];
    const dist = (a: number[]) => Math.hypot((a[0] as number) - (mu[0] as number), (a[1] as number) - (mu[1] as number));
    const pick2 = [1, 2, 3].map((r) => dist([(1 + (feats[2 * r] as number)) / 2, (feats[2 * r + 1] as number) / 2]));
    expect(order[1]).toBe([1, 2, 3][pick2.indexOf(Math.min(...pick2))]);
    const m = new ReplayMemory({ budget: 4, selection: 'herding' });
    m.herd(Float32Array.of(10, 11, 12, 13), Int32Array.of(0, 0, 1, 1), Float32Array.of(1, 0, 0, 1, 1, 0, 0, 1), 0);
    expect(m.size).toBe(4);
    m.herd(Float32Array.of(20, 21, 22, 23), Int32Array.of(2, 2, 3, 3), Float32Array.of(1, 0, 0, 1, 1, 0, 0, 1), 1);
    expect(Object.fromEntries(m.counts())).toEqual({ 0: 1, 1: 1, 2: 1, 3: 1 });
  });

  it('getState / setState continue the same selection and the same draws', () => {
    const a = new ReplayMemory({ budget: 30, seed: 4 });
    const { x, y } = stream(200, (i) => i % 3);
    a.add(x.subarray(0, 100), y.subarray(0, 100), 0);
    const saved = JSON.parse(JSON.stringify({ meta: a.getState().meta }));
    const ex = a.getState().examples;
    const b = new ReplayMemory({ budget: 30, seed: 99 });
    b.setState({ examples: ex, meta: saved.meta });
    a.add(x.subarray(100), y.subarray(100), 1);
    b.add(x.subarray(100), y.subarray(100), 1);
    expect(Array.from(b.examples().x)).toEqual(Array.from(a.examples().x));
    expect(Array.from(b.sample(10).x)).toEqual(Array.from(a.sample(10).x));
    expect(() => new ReplayMemory({ budget: 31 }).setState({ examples: ex, meta: saved.meta })).toThrow(/budget/);
  });
});
