import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { compareLayer, tfjsLayer } from '../../layers/compare.test-helpers.js';
import { type ConvertContext, type KerasLayerConfig, kerasLayerConverter, supportedKerasLayers } from '../registry.js';
import './shape.js';

const ctx: ConvertContext = {
  source: 'test',
  isOutput: false,
  activation: () => {
    throw new Error('no activation expected');
  },
};

function convert(className: string, config: Record<string, unknown>) {
  const c = kerasLayerConverter(className);
  if (!c) throw new Error(`no converter for ${className}`);
  return c({ className, name: 'l', config }, ctx);
}

/** The layer configs of a tfjs-layers model as its model.json stores them. */
function stored(model: tfl.LayersModel): KerasLayerConfig[] {
  const topology = model.toJSON(null, false) as unknown as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
  return topology.config.layers.map((l) => ({ className: l.class_name, name: String(l.config.name), config: l.config }));
}

describe('Keras converters of single-input layers, from tfjs-layers model.json configs', () => {
  const cases: [string, () => tfl.layers.Layer, number[]][] = [
    [
      'ZeroPadding2D',
      () =>
        tfl.layers.zeroPadding2d({
          padding: [
            [1, 0],
            [2, 3],
          ],
        }),
      [3, 4, 2],
    ],
    ['ZeroPadding2D', () => tfl.layers.zeroPadding2d({ padding: [1, 2] }), [3, 4, 2]],
    [
      'Cropping2D',
      () =>
        tfl.layers.cropping2D({
          cropping: [
            [1, 0],
            [0, 2],
          ],
        }),
      [4, 5, 2],
    ],
    ['UpSampling2D', () => tfl.layers.upSampling2d({ size: [2, 3], interpolation: 'bilinear' }), [3, 3, 2]],
    ['UpSampling2D', () => tfl.layers.upSampling2d({}), [3, 4, 2]],
    ['Reshape', () => tfl.layers.reshape({ targetShape: [-1, 4] }), [2, 3, 4]],
    ['Permute', () => tfl.layers.permute({ dims: [2, 3, 1] }), [2, 3, 4]],
    ['Flatten', () => tfl.layers.flatten(), [2, 3, 4]],
    ['MaxPooling1D', () => tfl.layers.maxPooling1d({ poolSize: 3, strides: 2, padding: 'same' }), [9, 3]],
    ['AveragePooling1D', () => tfl.layers.averagePooling1d({ poolSize: 2 }), [8, 3]],
    ['MaxPooling2D', () => tfl.layers.maxPooling2d({ poolSize: [2, 3], strides: [1, 2] }), [6, 7, 2]],
    ['AveragePooling2D', () => tfl.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), [7, 7, 2]],
    ['GlobalMaxPooling1D', () => tfl.layers.globalMaxPooling1d({}), [5, 3]],
    ['GlobalAveragePooling1D', () => tfl.layers.globalAveragePooling1d({}), [5, 3]],
    ['GlobalMaxPooling2D', () => tfl.layers.globalMaxPooling2d({}), [4, 5, 3]],
    ['GlobalAveragePooling2D', () => tfl.layers.globalAveragePooling2d({}), [4, 5, 3]],
  ];
  it.each(cases)('%s', async (className, make, shape) => {
    const layer = make();
    const l = stored(tfl.sequential({ layers: [tfl.layers.inputLayer({ inputShape: shape }), layer] })).find((x) => x.className !== 'InputLayer');
    expect(l?.className).toBe(className);
    const c = convert(className, (l as KerasLayerConfig).config);
    expect(c.weights).toEqual({});
    const ref = tfjsLayer(layer);
    // tfjs-layers leaves Reshape's -1 unknown when the batch size is (Keras infers it from the example's size)
    if (className === 'Reshape') ref.shape = ([s]) => (layer.computeOutputShape([2, ...(s as number[])]) as number[]).slice(1);
    // tfjs 4.22's stock resize gradients are wrong on cpu (nearest for batches > 1) or throw (bilinear, H ≠ W)
    await compareLayer({ ours: c.layer as never, ref, shapes: [shape], wasm: false, ...(className === 'UpSampling2D' ? { refGrad: 'basis' as const } : {}) });
  });
});

describe('Keras converters of merge layers', () => {
  const cases: [string, (inputs: tfl.SymbolicTensor[]) => tfl.SymbolicTensor, number[][]][] = [
    [
      'Add',
      (xs) => tfl.layers.add({}).apply(xs) as tfl.SymbolicTensor,
      [
        [4, 3],
        [4, 3],
        [4, 3],
      ],
    ],
    [
      'Multiply',
      (xs) => tfl.layers.multiply({}).apply(xs) as tfl.SymbolicTensor,
      [
        [4, 3],
        [1, 3],
      ],
    ],
    [
      'Average',
      (xs) => tfl.layers.average({}).apply(xs) as tfl.SymbolicTensor,
      [
        [4, 3],
        [4, 3],
      ],
    ],
    [
      'Maximum',
      (xs) => tfl.layers.maximum({}).apply(xs) as tfl.SymbolicTensor,
      [
        [4, 3],
        [4, 3],
      ],
    ],
    [
      'Minimum',
      (xs) => tfl.layers.minimum({}).apply(xs) as tfl.SymbolicTensor,
      [
        [4, 3],
        [4, 3],
      ],
    ],
    [
      'Concatenate',
      (xs) => tfl.layers.concatenate({ axis: 1 }).apply(xs) as tfl.SymbolicTensor,
      [
        [2, 3],
        [4, 3],
      ],
    ],
  ];
  it.each(cases)('%s', async (className, call, shapes) => {
    const inputs = shapes.map((s) => tfl.input({ shape: s }));
    const model = tfl.model({ inputs, outputs: call(inputs) });
    const l = stored(model).find((x) => x.className === className) as KerasLayerConfig;
    const c = convert(className, l.config);
    await compareLayer({ ours: c.layer as never, ref: tfjsLayer(model.layers[model.layers.length - 1] as tfl.layers.Layer), shapes, wasm: false });
  });

  it('Subtract (which tfjs-layers lacks) from a Keras config', async () => {
    const c = convert('Subtract', { name: 'sub', trainable: true, dtype: 'float32' });
    expect(c.layer?.kind).toBe('subtract');
  });
});

