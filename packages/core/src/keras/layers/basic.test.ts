import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../../test/helpers.js';
import '../../gradients.js';
import { GraphModel, type GraphNode } from '../../graph.js';
import type { Layer } from '../../layers/layer.js';
import { Rng } from '../../rng.js';
import { kerasActivation } from '../activations.js';
import { type ConvertContext, type ConvertedLayer, kerasLayerConverter, supportedKerasLayers } from '../registry.js';
import './basic.js';

const ctx: ConvertContext = { source: 'test', isOutput: false, activation: kerasActivation };

function convert(className: string, config: Record<string, unknown>, name = 'l'): ConvertedLayer {
  const c = kerasLayerConverter(className);
  if (!c) throw new Error(`no converter for ${className}`);
  return c({ className, name, config }, ctx);
}

/** A tfjs-layers sequential model as a GraphModel, through its Keras JSON and the converters, with its weights. */
function fromTfjs(model: tfl.Sequential): GraphModel {
  const topology = model.toJSON(undefined, false) as unknown as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
  const nodes: GraphNode[] = [];
  const bound: { keras: tfl.layers.Layer; layer: Layer; weights: Record<string, string> }[] = [];
  let prev = 'input';
  for (const kl of topology.config.layers) {
    const name = kl.config.name as string;
    const out = convert(kl.class_name, kl.config, name);
    if (!out.layer) continue;
    nodes.push({ name, layer: out.layer, inputs: [prev] });
    bound.push({ keras: model.getLayer(name), layer: out.layer as Layer, weights: out.weights });
    prev = name;
  }
  const g = new GraphModel({ input: { name: 'input', shape: (model.inputs[0] as tfl.SymbolicTensor).shape.slice(1) }, nodes, output: prev });
  for (const b of bound) {
    expect(Object.keys(b.weights).length, b.keras.name).toBe(b.keras.weights.length);
    for (const [local, kerasName] of Object.entries(b.weights)) {
      const w = b.keras.weights.find((v) => v.originalName.endsWith(`/${kerasName}`));
      if (!w) throw new Error(`${b.keras.name} has no weight ${kerasName}`);
      (b.layer.params[local] ?? (b.layer.state[local] as tf.Variable)).assign(w.read());
    }
  }
  return g;
}

/** Every weight of a tfjs-layers model set to seeded values (variances positive). */
function randomize(model: tfl.Sequential): void {
  const rng = new Rng(11);
  const values = model.weights.map((w) => {
    const shape = w.shape as number[];
    const v = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (w.originalName.endsWith('variance') ? 0.5 + rng.next() : 0.5 * rng.normal()));
    return tf.tensor(v, shape);
  });
  model.setWeights(values);
  tf.dispose(values);
}

/** Builds the tfjs-layers model, converts it, compares predictions; checks that no tensor leaks. */
async function compare(make: () => tfl.Sequential, makeX: () => tf.Tensor, kinds: string[]): Promise<void> {
  const x = makeX();
  await expectNoLeak(() => compareOnce(make(), x, kinds));
  x.dispose();
}

function compareOnce(model: tfl.Sequential, x: tf.Tensor, kinds: string[]): void {
  randomize(model);
  const g = fromTfjs(model);
  expect(g.layers.map((l) => l.kind)).toEqual(kinds);
  const y = g.predict(x);
  const yr = model.predict(x) as tf.Tensor;
  expect(relErr(y, yr)).toBeLessThanOrEqual(1e-5);
  tf.tidy(() => {
    // training mode runs (batch statistics, noise) with the right shape
    expect(g.logits(x, { training: true, rng: new Rng(1) }).shape).toEqual(yr.shape);
  });
  tf.dispose([y, yr]);
  g.dispose();
  model.dispose();
}

