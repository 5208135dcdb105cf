import { describe, expect, it } from 'vitest';
import { averageAccuracy, averageForgetting, backwardTransfer, forwardTransfer } from './metrics.js';

// Hand-made 3-task matrix; row i = after training task i.
const R = [
  [0.9, 0.1, 0.2],
  [0.6, 0.95, 0.15],
  [0.5, 0.7, 0.92],
];

describe('metrics on a hand-made accuracy matrix', () => {
  it('average accuracy after each task', () => {
    const a = averageAccuracy(R);
    expect(a[0]).toBeCloseTo(0.9, 12);
    expect(a[1]).toBeCloseTo((0.6 + 0.95) / 2, 12);
    expect(a[2]).toBeCloseTo((0.5 + 0.7 + 0.92) / 3, 12);
  });

  it('forgetting (Chaudhry 2018): best earlier accuracy minus final', () => {
    // task0: max(0.9, 0.6) − 0.5 = 0.4; task1: max(0.95) − 0.7 = 0.25
    expect(averageForgetting(R)).toBeCloseTo((0.4 + 0.25) / 2, 12);
    expect(averageForgetting([[0.8]])).toBe(0);
  });

  it('BWT: final minus just-learned accuracy', () => {
    expect(backwardTransfer(R)).toBeCloseTo((0.5 - 0.9 + (0.7 - 0.95)) / 2, 12);
  });

  it('FWT: accuracy before training a task minus the untrained baseline', () => {
    const b = [0.1, 0.12, 0.08];
    expect(forwardTransfer(R, b)).toBeCloseTo((0.1 - 0.12 + (0.15 - 0.08)) / 2, 12);
    const partial = [
      [0.9, Number.NaN],
      [0.6, 0.95],
    ];
    expect(() => forwardTransfer(partial, [0.1, 0.1])).toThrow(/R\[0\]\[1\] was not measured/);
  });

  it('rejects a ragged matrix', () => {
    expect(() => averageAccuracy([[0.5, 0.1], [0.4]])).toThrow(/row 1 has 1 entries/);
  });
});
