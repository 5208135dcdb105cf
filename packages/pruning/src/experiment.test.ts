import * as tf from '@tensorflow/tfjs-core';
import { evaluate, modelFromSpec, syntheticPermutedTasks } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../test/helpers.js';
import { removedCount } from './check.js';
import { PAPER2_PRUNING, type Paper2PruningRow, paper2PruningExperiment } from './experiment.js';
import { groupByLayer } from './scope.js';

describe('paper2PruningExperiment', () => {
  it('trains, prunes every importance × sparsity exactly, restores the trained weights, leaking nothing', async () => {
    const [task] = syntheticPermutedTasks({ numTasks: 1, features: 32, numClasses: 5, trainPerClass: 80, testPerClass: 40, seed: 2 });
    const zeros: number[] = [];
    const events: string[] = [];
    const { r, sizes, restored } = await expectNoLeak(async () => {
      const model = modelFromSpec('32-48-24-5:leakyrelu', { seed: 0 });
      const optimizer = tf.train.adam(0.01);
      try {
        const r = await paper2PruningExperiment(model, {
          task: task!,
          train: { optimizer, epochs: 4, batchSize: 20, seed: 0, learningRate: 0.01 },
          globalSparsities: [0, 0.7, 0.97],
          layerSparsities: [0.8],
          importanceOptions: { limit: 200, batchSize: 50 },
          onProgress: (e) => events.push(e.kind),
          onPruned: async (_row, m) => {
            let z = 0;
            for (const v of Object.values(m.params)) for (const x of (await v.data()) as Float32Array) if (x === 0) z++;
            zeros.push(z);
          },
        });
        const sizes = Object.fromEntries(Object.entries(model.params).map(([n, v]) => [n, v.size]));
        // the trained weights are back in the model
        const restored = (await evaluate(model, task!.test)).accuracy;
        return { r, sizes, restored };
      } finally {
        optimizer.dispose();
        model.dispose();
      }
    });
    expect(restored).toBe(r.unpruned);
    expect(r.unpruned).toBeGreaterThan(0.8);
    expect(r.rows).toHaveLength(5 * 4);
    expect([...new Set(r.rows.map((x) => x.method))]).toEqual(['|w|', 'SIG', 'FIS', 'MAS', 'SI']);
    expect(events.filter((k) => k === 'method')).toHaveLength(5);
    expect(events).toContain('train');

    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    const layers = [...groupByLayer(Object.keys(sizes)).values()].map((names) => names.reduce((n, k) => n + sizes[k]!, 0));
    const expected = (row: Paper2PruningRow) => (row.scope === 'global' ? removedCount(row.sparsity, total) : layers.reduce((n, size) => n + removedCount(row.sparsity, size), 0));
    r.rows.forEach((row, i) => {
      expect(row.total).toBe(total);
      expect(row.removed, `${row.method} ${row.scope} ${row.sparsity}`).toBe(expected(row));
      expect(zeros[i], `${row.method} ${row.scope} ${row.sparsity}: zeros in the pruned model`).toBe(row.removed);
      // 0 % removes nothing: the unpruned model's accuracy
      if (row.sparsity === 0) expect(row.accuracy).toBe(r.unpruned);
    });
    const cell = (method: string, scope: string, s: number) => r.rows.find((x) => x.method === method && x.scope === scope && x.sparsity === s) as Paper2PruningRow;
    expect(cell('|w|', 'global', 0.7).accuracy).toBeGreaterThan(cell('SI', 'global', 0.97).accuracy);
    expect(cell('SIG', 'layer', 0.8).paper).toBe(PAPER2_PRUNING.SIG!.layer[0]);
    expect(cell('SIG', 'global', 0.97).paper).toBe(PAPER2_PRUNING.SIG!.global[4]);
    expect(cell('SIG', 'global', 0).paper).toBeUndefined();
  });

  it('needs training for SI', async () => {
    const [task] = syntheticPermutedTasks({ numTasks: 1, features: 8, numClasses: 2, trainPerClass: 4, testPerClass: 4, seed: 1 });
    const model = modelFromSpec('8-4-2', { seed: 0 });
    await expect(paper2PruningExperiment(model, { task: task! })).rejects.toThrow(/si/);
    model.dispose();
  });
});