describe('Keras converters of basic layers: tfjs-layers models run the same through them', () => {
  it('dense, batch norm, PReLU, layer norm, activations, dropout', async () => {
    const model = () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({ units: 8, activation: 'gelu', inputShape: [6] }),
          tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-2 }),
          tfl.layers.prelu({}),
          tfl.layers.layerNormalization({ center: false }),
          tfl.layers.dense({ units: 7, useBias: false, activation: 'hardSigmoid' }),
          tfl.layers.leakyReLU({ alpha: 0.2 }),
          tfl.layers.dropout({ rate: 0.3 }),
          tfl.layers.dense({ units: 6, activation: 'mish' }),
          tfl.layers.reLU({ maxValue: 0.8 }),
          tfl.layers.elu(),
          tfl.layers.activation({ activation: 'softsign' }),
          tfl.layers.dense({ units: 5, activation: 'softmax' }),
        ],
      });
    await compare(model, () => tf.randomNormal([4, 6], 0, 1, 'float32', 1), [
      'dense',
      'batchNorm',
      'prelu',
      'layerNorm',
      'dense',
      'activation',
      'dropout',
      'dense',
      'activation',
      'activation',
      'activation',
      'dense',
    ]);
  });

  it('embedding → dense on the last axis of [steps, dim] (denseNd) → layer norm → swish → noise', async () => {
    const model = () =>
      tfl.sequential({
        layers: [
          tfl.layers.embedding({ inputDim: 12, outputDim: 4, inputLength: 5, inputShape: [5] }),
          tfl.layers.dense({ units: 3, activation: 'selu' }),
          tfl.layers.layerNormalization({ axis: [1, 2] }),
          tfl.layers.activation({ activation: 'swish' }),
          tfl.layers.gaussianNoise({ stddev: 0.1 }),
          tfl.layers.softmax({ axis: -1 }),
        ],
      });
    await compare(
      model,
      () =>
        tf.tensor2d([
          [1, 2, 11, 0, 2],
          [5, 5, 5, 3, 7],
        ]),
      ['embedding', 'denseNd', 'layerNorm', 'activation', 'gaussianNoise', 'activation'],
    );
  });

  it('images: rescaling, batch norm over the channels, capped ReLU, per-channel PReLU, noise layers', async () => {
    const model = () =>
      tfl.sequential({
        layers: [
          tfl.layers.rescaling({ scale: 1 / 255, offset: -0.5, inputShape: [4, 4, 3] }),
          tfl.layers.batchNormalization({ axis: 3, center: false }),
          tfl.layers.reLU({ maxValue: 3 }),
          tfl.layers.prelu({ sharedAxes: [1, 2] }),
          tfl.layers.gaussianDropout({ rate: 0.2 }),
          tfl.layers.alphaDropout({ rate: 0.1 }),
          tfl.layers.dense({ units: 2 }),
        ],
      });
    await compare(model, () => tf.randomUniform([3, 4, 4, 3], 0, 255, 'float32', 2), [
      'rescaling',
      'batchNorm',
      'activation',
      'prelu',
      'gaussianDropout',
      'alphaDropout',
      'denseNd',
    ]);
  });
});

