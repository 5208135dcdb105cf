import * as tf from '@tensorflow/tfjs-core';
import { syntheticPermutedTasks } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { PRUNING_GLOBAL, PRUNING_LAYER, type PruningEvent, pruningConfig, runPruning } from './pruning.js';

describe('runPruning', () => {
  it('measures every importance × sparsity on the trained weights, beside paper 2, leaking nothing', async () => {
    const [task] = syntheticPermutedTasks({ numTasks: 1, features: 32, numClasses: 5, trainPerClass: 80, testPerClass: 40, seed: 2 });
    const config = { ...pruningConfig(true), model: '32-48-24-5:leakyrelu', epochs: 4, batchSize: 20, calibration: 200, learningRate: 0.01 };
    const events: PruningEvent[] = [];
    const before = tf.memory().numTensors;
    const r = await runPruning(config, { task: task!, onEvent: (e) => events.push(e) });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.unpruned).toBeGreaterThan(0.8);
    expect(r.rows).toHaveLength(5 * (PRUNING_GLOBAL.length + PRUNING_LAYER.length));
    expect([...new Set(r.rows.map((x) => x.method))]).toEqual(['|w|', 'SIG', 'FIS', 'MAS', 'SI']);
    expect(r.rows.find((x) => x.method === 'SIG' && x.scope === 'global' && x.sparsity === 0.9)?.paper).toBe(0.896);
    expect(events.filter((e) => e.kind === 'method')).toHaveLength(5);
    const mag = (s: number) => r.rows.find((x) => x.method === '|w|' && x.scope === 'global' && x.sparsity === s)?.accuracy as number;
    // zeroing 70 % of the smallest weights costs little; 97 % costs more (same trained weights each time)
    expect(mag(0.7)).toBeGreaterThan(r.unpruned - 0.15);
    expect(mag(0.97)).toBeLessThan(mag(0.7));
  });
});
