import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../../test/helpers.js';
import '../../gradients.js';
import type { Conv1d } from '../../layers/conv1d.js';
import type { Conv2d } from '../../layers/conv2d.js';
import type { Conv2dTranspose } from '../../layers/conv2d-transpose.js';
import type { DepthwiseConv2d } from '../../layers/depthwise-conv2d.js';
import type { SeparableConv2d } from '../../layers/separable-conv2d.js';
import { Rng } from '../../rng.js';
import { kerasActivation } from '../activations.js';
import { fromLayersModel } from '../live.js';
import { type ConvertContext, type ConvertedLayer, type KerasLayerConfig, kerasLayerConverter, supportedKerasLayers } from '../registry.js';
import './conv.js';
import './index.js';

const ctx: ConvertContext = { source: 'test', isOutput: false, activation: kerasActivation };

function convert(className: string, config: Record<string, unknown>, name = 'l'): ConvertedLayer {
  const c = kerasLayerConverter(className);
  if (!c) throw new Error(`no converter for ${className}`);
  return c({ className, name, config }, ctx);
}

/** The layer configs of a tfjs-layers model as its model.json stores them. */
function stored(model: tfl.LayersModel): KerasLayerConfig[] {
  const topology = model.toJSON(null, false) as unknown as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
  return topology.config.layers.map((l) => ({ className: l.class_name, name: String(l.config.name), config: l.config }));
}

function randomize(m: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  m.setWeights(
    m.weights.map((w) =>
      tf.tensor(
        Float32Array.from({ length: tf.util.sizeFromShape(w.shape as number[]) }, () => rng.normal() * 0.4),
        w.shape as number[],
      ),
    ),
  );
}