describe('Keras converters: configs', () => {
  it('registers the basic layers, and no recurrent layer or wrapper', () => {
    const all = supportedKerasLayers();
    for (const c of [
      'InputLayer',
      'Dense',
      'Activation',
      'ReLU',
      'LeakyReLU',
      'PReLU',
      'ELU',
      'Softmax',
      'BatchNormalization',
      'LayerNormalization',
      'Dropout',
      'SpatialDropout1D',
      'SpatialDropout2D',
      'GaussianNoise',
      'GaussianDropout',
      'AlphaDropout',
      'Rescaling',
      'Embedding',
    ]) {
      expect(all).toContain(c);
    }
    for (const c of ['LSTM', 'GRU', 'SimpleRNN', 'Bidirectional', 'TimeDistributed']) expect(all).not.toContain(c);
  });

  it('maps Keras 3 and Keras 2 spellings, and weights in Keras order', () => {
    expect(convert('InputLayer', { batch_shape: [null, 3] })).toEqual({ layer: undefined, weights: {} });
    expect(convert('LeakyReLU', { negative_slope: 0.25 }).layer?.config()).toEqual({ kind: 'activation', activation: { name: 'leakyRelu', alpha: 0.25 } });
    expect(convert('LeakyReLU', {}).layer?.config()).toEqual({ kind: 'activation', activation: { name: 'leakyRelu', alpha: 0.3 } });
    expect(convert('ReLU', { max_value: 2, negative_slope: 0.1, threshold: 0.5 }).layer?.config()).toEqual({
      kind: 'activation',
      activation: { name: 'cappedRelu', maxValue: 2, negativeSlope: 0.1, threshold: 0.5 },
    });
    expect(convert('ELU', { alpha: 0.7 }).layer?.config()).toEqual({ kind: 'activation', activation: { name: 'elu', alpha: 0.7 } });
    expect(convert('Softmax', { axis: [1] }).layer?.kind).toBe('softmax');
    expect(convert('BatchNormalization', { axis: [3], center: false }).weights).toEqual({ gamma: 'gamma', moving_mean: 'moving_mean', moving_variance: 'moving_variance' });
    expect(convert('BatchNormalization', {}).layer?.config()).toEqual({ kind: 'batchNorm', momentum: 0.99, epsilon: 1e-3 });
    expect(convert('LayerNormalization', { axis: [-1], scale: false, rms_scaling: false }).weights).toEqual({ beta: 'beta' });
    expect(convert('Dense', { units: 2, use_bias: false }).weights).toEqual({ kernel: 'kernel' });
    expect(convert('Dropout', { rate: 0.2, noise_shape: [null, 1, 4] }).layer?.kind).toBe('spatialDropout');
    expect(convert('Dropout', { rate: 0.2, noise_shape: null, seed: 3 }).layer?.kind).toBe('dropout');
    expect(convert('SpatialDropout2D', { rate: 0.2, data_format: 'channels_last' }).layer?.config()).toEqual({ kind: 'spatialDropout', rate: 0.2, rank: 3 });
    expect(convert('Embedding', { input_dim: 5, output_dim: 2, mask_zero: false, input_length: 7 }).weights).toEqual({ embeddings: 'embeddings' });
    expect(convert('PReLU', { shared_axes: 1 }).layer?.config()).toMatchObject({ kind: 'prelu', sharedAxes: [1] });
    expect(convert('Dense', { units: 4 }, 'my_dense').layer?.name).toBe('my_dense');
  });

  it.each([
    ['InputLayer', { sparse: true }, /has sparse true \(sparse inputs are not supported\)/],
    ['Dense', { units: 0 }, /has units 0: expected a positive integer/],
    ['Dense', { units: 3, lora_rank: 4 }, /has lora_rank 4/],
    ['Dense', { units: 3, activation: 'celu' }, /activation 'celu' is not supported/],
    ['Activation', { activation: 'nope' }, /activation 'nope' is not supported/],
    ['ReLU', { max_value: -1 }, /maxValue must be a finite number >= 0/],
    ['Softmax', { axis: 'x' }, /has axis "x": expected an integer/],
    ['PReLU', { shared_axes: [0] }, /has shared_axes \[0\]/],
    ['BatchNormalization', { renorm: true }, /has renorm true \(batch renormalisation is not supported\)/],
    ['BatchNormalization', { axis: [1, 2] }, /several feature axes/],
    ['BatchNormalization', { virtual_batch_size: 8 }, /has virtual_batch_size 8/],
    ['BatchNormalization', { momentum: 1 }, /has momentum 1: expected a number in \[0, 1\)/],
    ['BatchNormalization', { center: 'yes' }, /has center "yes": expected true or false/],
    ['LayerNormalization', { rms_scaling: true }, /has rms_scaling true/],
    ['LayerNormalization', { axis: [0, 1] }, /0 is the batch axis/],
    ['Dropout', { rate: 1 }, /has rate 1: expected a rate in \[0, 1\)/],
    ['Dropout', { rate: 0.5, noise_shape: [null, 0] }, /has noise_shape/],
    ['SpatialDropout2D', { rate: 0.1, data_format: 'channels_first' }, /only channels_last/],
    ['GaussianNoise', { stddev: -1 }, /has stddev -1/],
    ['GaussianDropout', {}, /has rate undefined/],
    ['Rescaling', { offset: 1 }, /has scale undefined/],
    ['Embedding', { input_dim: 5, output_dim: 2, mask_zero: true }, /has mask_zero true/],
    ['Embedding', { input_dim: 5 }, /has output_dim undefined/],
  ] as [string, Record<string, unknown>, RegExp][])('%s %j throws a clear message', (className, config, message) => {
    expect(() => convert(className, config)).toThrow(message);
  });
});
