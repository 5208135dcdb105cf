import { describe, expect, it } from 'vitest';
import { constantSparsity, iterative, oneShot, polynomialDecay } from './schedule.js';

describe('schedules', () => {
  it("polynomialDecay matches tfmot's formula at several steps (values worked by hand)", () => {
    // s_i 0.2, s_f 0.8, begin 100, end 200, power 3, frequency 10:
    // s(step) = 0.8 + (0.2 − 0.8)(1 − (step − 100)/100)³
    const s = polynomialDecay({ initialSparsity: 0.2, finalSparsity: 0.8, beginStep: 100, endStep: 200, power: 3, frequency: 10 });
    const want: [number, number, boolean][] = [
      [0, 0.2, false], // before begin: p clamps to 0
      [100, 0.2, true],
      [110, 0.8 - 0.6 * 0.729, true], // (0.9)³ = 0.729 → 0.3626
      [125, 0.8 - 0.6 * 0.421875, false], // (0.75)³, not a pruning turn
      [150, 0.8 - 0.6 * 0.125, true], // 0.725
      [190, 0.8 - 0.6 * 0.001, true], // 0.7994
      [200, 0.8, true],
      [210, 0.8, false], // after end: p clamps to 1, no pruning
    ];
    for (const [step, sparsity, prune] of want) {
      const d = s.at(step);
      expect(d.sparsity, `step ${step}`).toBeCloseTo(sparsity, 12);
      expect(d.prune, `step ${step}`).toBe(prune);
    }
    // power 1 is linear; power 2 at the midpoint: 0.1 + (0 − 0.1)·0... worked: s_i 0, s_f 0.5 → 0.5 − 0.5·0.25 = 0.375
    expect(polynomialDecay({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 0, endStep: 10, power: 2, frequency: 1 }).at(5).sparsity).toBeCloseTo(0.375, 12);
    expect(polynomialDecay({ initialSparsity: 0.1, finalSparsity: 0.9, beginStep: 0, endStep: 4, power: 1, frequency: 1 }).at(1).sparsity).toBeCloseTo(0.3, 12);
    expect(s.config()).toEqual({ class_name: 'PolynomialDecay', config: { initial_sparsity: 0.2, final_sparsity: 0.8, power: 3, begin_step: 100, end_step: 200, frequency: 10 } });
  });

  it('constantSparsity prunes every frequency steps in [begin, end], forever with end −1', () => {
    const c = constantSparsity(0.6, { beginStep: 5, endStep: 25, frequency: 10 });
    expect([0, 5, 10, 15, 25, 35].map((st) => c.at(st).prune)).toEqual([false, true, false, true, true, false]);
    const f = constantSparsity(0.6, { beginStep: 0, frequency: 100 });
    expect(f.at(100000).prune).toBe(true);
    expect(f.at(100001).prune).toBe(false);
  });

  it('oneShot and iterative prune at their steps', () => {
    const o = oneShot(0.9, { step: 3 });
    expect([0, 3, 4].map((st) => o.at(st))).toEqual([
      { prune: false, sparsity: 0.9 },
      { prune: true, sparsity: 0.9 },
      { prune: false, sparsity: 0.9 },
    ]);
    const it3 = iterative([0.5, 0.75, 0.9], { every: 100, beginStep: 10 });
    expect([10, 50, 110, 210, 310].map((st) => it3.at(st))).toEqual([
      { prune: true, sparsity: 0.5 },
      { prune: false, sparsity: 0.5 },
      { prune: true, sparsity: 0.75 },
      { prune: true, sparsity: 0.9 },
      { prune: false, sparsity: 0.9 },
    ]);
    expect(it3.at(0)).toEqual({ prune: false, sparsity: 0 });
  });

  it('rejects bad settings, naming the value', () => {
    expect(() => polynomialDecay({ initialSparsity: 0, finalSparsity: 1, beginStep: 0, endStep: 10 })).toThrow(/finalSparsity must be in \[0, 1\).*got 1/);
    expect(() => polynomialDecay({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 10, endStep: 10 })).toThrow(/endStep \(10\) must be > beginStep \(10\)/);
    expect(() => polynomialDecay({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 0, endStep: 10, frequency: 0 })).toThrow(/frequency must be an integer ≥ 1, got 0/);
    expect(() => oneShot(Number.NaN)).toThrow(/got NaN/);
    expect(() => iterative([0.5, 0.4], { every: 10 })).toThrow(/stages must not decrease, got 0.5 then 0.4/);
    expect(() => iterative([0.5], { every: 0 })).toThrow(/every must be ≥ 1/);
    expect(() => constantSparsity(0.5, { beginStep: 10, endStep: 5 })).toThrow(/endStep \(5\) must be ≥ beginStep \(10\)/);
  });
});