describe('Keras convolution converters', () => {
  it('registers the five classes', () => {
    expect(supportedKerasLayers()).toEqual(expect.arrayContaining(['Conv1D', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose']));
  });

  it('reads every key of tfjs-layers model.json configs', () => {
    const input = tfl.input({ shape: [null, null, 3] });
    let h = tfl.layers.conv2d({ filters: 4, kernelSize: [3, 2], strides: [2, 1], padding: 'same', activation: 'relu', name: 'c' }).apply(input) as tfl.SymbolicTensor;
    h = tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'valid', useBias: false, name: 'dw' }).apply(h) as tfl.SymbolicTensor;
    // tfjs-layers does not save SeparableConv2D's depth_multiplier (Keras does): see the Keras config below
    h = tfl.layers.separableConv2d({ filters: 5, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh', name: 'sep' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid', name: 'tr' }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: h });
    const got = Object.fromEntries(
      stored(model)
        .slice(1)
        .map((l) => [l.name, convert(l.className, l.config, l.name)]),
    );
    const c = got.c?.layer as Conv2d;
    expect([c.kind, c.name, c.options.filters, c.kernelSize, c.strides, c.dilation, c.padding, c.activation]).toEqual([
      'conv2d',
      'c',
      4,
      [3, 2],
      [2, 1],
      [1, 1],
      'same',
      { name: 'relu' },
    ]);
    expect(got.c?.weights).toEqual({ kernel: 'kernel', bias: 'bias' });
    const dw = got.dw?.layer as DepthwiseConv2d;
    expect([dw.kind, dw.kernelSize, dw.depthMultiplier, dw.strides, dw.padding]).toEqual(['depthwiseConv2d', [3, 3], 2, [1, 1], 'valid']);
    expect(got.dw?.weights).toEqual({ depthwise_kernel: 'depthwise_kernel' });
    const sep = got.sep?.layer as SeparableConv2d;
    expect([sep.kind, sep.filters, sep.depthMultiplier, sep.dilation, sep.padding, sep.activation]).toEqual(['separableConv2d', 5, 1, [2, 2], 'same', { name: 'tanh' }]);
    expect(got.sep?.weights).toEqual({ depthwise_kernel: 'depthwise_kernel', pointwise_kernel: 'pointwise_kernel', bias: 'bias' });
    const tr = got.tr?.layer as Conv2dTranspose;
    expect([tr.kind, tr.filters, tr.kernelSize, tr.strides, tr.padding]).toEqual(['conv2dTranspose', 2, [3, 3], [2, 2], 'valid']);
    const c1 = convert('Conv1D', {
      filters: 3,
      kernel_size: [5],
      strides: [1],
      dilation_rate: [2],
      padding: 'causal',
      use_bias: true,
      activation: 'linear',
      data_format: 'channels_last',
    }).layer as Conv1d;
    expect([c1.kind, c1.kernelSize, c1.strides, c1.dilation, c1.padding]).toEqual(['conv1d', 5, 1, 2, 'causal']);
    // as Keras 2 saves it
    const keras = {
      name: 'sep2',
      trainable: true,
      dtype: 'float32',
      filters: 8,
      kernel_size: [3, 3],
      strides: [2, 2],
      padding: 'same',
      data_format: 'channels_last',
      dilation_rate: [1, 1],
      groups: 1,
      activation: 'relu',
      use_bias: false,
      depth_multiplier: 2,
      depthwise_initializer: { class_name: 'GlorotUniform', config: {} },
    };
    const s2 = convert('SeparableConv2D', keras).layer as SeparableConv2d;
    expect([s2.filters, s2.kernelSize, s2.strides, s2.depthMultiplier, s2.padding, s2.activation, Object.keys(convert('SeparableConv2D', keras).weights)]).toEqual([
      8,
      [3, 3],
      [2, 2],
      2,
      'same',
      { name: 'relu' },
      ['depthwise_kernel', 'pointwise_kernel'],
    ]);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['Conv2D', { filters: 2, kernel_size: 3, groups: 2 }, /groups 2/],
    ['Conv2D', { filters: 2, kernel_size: 3, data_format: 'channels_first' }, /channels_first/],
    ['Conv2D', { filters: 2, kernel_size: 3, strides: 2, dilation_rate: 2 }, /strides 2 and dilation_rate 2/],
    ['Conv2D', { filters: 2, kernel_size: 3, padding: 'causal' }, /padding "causal"/],
    ['Conv2D', { filters: 0, kernel_size: 3 }, /filters 0/],
    ['Conv2D', { filters: 2, kernel_size: [3, 3, 3] }, /kernel_size/],
    ['Conv1D', { filters: 2, kernel_size: 3, padding: 'full' }, /padding "full"/],
    ['DepthwiseConv2D', { kernel_size: 3, depth_multiplier: 0 }, /depth_multiplier 0/],
    ['SeparableConv2D', { filters: 2, kernel_size: 3, use_bias: 'yes' }, /use_bias "yes"/],
    ['SeparableConv2D', { filters: 2, kernel_size: 3, activation: 'gelu_nonexistent' }, /activation/],
    ['Conv2DTranspose', { filters: 2, kernel_size: 3, output_padding: [1, 1] }, /output_padding \[1,1\]/],
    ['Conv2DTranspose', { filters: 2, kernel_size: 3, dilation_rate: 2 }, /dilation_rate 2/],
  ])('%s %o throws a clear error', (className, config, message) => {
    expect(() => convert(className, config)).toThrow(message);
  });

  it('a fully convolutional tfjs-layers model ([any, any, 3]) imports and predicts as tfjs-layers does', async () => {
    const input = tfl.input({ shape: [null, null, 3] });
    let h = tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    h = tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.separableConv2d({ filters: 5, kernelSize: [3, 2], strides: [1, 2], padding: 'valid' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.conv2d({ filters: 2, kernelSize: 1, dilationRate: 1, activation: 'tanh' }).apply(h) as tfl.SymbolicTensor;
    const keras = tfl.model({ inputs: input, outputs: h });
    randomize(keras, 3);
    const loaded = await fromLayersModel(keras);
    expect(loaded.model.inputShape).toEqual([null, null, 3]);
    expect(loaded.model.layers.map((l) => l.kind)).toEqual(['conv2d', 'depthwiseConv2d', 'separableConv2d', 'conv2dTranspose', 'conv2d']);
    for (const shape of [
      [2, 9, 12, 3],
      [1, 16, 10, 3],
    ]) {
      const x = tf.randomNormal(shape, 0, 1, 'float32', 5);
      await expectNoLeak(() => {
        tf.tidy(() => {
          expect(relErr(loaded.predict(x), keras.predict(x) as tf.Tensor)).toBeLessThanOrEqual(1e-5);
        });
      });
      x.dispose();
    }
    loaded.dispose();
    keras.dispose();
  });

  it('a Conv1D model imports and predicts as tfjs-layers does', async () => {
    const input = tfl.input({ shape: [null, 3] });
    let h = tfl.layers.conv1d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    h = tfl.layers.conv1d({ filters: 4, kernelSize: 2, dilationRate: 2, padding: 'valid' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.conv1d({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid', useBias: false }).apply(h) as tfl.SymbolicTensor;
    const keras = tfl.model({ inputs: input, outputs: h });
    randomize(keras, 4);
    const loaded = await fromLayersModel(keras);
    const x = tf.randomNormal([3, 17, 3], 0, 1, 'float32', 6);
    await expectNoLeak(() => {
      tf.tidy(() => {
        expect(relErr(loaded.predict(x), keras.predict(x) as tf.Tensor)).toBeLessThanOrEqual(1e-5);
      });
    });
    x.dispose();
    loaded.dispose();
    keras.dispose();
  });
});