describe('Keras configs as Keras itself writes them', () => {
  it('reads aliases, tuples, null strides and keepdims', () => {
    const p = convert('MaxPool2D', { pool_size: [3, 2], strides: null, padding: 'same', data_format: 'channels_last' }).layer;
    expect(p?.config()).toEqual({ kind: 'maxPool2d', poolSize: [3, 2], stride: [3, 2], padding: 'same' });
    expect(convert('AvgPool1D', { pool_size: [4], strides: [1], padding: 'valid' }).layer?.config()).toEqual({ kind: 'avgPool1d', poolSize: 4, stride: 1, padding: 'valid' });
    expect(convert('GlobalAvgPool2D', { keepdims: true }).layer?.config()).toEqual({ kind: 'globalAvgPool', keepdims: true, spatialRank: 2 });
    expect(convert('GlobalMaxPool1D', {}).layer?.config()).toEqual({ kind: 'globalMaxPool', keepdims: false, spatialRank: 1 });
    expect(convert('Reshape', { target_shape: [-1, 2] }).layer?.config()).toEqual({ kind: 'reshape', targetShape: [-1, 2] });
    expect(convert('Concatenate', {}).layer?.config()).toEqual({ kind: 'concatenate', axis: -1 });
    expect(convert('UpSampling2D', { size: 2 }).layer?.config()).toEqual({ kind: 'upSampling2d', size: [2, 2], interpolation: 'nearest' });
    expect(
      convert('ZeroPadding2D', {
        padding: [
          [1, 2],
          [3, 4],
        ],
      }).layer?.config(),
    ).toEqual({
      kind: 'zeroPadding2d',
      padding: [
        [1, 2],
        [3, 4],
      ],
    });
  });

  it('refuses what it does not support, saying what', () => {
    const cf = { data_format: 'channels_first' };
    for (const name of ['ZeroPadding2D', 'Cropping2D', 'UpSampling2D', 'Flatten', 'MaxPooling1D', 'AveragePooling2D', 'GlobalMaxPooling2D', 'GlobalAveragePooling1D']) {
      expect(() => convert(name, cf), name).toThrow(/has data_format 'channels_first' \(only channels_last is supported\)/);
    }
    expect(() => convert('UpSampling2D', { interpolation: 'bicubic' })).toThrow(/has interpolation "bicubic" \(supported: 'nearest' and 'bilinear'\)/);
    expect(() => convert('MaxPooling1D', { padding: 'causal' })).toThrow(/has padding "causal"/);
    expect(() => convert('MaxPooling2D', { pool_size: [2, 2, 2] })).toThrow(/has pool_size \[2,2,2\]/);
    expect(() => convert('Concatenate', { axis: 0 })).toThrow(/has axis 0/);
    expect(() => convert('Reshape', { target_shape: [-1, -1] })).toThrow(/has target_shape \[-1,-1\]/);
    expect(() => convert('Reshape', {})).toThrow(/has target_shape undefined/);
    expect(() => convert('Permute', { dims: [1, 1] })).toThrow(/has dims \[1,1\]: expected a permutation/);
    expect(() => convert('ZeroPadding2D', { padding: [1, 2, 3] })).toThrow(/has padding \[1,2,3\]/);
    expect(() => convert('GlobalMaxPooling2D', { keepdims: 'yes' })).toThrow(/has keepdims "yes"/);
  });

  it('registers every class name and alias', () => {
    const names = supportedKerasLayers();
    for (const n of [
      'ZeroPadding2D',
      'Cropping2D',
      'UpSampling2D',
      'Reshape',
      'Permute',
      'Flatten',
      'MaxPooling1D',
      'MaxPool1D',
      'AveragePooling1D',
      'AvgPool1D',
      'MaxPooling2D',
      'MaxPool2D',
      'AveragePooling2D',
      'AvgPool2D',
      'GlobalMaxPooling1D',
      'GlobalMaxPool1D',
      'GlobalMaxPooling2D',
      'GlobalMaxPool2D',
      'GlobalAveragePooling1D',
      'GlobalAvgPool1D',
      'GlobalAveragePooling2D',
      'GlobalAvgPool2D',
      'Add',
      'Subtract',
      'Multiply',
      'Average',
      'Maximum',
      'Minimum',
      'Concatenate',
    ]) {
      expect(names, n).toContain(n);
    }
  });
});
