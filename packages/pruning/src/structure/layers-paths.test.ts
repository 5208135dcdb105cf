// Structural removal through the layer kinds the MobileNet and Inception tests do not reach, each
// checked against stock tfjs-layers: SeparableConv2D (depthwise + pointwise input coupling),
// Conv2DTranspose (kernel [h, w, out, in]), Multiply and Maximum merges, GlobalAveragePooling2D/1D,
// Conv1D, Reshape (channels kept, and flattened into a Dense), and a text-style model (Embedding →
// Conv1D → Dense → GlobalAveragePooling1D → Dense). For each: removing groups whose weights are zero
// gives the masked model's outputs (≤ 1e-6); the written model.json loads in stock
// tf.loadLayersModel with the smaller shapes and predicts the same; parameters and FLOPs equal a
// count made on the stock model's own layers (kernel shapes and output shapes).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { layersModelArtifacts, loadLayersModelFromArtifacts, toModelArtifacts } from '@forgetless/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomInput, randomizeWeights, saveArtifacts } from '../../../core/test/fixtures/keras-models.js';
import { dependencyGroups, removableGroups } from './groups.js';
import { removeGroupsFromLayersModel } from './layers-model.js';
import { structureCounts } from './score.js';
import { maskGroups } from './structure.test-helpers.js';

type ST = tfl.SymbolicTensor;
const call = (layer: tfl.layers.Layer, x: ST | ST[]) => layer.apply(x) as ST;

/**
 * tfjs-layers leaves SeparableConv2D's depth_multiplier out of the config it saves (Keras writes it):
 * put it back, as a Keras-converted model.json has it; stock tf.loadLayersModel reads it.
 */
async function kerasArtifacts(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  const artifacts = await saveArtifacts(model);
  const layers = (artifacts.modelTopology as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } }).config.layers;
  for (const l of layers)
    if (l.class_name === 'SeparableConv2D') l.config.depth_multiplier = (model.getLayer(l.config.name as string) as unknown as { depthMultiplier: number }).depthMultiplier;
  return artifacts;
}

/** Input → conv a → (SeparableConv2D s, depth multiplier 2) × (1×1 conv b) → Multiply → two Conv2DTranspose → Maximum → GAP2D → Dense. */
function branchesModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [6, 6, 3], name: 'image' });
  const a = call(tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a' }), input);
  const s = call(tfl.layers.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, padding: 'same', name: 's' }), a);
  const b = call(tfl.layers.conv2d({ filters: 5, kernelSize: 1, activation: 'tanh', name: 'b' }), a);
  const m = call(tfl.layers.multiply({ name: 'mul' }), [s, b]);
  const t1 = call(tfl.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 't1' }), m);
  const t2 = call(tfl.layers.conv2dTranspose({ filters: 4, kernelSize: 2, strides: 2, padding: 'valid', activation: 'relu', name: 't2' }), m);
  const mx = call(tfl.layers.maximum({ name: 'max' }), [t1, t2]);
  const g = call(tfl.layers.globalAveragePooling2d({ name: 'gap' }), mx);
  const out = call(tfl.layers.dense({ units: 3, activation: 'softmax', name: 'predictions' }), g);
  const model = tfl.model({ inputs: input, outputs: out, name: 'branches' });
  randomizeWeights(model, 11, { scaled: true });
  return model;
}

/** Text-style: Embedding → Conv1D → Dense (on the sequence) → GlobalAveragePooling1D → Dense. */
function textModel(): tfl.LayersModel {
  const model = tfl.sequential({
    name: 'text',
    layers: [
      tfl.layers.embedding({ inputDim: 30, outputDim: 6, inputLength: 10, name: 'embedding' }),
      tfl.layers.conv1d({ filters: 7, kernelSize: 3, activation: 'relu', name: 'conv1d' }),
      tfl.layers.dense({ units: 5, activation: 'relu', name: 'dense' }),
      tfl.layers.globalAveragePooling1d({ name: 'gap1d' }),
      tfl.layers.dense({ units: 3, activation: 'softmax', name: 'predictions' }),
    ],
  });
  randomizeWeights(model, 12, { scaled: true });
  return model;
}

/** Conv2D → Reshape [36, 4] (channels kept) → Conv1D → Reshape to a flat vector → Dense. */
function reshapeModel(): tfl.LayersModel {
  const model = tfl.sequential({
    name: 'reshapes',
    layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv2d' }),
      tfl.layers.reshape({ targetShape: [36, 4], name: 'to_sequence' }),
      tfl.layers.conv1d({ filters: 5, kernelSize: 3, activation: 'tanh', name: 'conv1d' }),
      tfl.layers.reshape({ targetShape: [34 * 5], name: 'to_vector' }),
      tfl.layers.dense({ units: 3, activation: 'softmax', name: 'predictions' }),
    ],
  });
  randomizeWeights(model, 13, { scaled: true });
  return model;
}

