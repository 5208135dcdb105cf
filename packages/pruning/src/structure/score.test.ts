// Group scores reduce every slice's importances; selection reaches the target, lowest first,
// within the minimum width, globally or layer by layer.
import * as tf from '@tensorflow/tfjs-core';
import { mlp } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { dependencyGroups, removableGroups } from './groups.js';
import { groupScores, hostImportances, selectGroups, structureCounts } from './score.js';

describe('group scores and selection', () => {
  it("reduces a unit's kernel column, bias and the next layer's input row (l1, l2, mean)", async () => {
    const model = mlp([2, 3, 2], { seed: 1 });
    const deps = dependencyGroups(model);
    const ones = Object.fromEntries(Object.entries(model.params).map(([n, v]) => [n, tf.fill(v.shape, -2)]));
    const host = await hostImportances(ones);
    tf.dispose(Object.values(ones));
    const id = (removableGroups(deps)[0] as { id: number }).id;
    // 2 kernel entries + 1 bias + 2 next-layer entries = 5 entries of −2
    expect(groupScores(deps, host, 'l1')[id]).toBe(10);
    expect(groupScores(deps, host, 'l2')[id]).toBeCloseTo(Math.sqrt(20), 12);
    expect(groupScores(deps, host, 'mean')[id]).toBe(-2);
    model.dispose();
  });

  it('removes the lowest groups to the target, keeping the minimum width', () => {
    const model = mlp([4, 8, 6, 3], { seed: 1 });
    const deps = dependencyGroups(model);
    const scores = new Float64Array(deps.groups.length).fill(Number.NaN);
    removableGroups(deps).forEach((g, i) => (scores[g.id] = i)); // dense_0's units score lowest
    const half = selectGroups(deps, scores, { target: { params: 0.5 } });
    expect(half.after.params).toBeLessThanOrEqual(half.before.params * 0.5);
    expect(half.after).toEqual(structureCounts(deps, half.removed));
    const all = selectGroups(deps, scores, { target: { channels: 0.99 }, minWidth: 2 });
    expect(all.removed.length).toBe(8 - 2 + (6 - 2));
    // per layer: both hidden layers lose half their units
    const layer = selectGroups(deps, scores, { target: { channels: 0.5 }, scope: 'layer' });
    const lost = (l: string) => layer.removed.filter((id) => deps.groups[id]?.channels[0]?.layer === l).length;
    expect([lost('dense_0'), lost('dense_1')]).toEqual([4, 3]);
    expect(() => selectGroups(deps, scores, { target: {} })).toThrow(/exactly one target/);
    model.dispose();
  });
});
