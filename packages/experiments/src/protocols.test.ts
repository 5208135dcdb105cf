import * as pruning from '@forgetless/pruning';
import { describe, expect, it } from 'vitest';
import { PAPER2_GLOBAL_SPARSITIES, PAPER2_LABELS, PAPER2_LAYER_SPARSITIES, PAPER2_METHODS, PAPER2_PRUNING, paper2Accuracy } from './protocols.js';

describe("paper 2's pruning protocol as data", () => {
  it("has a figure for every label × sparsity, and looks cells up by sparsity (paper 2's table, Fig. 3)", () => {
    for (const m of PAPER2_METHODS) {
      const row = PAPER2_PRUNING[PAPER2_LABELS[m]];
      expect(row?.global).toHaveLength(PAPER2_GLOBAL_SPARSITIES.length);
      expect(row?.layer).toHaveLength(PAPER2_LAYER_SPARSITIES.length);
    }
    expect(paper2Accuracy('|w|', 'global', 0.9)).toBe(0.857);
    expect(paper2Accuracy('SI', 'layer', 0.8)).toBe(0.232);
    expect(paper2Accuracy('SIG', 'global', 0.5)).toBeUndefined();
  });

  it('equals the deprecated copies @forgetless/pruning keeps for compatibility', () => {
    expect(PAPER2_PRUNING).toEqual(pruning.PAPER2_PRUNING);
    expect(PAPER2_LABELS).toEqual(pruning.PAPER2_LABELS);
    expect(PAPER2_METHODS).toEqual(pruning.PAPER2_METHODS);
    expect(PAPER2_GLOBAL_SPARSITIES).toEqual(pruning.PAPER2_GLOBAL_SPARSITIES);
    expect(PAPER2_LAYER_SPARSITIES).toEqual(pruning.PAPER2_LAYER_SPARSITIES);
  });
});
