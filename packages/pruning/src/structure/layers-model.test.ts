// Structural removal on Keras-style graphs, checked against stock tfjs-layers: a MobileNetV2-style
// net (Add, DepthwiseConv2D, BN, ZeroPadding) and an Inception-style block (Concatenate) lose zeroed
// groups with outputs unchanged (≤ 1e-6); the written model.json loads in stock
// tf.loadLayersModel with the smaller shapes and predicts what forgetless predicts, quantized too.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type LoadedLayersModel, layersModelArtifacts, loadLayersModelFromArtifacts, toModelArtifacts } from '@forgetless/core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inceptionBlock, mobileNetV2Block, quantizeArtifacts, randomInput, saveArtifacts } from '../../../core/test/fixtures/keras-models.js';
import { type DependencyGroups, dependencyGroups, removableGroups } from './groups.js';
import { removeGroupsFromLayersModel } from './layers-model.js';
import { structureCounts } from './score.js';
import { maskGroups } from './structure.test-helpers.js';

const fixtures: Record<string, { artifacts: tf.io.ModelArtifacts; x: tf.Tensor }> = {};
beforeAll(async () => {
  for (const [name, build] of [
    ['mnv2', () => mobileNetV2Block({ size: 16, classes: 4, seed: 3 })],
    ['inception', () => inceptionBlock({ size: 29, classes: 4, seed: 5 })],
  ] as const) {
    const keras = build();
    const artifacts = await saveArtifacts(keras);
    const x = randomInput(keras, 3, 7);
    // tfjs-layers caches scalars once it runs a model: warm it before counting tensors
    tf.dispose(keras.predict(x) as tf.Tensor);
    keras.dispose();
    fixtures[name] = { artifacts, x };
  }
});

let tensors = 0;
beforeEach(() => {
  tensors = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensors);
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);

/** Masks `ids`, removes them; the smaller model predicts what the masked one does; stock tfjs-layers loads it. */
async function removeAndCheck(loaded: LoadedLayersModel, deps: DependencyGroups, ids: number[], x: tf.Tensor, tolerance = 1e-6): Promise<tfl.LayersModel> {
  maskGroups(loaded.model, deps, ids);
  const small = await removeGroupsFromLayersModel(loaded, deps, ids);
  const a = loaded.predict(x);
  const b = small.predict(x);
  expect(maxDiff(a, b)).toBeLessThanOrEqual(1e-6);
  expect(small.model.countParams()).toBe(structureCounts(deps, ids).params);
  const saved = await layersModelArtifacts(small);
  const stock = await tfl.loadLayersModel(tf.io.fromMemory(toModelArtifacts(saved)));
  const c = stock.predict(x) as tf.Tensor;
  expect(maxDiff(b, c)).toBeLessThanOrEqual(tolerance);
  expect(stock.countParams()).toBe(small.model.countParams() + Object.values(small.model.state).reduce((n, v) => n + v.size, 0));
  tf.dispose([a, b, c]);
  small.dispose();
  return stock;
}

describe('MobileNetV2-style graph', () => {
  it('ties the residual Add, carries depthwise and BN slices, and removes exactly', async () => {
    const { artifacts, x } = fixtures.mnv2 as { artifacts: tf.io.ModelArtifacts; x: tf.Tensor };
    const loaded = await loadLayersModelFromArtifacts(artifacts, 'mnv2');
    const deps = dependencyGroups(loaded.model);
    const groups = removableGroups(deps);
    // Conv1's channel c and block_1_project's channel c meet in block_1_add: one group
    const tied = groups.filter((g) => g.channels.some((c) => c.layer === 'Conv1'));
    expect(tied.length).toBe(8);
    expect(tied[0]?.channels.map((c) => c.layer).sort()).toEqual(['Conv1', 'block_1_project']);
    const expand = groups.find((g) => g.channels[0]?.layer === 'block_1_expand');
    expect(new Set(expand?.slices.map((s) => s.param))).toEqual(
      new Set([
        'block_1_expand/kernel',
        ...['gamma', 'beta', 'moving_mean', 'moving_variance'].map((v) => `block_1_expand_BN/${v}`),
        'block_1_depthwise/depthwise_kernel',
        ...['gamma', 'beta', 'moving_mean', 'moving_variance'].map((v) => `block_1_depthwise_BN/${v}`),
        'block_1_project/kernel',
      ]),
    );
    // the output Dense never shrinks
    expect(groups.some((g) => g.channels.some((c) => c.layer === 'predictions'))).toBe(false);
    const ids = groups.filter((_, i) => i % 2 === 1).map((g) => g.id);
    const stock = await removeAndCheck(loaded, deps, ids, x);
    expect((stock.getLayer('Conv1').getWeights()[0] as tf.Tensor).shape).toEqual([3, 3, 3, 4]);
    expect((stock.getLayer('block_1_depthwise').getWeights()[0] as tf.Tensor).shape).toEqual([3, 3, 24, 1]);
    stock.dispose();
    loaded.dispose();
  });

  it('keeps a uint8 file uint8', async () => {
    const { artifacts, x } = fixtures.mnv2 as { artifacts: tf.io.ModelArtifacts; x: tf.Tensor };
    const loaded = await loadLayersModelFromArtifacts(quantizeArtifacts(artifacts, 'uint8'), 'mnv2-uint8');
    const deps = dependencyGroups(loaded.model);
    const ids = removableGroups(deps)
      .filter((_, i) => i % 3 === 0)
      .map((g) => g.id);
    maskGroups(loaded.model, deps, ids);
    const small = await removeGroupsFromLayersModel(loaded, deps, ids);
    const saved = await layersModelArtifacts(small);
    for (const s of saved.weightSpecs) expect(s.quantization?.dtype).toBe('uint8');
    const stock = await tfl.loadLayersModel(tf.io.fromMemory(toModelArtifacts(saved)));
    const a = small.predict(x);
    const b = stock.predict(x) as tf.Tensor;
    expect(maxDiff(a, b)).toBeLessThan(0.05); // requantized sliced weights: a fresh uint8 grid
    tf.dispose([a, b]);
    stock.dispose();
    small.dispose();
    loaded.dispose();
  });
});

describe('Inception-style block', () => {
  it('follows Concatenate offsets into the head and removes exactly', async () => {
    const { artifacts, x } = fixtures.inception as { artifacts: tf.io.ModelArtifacts; x: tf.Tensor };
    const loaded = await loadLayersModelFromArtifacts(artifacts, 'inception');
    const deps = dependencyGroups(loaded.model);
    const groups = removableGroups(deps);
    // the 1×1 branch (conv2d_2, 8 filters) is first in mixed0: its channel c is the head's input row c
    const branch = groups.filter((g) => g.channels[0]?.layer === 'conv2d_2');
    expect(branch.length).toBe(8);
    expect(branch[3]?.slices.find((s) => s.param === 'predictions/kernel')).toEqual({ param: 'predictions/kernel', axis: 0, index: 3 });
    // the pool branch (conv2d_9, 4 filters) is last: offset 8 + 8 + 8
    const pool = groups.filter((g) => g.channels[0]?.layer === 'conv2d_9');
    expect(pool[1]?.slices.find((s) => s.param === 'predictions/kernel')?.index).toBe(25);
    const ids = groups.filter((_, i) => i % 2 === 0).map((g) => g.id);
    const stock = await removeAndCheck(loaded, deps, ids, x);
    expect((stock.getLayer('predictions').getWeights()[0] as tf.Tensor).shape[0]).toBeLessThan(28);
    stock.dispose();
    loaded.dispose();
  });
});
