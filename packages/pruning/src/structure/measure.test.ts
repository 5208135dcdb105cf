// Timing a model before and after pruning must leave it as it was: the timed SGD steps move the weights.
import * as tf from '@tensorflow/tfjs-core';
import { mlp } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { summarizeTimes, timeModel, timeTrainStep } from './measure.js';

async function weightsOf(model: ReturnType<typeof mlp>): Promise<Record<string, Float32Array>> {
  const w = model.getWeights({ state: true });
  const out: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(w)) out[k] = (await t.data()) as Float32Array;
  tf.dispose(Object.values(w));
  return out;
}

describe('timeModel', () => {
  it('times inference and training steps and puts the weights back bitwise, without leaking tensors', async () => {
    const model = mlp([12, 16, 5], { seed: 3 });
    const before = tf.memory().numTensors;
    const w0 = await weightsOf(model);
    const t = await timeModel(model, { batch: 8, inference: { repeats: 3, warmup: 1 }, trainStep: { repeats: 2, warmup: 1, learningRate: 0.5 } });
    expect(t.inference.runs).toHaveLength(3);
    expect(t.trainStep.runs).toHaveLength(2);
    for (const x of [...t.inference.runs, ...t.trainStep.runs]) expect(Number.isFinite(x) && x >= 0).toBe(true);
    expect(await weightsOf(model)).toEqual(w0);
    expect(tf.memory().numTensors).toBe(before);
    // the same steps without timeModel's restore do move the weights (so the check above can fail)
    const x = tf.randomNormal([8, 12], 0, 1, 'float32', 1);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1, 2], 'int32');
    await timeTrainStep(model, x, y, { repeats: 1, warmup: 0, learningRate: 0.5 });
    tf.dispose([x, y]);
    expect(await weightsOf(model)).not.toEqual(w0);
    model.dispose();
  });

  it('summarizeTimes: the median of an even count is the mean of the middle two', () => {
    expect(summarizeTimes([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, runs: [4, 1, 3, 2] });
  });
});
