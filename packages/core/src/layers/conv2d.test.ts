import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { checkConvLayer, dilateKernel } from './conv.test-helpers.js';
import { Conv2d } from './conv2d.js';

type P = 'same' | 'valid';
type Case = {
  o: number;
  k: number | [number, number];
  s?: number | [number, number];
  d?: number | [number, number];
  padding: P;
  shape: number[];
  useBias?: boolean;
  relu?: boolean;
};
const cases: Case[] = [
  { o: 4, k: 3, padding: 'same', shape: [7, 6, 3] },
  { o: 3, k: 3, s: 2, padding: 'valid', shape: [9, 8, 2], relu: true },
  { o: 3, k: [3, 2], s: [2, 1], padding: 'same', shape: [9, 7, 2] },
  { o: 2, k: 3, s: [1, 3], padding: 'valid', shape: [8, 10, 3], useBias: false },
];
const dilated: Case[] = [
  { o: 3, k: 3, d: 2, padding: 'same', shape: [9, 9, 2] },
  { o: 2, k: [3, 2], d: [2, 3], padding: 'valid', shape: [10, 11, 2], relu: true },
];

const make = (c: Case) => () =>
  new Conv2d({ filters: c.o, kernelSize: c.k, stride: c.s, dilation: c.d, padding: c.padding, useBias: c.useBias, activation: c.relu ? 'relu' : 'linear' });

describe('Conv2d with strides [sh, sw] and dilation', () => {
  it.each(cases)('equals tfjs-layers and tf.conv2d, gradients on cpu and wasm: %o', async (c) => {
    await checkConvLayer({
      make: make(c),
      ref: () => tfl.layers.conv2d({ filters: c.o, kernelSize: c.k, strides: c.s ?? 1, padding: c.padding, useBias: c.useBias ?? true, activation: c.relu ? 'relu' : 'linear' }),
      direct: (x, w) => {
        const z = tf.conv2d(x as tf.Tensor4D, w.kernel as tf.Tensor4D, c.s ?? 1, c.padding);
        const zb = w.bias ? tf.add(z, w.bias) : z;
        return c.relu ? tf.relu(zb) : zb;
      },
      shape: c.shape,
      symbolic: [[[null, null, c.shape[2] as number]], [[c.shape[0] as number, null, c.shape[2] as number]]],
    });
  });

  it.each(dilated)('dilated: equals tfjs-layers, and the convolution with the zero-dilated kernel with stock gradients: %o', async (c) => {
    const d: [number, number] = typeof c.d === 'number' ? [c.d, c.d] : (c.d as [number, number]);
    await checkConvLayer({
      make: make(c),
      ref: () => tfl.layers.conv2d({ filters: c.o, kernelSize: c.k, dilationRate: c.d, padding: c.padding, activation: c.relu ? 'relu' : 'linear' }),
      direct: (x, w) => {
        const z = tf.add(tf.conv2d(x as tf.Tensor4D, dilateKernel(w.kernel as tf.Tensor, d), 1, c.padding), w.bias as tf.Tensor);
        return c.relu ? tf.relu(z) : z;
      },
      shape: c.shape,
      stock: false,
      refGradients: false,
      symbolic: [[[null, null, c.shape[2] as number]], [[c.shape[0] as number, null, c.shape[2] as number]]],
    });
  });

  it('keeps the original options, config and `stride`', () => {
    const l = new Conv2d({ filters: 2, kernelSize: 3, stride: 2, padding: 'same' });
    expect([l.kernelSize, l.strides, l.dilation, l.stride]).toEqual([[3, 3], [2, 2], [1, 1], 2]);
    expect(l.config()).toMatchObject({ kind: 'conv2d', filters: 2, kernelSize: [3, 3], stride: 2, dilation: 1, padding: 'same' });
    const u = new Conv2d({ filters: 2, kernelSize: [3, 1], stride: [2, 1], dilation: 1 });
    expect(u.config()).toMatchObject({ stride: [2, 1], dilation: 1 });
    expect(() => u.stride).toThrow(/read strides and dilation/);
    expect(() => new Conv2d({ filters: 2, kernelSize: 3, stride: 2, dilation: 2 })).toThrow(/cannot both exceed 1/);
    expect(() => new Conv2d({ filters: 2, kernelSize: 3, stride: [2, 0] })).toThrow(/stride/);
    expect(new Conv2d({ filters: 2, kernelSize: 3, dilation: 2, padding: 'valid' }).build([null, 9, 1], new Rng(0))).toEqual([null, 5, 2]);
  });
});