const product = (s: readonly (number | null)[]) => s.reduce<number>((a, b) => a * (b ?? 1), 1);

/**
 * Parameters (trainable) and FLOPs (2 × multiply-adds of kernels) counted on a stock tfjs-layers
 * model from its layers' weight and output shapes: Dense and Conv1D/2D at every output position,
 * SeparableConv2D's depthwise and pointwise kernels at every output position, Conv2DTranspose at
 * every input position.
 */
function handCount(model: tfl.LayersModel): { params: number; flops: number } {
  let flops = 0;
  for (const layer of model.layers) {
    const weights = Object.fromEntries(layer.weights.map((w) => [w.originalName.split('/').at(-1) as string, w.shape]));
    const outPositions = product((layer.outputShape as number[]).slice(1, -1));
    switch (layer.getClassName()) {
      case 'Dense':
      case 'Conv1D':
      case 'Conv2D':
        flops += 2 * product(weights.kernel as number[]) * outPositions;
        break;
      case 'SeparableConv2D':
        flops += 2 * (product(weights.depthwise_kernel as number[]) + product(weights.pointwise_kernel as number[])) * outPositions;
        break;
      case 'Conv2DTranspose':
        flops += 2 * product(weights.kernel as number[]) * product((layer.input as ST).shape.slice(1, -1));
        break;
      default:
    }
  }
  return { params: model.trainableWeights.reduce((n, w) => n + product(w.shape), 0), flops };
}

let tensors = 0;
beforeEach(() => {
  tensors = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensors);
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);

/**
 * Builds the Keras model, loads it into forgetless, masks every other removable group, removes them:
 * the smaller model predicts the masked one's outputs; stock tfjs-layers loads what it writes, with
 * the weight shapes it says, predicts the same; params and FLOPs equal the stock model's hand count.
 */
async function check(build: () => tfl.LayersModel, pick: (i: number) => boolean, expectShapes: Record<string, number[]>): Promise<void> {
  const keras = build();
  const artifacts = await kerasArtifacts(keras);
  const x = randomInput(keras, 3, 7);
  tf.dispose(keras.predict(x) as tf.Tensor); // tfjs-layers caches scalars on its first run
  const fullHand = handCount(keras);
  keras.dispose();
  const loaded = await loadLayersModelFromArtifacts(artifacts, build.name);
  const deps = dependencyGroups(loaded.model);
  expect(structureCounts(deps)).toMatchObject(fullHand);
  const ids = removableGroups(deps)
    .filter((_, i) => pick(i))
    .map((g) => g.id);
  expect(ids.length).toBeGreaterThan(0);
  maskGroups(loaded.model, deps, ids);
  const small = await removeGroupsFromLayersModel(loaded, deps, ids);
  const a = loaded.predict(x);
  const b = small.predict(x);
  expect(b.shape).toEqual(a.shape);
  expect(maxDiff(a, b)).toBeLessThanOrEqual(1e-6);
  const saved = await layersModelArtifacts(small);
  const stock = await tfl.loadLayersModel(tf.io.fromMemory(toModelArtifacts(saved)));
  const c = stock.predict(x) as tf.Tensor;
  expect(maxDiff(b, c)).toBeLessThanOrEqual(1e-6);
  for (const [weight, shape] of Object.entries(expectShapes)) {
    const [layer, name] = weight.split('/') as [string, string];
    const w = stock.getLayer(layer).weights.find((v) => v.originalName.endsWith(`/${name}`));
    expect(w?.shape, weight).toEqual(shape);
  }
  const counted = structureCounts(deps, ids);
  expect(counted).toMatchObject(handCount(stock));
  expect(small.model.countParams()).toBe(counted.params);
  // the smaller model's own analysis agrees
  expect(structureCounts(dependencyGroups(small.model))).toMatchObject({ params: counted.params, flops: counted.flops });
  tf.dispose([a, b, c, x]);
  stock.dispose();
  small.dispose();
  loaded.dispose();
}

