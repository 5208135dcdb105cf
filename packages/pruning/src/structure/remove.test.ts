// Removing groups whose weights are all zero computes exactly what the masked model computes;
// parameter and FLOP counts match hand counts.
import * as tf from '@tensorflow/tfjs-core';
import { type GraphModel, type Sequential, mlp, paper2ConvNet } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { type DependencyGroups, dependencyGroups, formatGroups, removableGroups } from './groups.js';
import { removeGroups } from './remove.js';
import { structureCounts } from './score.js';
import { maskGroups, randomBatch, randomizeState } from './structure.test-helpers.js';

async function exactAfterRemoval(model: Sequential | GraphModel, deps: DependencyGroups, ids: number[], batch: tf.Tensor): Promise<void> {
  maskGroups(model, deps, ids);
  const small = await removeGroups(model, deps, ids);
  const a = model.predict(batch);
  const b = small.predict(batch);
  expect(b.shape).toEqual(a.shape);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
  expect(diff).toBeLessThanOrEqual(1e-6);
  expect(small.countParams()).toBe(structureCounts(deps, ids).params);
  tf.dispose([a, b, batch]);
  small.dispose();
}

describe('structural removal', () => {
  it("an MLP: a unit goes with its bias and the next layer's input row; counts match a hand count", async () => {
    const before = tf.memory().numTensors;
    const model = mlp([6, 5, 4, 3], { seed: 1 });
    const deps = dependencyGroups(model);
    // 5 + 4 hidden units removable; the 3 outputs protected
    expect(removableGroups(deps).length).toBe(9);
    expect(deps.groups.filter((g) => g.protectedBy === 'the model output').length).toBe(3);
    const unit = removableGroups(deps)[2]; // dense_0 unit 2
    expect(unit?.slices).toEqual([
      { param: 'dense_0/kernel', axis: 1, index: 2 },
      { param: 'dense_0/bias', axis: 0, index: 2 },
      { param: 'dense_1/kernel', axis: 0, index: 2 },
    ]);
    // remove 2 units of dense_0 and 1 of dense_1: 6·3+3 + 3·3+3 + 3·3+3 = 45 parameters, FLOPs 2·(18+9+9)
    const r = removableGroups(deps);
    const ids = [0, 1, 5].map((i) => r[i]?.id as number);
    expect(structureCounts(deps, ids)).toEqual({ params: 45, flops: 72, channels: 3 + 3 });
    expect(structureCounts(deps)).toEqual({ params: 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3, flops: 2 * (30 + 20 + 12), channels: 9 });
    await exactAfterRemoval(model, deps, ids, randomBatch([4, 6], 2));
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a conv net with batch normalisation, pooling and flatten', async () => {
    const before = tf.memory().numTensors;
    const model = paper2ConvNet({ width: 0.0625, seed: 2 }); // 4, 8, 16 filters
    randomizeState(model, 3);
    const deps = dependencyGroups(model);
    expect(formatGroups(deps)).toContain('batch_norm_0/moving_variance');
    const conv0 = removableGroups(deps).filter((g) => g.channels[0]?.layer === 'conv2d_0');
    expect(conv0.length).toBe(4);
    expect(new Set(conv0[0]?.slices.map((s) => s.param))).toEqual(
      new Set(['conv2d_0/kernel', 'conv2d_0/bias', 'batch_norm_0/gamma', 'batch_norm_0/beta', 'batch_norm_0/moving_mean', 'batch_norm_0/moving_variance', 'conv2d_1/kernel']),
    );
    // conv2d_2's channel reaches the dense layer through flatten: one input row per spatial position (8×8)
    const last = removableGroups(deps).find((g) => g.channels[0]?.layer === 'conv2d_2');
    expect(last?.slices.filter((s) => s.param === 'dense_0/kernel').length).toBe(8 * 8);
    // hand count of FLOPs: conv0 24×24 outputs, conv1 10×10, conv2 8×8, dense 1024→10
    const flops = 2 * (25 * 4 * 24 * 24 + 9 * 4 * 8 * 10 * 10 + 9 * 8 * 16 * 8 * 8 + 1024 * 10);
    expect(structureCounts(deps).flops).toBe(flops);
    const ids = removableGroups(deps)
      .filter((_, i) => i % 3 === 0)
      .map((g) => g.id);
    await exactAfterRemoval(model, deps, ids, randomBatch([3, 28, 28, 1], 4));
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
