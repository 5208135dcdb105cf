import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, mlp, syntheticPermutedTasks, trainContinual } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { correlationTable } from './correlation.js';
import { type CorrelationRecord, correlationRecorder } from './recorder.js';

describe('correlationRecorder', () => {
  it('records per layer × task the Pearson and Spearman correlations of FIS, MAS, SI, SIG and FIS vs MAS²', async () => {
    const tasks = syntheticPermutedTasks({ numTasks: 2, features: 6, numClasses: 3, trainPerClass: 10, testPerClass: 2 });
    const model = mlp([6, 5, 4, 3], { seed: 1, activation: { name: 'leakyRelu', alpha: 0.01 } });
    const recorder = correlationRecorder({ limit: 20 });
    expect(recorder.needsDelta).toBe(true);
    const checked: string[] = [];
    recorder.onRecord(async (records: CorrelationRecord[]) => {
      // the records are the correlation table of the trackers' task importances at that moment
      const maps = Object.fromEntries(Object.entries(recorder.trackers).map(([k, t]) => [k, t.last as ParamMap]));
      const table = await correlationTable(maps, { method: 'spearman' });
      for (const row of table.rows) {
        for (const layer of table.layers) {
          const rec = records.find((r) => r.pair === row.pair && r.layer === layer);
          expect(rec?.spearman, `${row.pair} ${layer}`).toBeCloseTo(row.r[layer] as number, 12);
        }
      }
      checked.push(records[0]?.task as string);
    });
    const optimizer = tf.train.adam(0.01);
    await trainContinual(model, tasks, { optimizer, batchSize: 10, plugins: [recorder] });
    expect(checked).toEqual(['synthetic-0', 'synthetic-1']);
    const pairs = [...new Set(recorder.records.map((r) => r.pair))];
    expect(pairs).toEqual(['FIS vs MAS', 'FIS vs SI', 'FIS vs SIG', 'MAS vs SI', 'MAS vs SIG', 'SI vs SIG', 'FIS vs MAS²']);
    expect(recorder.records).toHaveLength(7 * 3 * 2);
    for (const r of recorder.records) {
      expect(Math.abs(r.pearson)).toBeLessThanOrEqual(1);
      expect(Math.abs(r.spearman)).toBeLessThanOrEqual(1);
    }
    const surface = recorder.surface('FIS vs MAS', 'pearson');
    expect(surface.layers).toEqual(['dense_0', 'dense_1', 'dense_2']);
    expect(surface.tasks).toEqual(['synthetic-0', 'synthetic-1']);
    expect(surface.values.map((row) => row.length)).toEqual([2, 2, 2]);
    expect(surface.values[2]?.[1]).toBe(recorder.records.find((r) => r.pair === 'FIS vs MAS' && r.layer === 'dense_2' && r.taskIndex === 1)?.pearson);
    expect(() => recorder.surface('FIS vs EWC')).toThrow(/no records for pair 'FIS vs EWC'/);
    optimizer.dispose();
    recorder.dispose();
    model.dispose();
  });

  it("'accumulated' correlates the running sums: equal to 'task' after the first task, different after the second", async () => {
    const run = async (importances: 'task' | 'accumulated') => {
      const tasks = syntheticPermutedTasks({ numTasks: 2, features: 6, numClasses: 3, trainPerClass: 10, testPerClass: 2 });
      const model = mlp([6, 5, 3], { seed: 2 });
      const recorder = correlationRecorder({ methods: ['fisher', 'sig'], importances, limit: 20 });
      const optimizer = tf.train.sgd(0.1);
      await trainContinual(model, tasks, { optimizer, batchSize: 10, plugins: [recorder] });
      const out = recorder.records.map((r) => r.pearson);
      optimizer.dispose();
      recorder.dispose();
      model.dispose();
      return out;
    };
    const task = await run('task');
    const acc = await run('accumulated');
    expect(acc).toHaveLength(4); // 1 pair × 2 layers × 2 tasks
    expect(acc.slice(0, 2)).toEqual(task.slice(0, 2));
    expect(acc.slice(2)).not.toEqual(task.slice(2));
  });

  it('rejects fewer than two methods and unknown options', () => {
    expect(() => correlationRecorder({ methods: ['fisher'] })).toThrow(/at least two distinct methods/);
    expect(() => correlationRecorder({ methods: ['fisher', 'wva' as never] })).toThrow(/unknown method 'wva'/);
    expect(() => correlationRecorder({ importances: 'both' as never })).toThrow(/importances must be 'task' or 'accumulated'/);
  });
});