describe('structural removal through more layer kinds, against stock tfjs-layers', () => {
  it('SeparableConv2D, Conv2DTranspose, Multiply, Maximum and GlobalAveragePooling2D', async () => {
    const deps = await (async () => {
      const keras = branchesModel();
      const loaded = await loadLayersModelFromArtifacts(await kerasArtifacts(keras), 'branches');
      keras.dispose();
      const d = dependencyGroups(loaded.model);
      loaded.dispose();
      return d;
    })();
    const groups = removableGroups(deps);
    // a's channel c: its filter and bias, s's depthwise channel c and its 2 pointwise rows, b's input row c
    const aGroup = groups.find((g) => g.channels.some((c) => c.layer === 'a' && c.index === 1));
    expect(aGroup?.slices).toEqual([
      { param: 'a/kernel', axis: 3, index: 1 },
      { param: 'a/bias', axis: 0, index: 1 },
      { param: 's/depthwise_kernel', axis: 2, index: 1 },
      { param: 's/pointwise_kernel', axis: 2, index: 2 },
      { param: 's/pointwise_kernel', axis: 2, index: 3 },
      { param: 'b/kernel', axis: 2, index: 1 },
    ]);
    // Multiply ties s's and b's filters; Conv2DTranspose reads its input on axis 3, writes on axis 2
    const mul = groups.find((g) => g.channels.some((c) => c.layer === 's' && c.index === 2));
    expect(mul?.channels.map((c) => `${c.layer}:${c.index}`).sort()).toEqual(['b:2', 's:2']);
    expect(mul?.slices.filter((s) => s.param.startsWith('t'))).toEqual([
      { param: 't1/kernel', axis: 3, index: 2 },
      { param: 't2/kernel', axis: 3, index: 2 },
    ]);
    // Maximum ties t1's and t2's filters
    const max = groups.find((g) => g.channels.some((c) => c.layer === 't1' && c.index === 0));
    expect(max?.channels.map((c) => c.layer).sort()).toEqual(['t1', 't2']);
    expect(max?.slices).toContainEqual({ param: 't2/kernel', axis: 2, index: 0 });
    expect(groups.length).toBe(6 + 5 + 4);
    // every other group: a keeps 3 of 6, s and b (tied) 3 of 5, t1 and t2 (tied) 2 of 4
    await check(branchesModel, (i) => i % 2 === 1, {
      'a/kernel': [3, 3, 3, 3],
      's/depthwise_kernel': [3, 3, 3, 2],
      's/pointwise_kernel': [1, 1, 6, 3],
      'b/kernel': [1, 1, 3, 3],
      't1/kernel': [3, 3, 2, 3],
      't2/kernel': [2, 2, 2, 3],
      'predictions/kernel': [2, 3],
    });
  });

  it('a text-style model: Embedding → Conv1D → Dense → GlobalAveragePooling1D → Dense', async () => {
    const keras = textModel();
    const loaded = await loadLayersModelFromArtifacts(await kerasArtifacts(keras), 'text');
    keras.dispose();
    const deps = dependencyGroups(loaded.model);
    // the embedding's outputs are protected; conv1d's 7 filters and dense's 5 units are removable
    expect(removableGroups(deps).map((g) => g.channels[0]?.layer)).toEqual([...Array(7).fill('conv1d'), ...Array(5).fill('dense')]);
    loaded.dispose();
    // filters 0, 3, 6 of conv1d and unit 2 of dense (group 9 = 7 + 2)
    await check(textModel, (i) => i % 3 === 0, { 'conv1d/kernel': [3, 6, 4], 'dense/kernel': [4, 4], 'predictions/kernel': [4, 3] });
  });

  it('Reshape keeping the channel axis, and Reshape to a vector feeding a Dense', async () => {
    const keras = reshapeModel();
    const loaded = await loadLayersModelFromArtifacts(await kerasArtifacts(keras), 'reshape');
    keras.dispose();
    const deps = dependencyGroups(loaded.model);
    // conv1d's channel c reaches the Dense at rows p·5 + c, for all 34 positions p
    const g = removableGroups(deps).find((x) => x.channels[0]?.layer === 'conv1d' && x.channels[0].index === 3);
    const rows = g?.slices.filter((s) => s.param === 'predictions/kernel').map((s) => s.index);
    expect(rows).toEqual(Array.from({ length: 34 }, (_, p) => p * 5 + 3));
    loaded.dispose();
    await check(reshapeModel, (i) => i % 2 === 0, { 'conv2d/kernel': [3, 3, 2, 2], 'conv1d/kernel': [3, 2, 2], 'predictions/kernel': [34 * 2, 3] });
    // the written target shapes
    const small = await (async () => {
      const k = reshapeModel();
      const l = await loadLayersModelFromArtifacts(await kerasArtifacts(k), 'reshape');
      k.dispose();
      const d = dependencyGroups(l.model);
      const ids = removableGroups(d)
        .filter((_, i) => i % 2 === 0)
        .map((x) => x.id);
      const s = await removeGroupsFromLayersModel(l, d, ids);
      l.dispose();
      return s;
    })();
    const layers = (small.modelJson.modelTopology as { config: { layers: { config: { name: string; target_shape?: number[] } }[] } }).config.layers;
    expect(layers.find((l) => l.config.name === 'to_sequence')?.config.target_shape).toEqual([36, 2]);
    expect(layers.find((l) => l.config.name === 'to_vector')?.config.target_shape).toEqual([34 * 2]);
    small.dispose();
  });
});
