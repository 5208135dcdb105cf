import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { checkConvLayer, dilateKernel } from './conv.test-helpers.js';
import { DepthwiseConv2d } from './depthwise-conv2d.js';

type P = 'same' | 'valid';
type Case = { k: number | [number, number]; m: number; s: number | [number, number]; padding: P; shape: number[]; useBias?: boolean; relu?: boolean };
const cases: Case[] = [
  { k: 3, m: 1, s: 1, padding: 'same', shape: [7, 6, 3] },
  { k: 3, m: 2, s: 1, padding: 'valid', shape: [8, 8, 2] },
  { k: 3, m: 1, s: 2, padding: 'same', shape: [9, 7, 3] },
  { k: [3, 2], m: 3, s: 2, padding: 'valid', shape: [9, 8, 2], relu: true },
  { k: 2, m: 2, s: [2, 1], padding: 'same', shape: [6, 5, 2], useBias: false },
];

describe('DepthwiseConv2d', () => {
  it.each(cases)('equals tfjs-layers and tf.depthwiseConv2d, gradients on cpu and wasm: %o', async (c) => {
    const activation = c.relu ? 'relu' : 'linear';
    await checkConvLayer({
      make: () => new DepthwiseConv2d({ kernelSize: c.k, depthMultiplier: c.m, stride: c.s, padding: c.padding, useBias: c.useBias, activation }),
      ref: () => tfl.layers.depthwiseConv2d({ kernelSize: c.k, depthMultiplier: c.m, strides: c.s, padding: c.padding, useBias: c.useBias ?? true, activation }),
      direct: (x, w) => {
        const z = tf.depthwiseConv2d(x as tf.Tensor4D, w.depthwise_kernel as tf.Tensor4D, c.s, c.padding);
        const zb = w.bias ? tf.add(z, w.bias) : z;
        return c.relu ? tf.relu(zb) : zb;
      },
      shape: c.shape,
      symbolic: [[[null, null, c.shape[2] as number]], [[null, c.shape[1] as number, c.shape[2] as number]], [[c.shape[0] as number, null, c.shape[2] as number]]],
    });
  });

  // tfjs-layers' DepthwiseConv2D ignores dilation_rate: the reference is the zero-dilated kernel
  it.each([
    { d: 2 as number | [number, number], padding: 'same' as P, shape: [9, 9, 2] },
    { d: [2, 3] as number | [number, number], padding: 'valid' as P, shape: [10, 11, 2] },
  ])('with dilation equals the convolution with the zero-dilated kernel: %o', async (c) => {
    const d: [number, number] = typeof c.d === 'number' ? [c.d, c.d] : c.d;
    await checkConvLayer({
      make: () => new DepthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, dilation: c.d, padding: c.padding }),
      direct: (x, w) => tf.add(tf.depthwiseConv2d(x as tf.Tensor4D, dilateKernel(w.depthwise_kernel as tf.Tensor, d), 1, c.padding), w.bias as tf.Tensor),
      shape: c.shape,
      stock: false,
      symbolic: [
        [
          [null, null, 2],
          [null, null, 4],
        ],
        [
          [c.shape[0] as number, null, 2],
          [c.padding === 'same' ? 9 : 10 - 2 * d[0], null, 4],
        ],
      ],
    });
  });

  it('captures input, pre-activation and output, adds the tap, and validates its options', () => {
    const l = new DepthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' });
    l.name = 'dw';
    expect(l.build([5, 5, 3], new Rng(0))).toEqual([5, 5, 6]);
    expect(l.kind).toBe('depthwiseConv2d');
    expect([l.kernelSize, l.strides, l.dilation, l.padding]).toEqual([[3, 3], [1, 1], [1, 1], 'same']);
    expect(Object.keys(l.params)).toEqual(['depthwise_kernel', 'bias']);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([2, 5, 5, 3]);
      const tap = tf.fill([2, 5, 5, 6], -100);
      const capture: Record<string, never> = {};
      const y = l.apply(x, { training: false, capture, taps: { dw: tap } });
      const cap = (capture as Record<string, { input: tf.Tensor; preActivation: tf.Tensor; output: tf.Tensor }>).dw;
      expect(cap?.input).toBe(x);
      expect(cap?.output).toBe(y);
      expect(tf.max(y).dataSync()[0]).toBe(0);
      expect(tf.max(cap?.preActivation as tf.Tensor).dataSync()[0]).toBeLessThan(-50);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(l.params));
    expect(() => new DepthwiseConv2d({ kernelSize: 3, stride: 2, dilation: 2 })).toThrow(/cannot both exceed 1/);
    expect(() => new DepthwiseConv2d({ kernelSize: 3, depthMultiplier: 0 })).toThrow(/depthMultiplier/);
    expect(() => new DepthwiseConv2d({ kernelSize: 3, padding: 'causal' as never })).toThrow(/padding/);
    expect(() => new DepthwiseConv2d({ kernelSize: 3 }).build([5, 5, null], new Rng(0))).toThrow(/channels must be known/);
    expect(() => new DepthwiseConv2d({ kernelSize: 3 }).build([2, 5, 3], new Rng(0))).toThrow(/smaller than the kernel/);
  });
});
