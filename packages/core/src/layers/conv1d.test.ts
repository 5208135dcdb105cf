import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { checkConvLayer } from './conv.test-helpers.js';
import { Conv1d, type Conv1dPadding } from './conv1d.js';

type Case = { o: number; k: number; s?: number; d?: number; padding: Conv1dPadding; shape: number[]; useBias?: boolean; relu?: boolean };
const cases: Case[] = [
  { o: 4, k: 3, padding: 'same', shape: [9, 3] },
  { o: 3, k: 3, padding: 'valid', shape: [10, 2], relu: true },
  { o: 5, k: 3, s: 2, padding: 'same', shape: [11, 3] },
  { o: 2, k: 4, s: 3, padding: 'valid', shape: [13, 2], useBias: false },
  { o: 3, k: 3, d: 2, padding: 'same', shape: [12, 2] },
  { o: 3, k: 2, d: 3, padding: 'valid', shape: [10, 3] },
];

/** tfjs-layers' Conv1D throws on causal padding: Keras's causal = valid after (k−1)·d leading zeros. */
const causal: Case[] = [
  { o: 3, k: 3, padding: 'causal', shape: [9, 2] },
  { o: 2, k: 2, s: 2, padding: 'causal', shape: [9, 3], relu: true },
  { o: 3, k: 3, d: 2, padding: 'causal', shape: [10, 2] },
];

const make = (c: Case) => () =>
  new Conv1d({ filters: c.o, kernelSize: c.k, stride: c.s, dilation: c.d, padding: c.padding, useBias: c.useBias, activation: c.relu ? 'relu' : 'linear' });
const direct = (c: Case) => (x: tf.Tensor, w: Record<string, tf.Tensor>) => {
  const before = c.padding === 'causal' ? (c.k - 1) * (c.d ?? 1) : 0;
  const xp = tf.pad(x, [
    [0, 0],
    [before, 0],
    [0, 0],
  ]);
  const z = tf.conv1d(xp as tf.Tensor3D, w.kernel as tf.Tensor3D, c.s ?? 1, c.padding === 'same' ? 'same' : 'valid', 'NWC', c.d ?? 1);
  const zb = w.bias ? tf.add(z, w.bias) : z;
  return c.relu ? tf.relu(zb) : zb;
};

describe('Conv1d', () => {
  it.each(cases)('equals tfjs-layers and tf.conv1d, gradients on cpu and wasm: %o', async (c) => {
    const dilated = (c.d ?? 1) > 1;
    await checkConvLayer({
      make: make(c),
      ref: () =>
        tfl.layers.conv1d({
          filters: c.o,
          kernelSize: c.k,
          strides: c.s ?? 1,
          dilationRate: c.d ?? 1,
          padding: c.padding,
          useBias: c.useBias ?? true,
          activation: c.relu ? 'relu' : 'linear',
        }),
      direct: dilated ? undefined : direct(c),
      shape: c.shape,
      stock: !dilated,
      symbolic: [[[null, c.shape[1] as number]]],
    });
  });

  it.each(causal)('causal padding equals valid convolution after (k−1)·d leading zeros: %o', async (c) => {
    const dilated = (c.d ?? 1) > 1;
    const len = Math.ceil((c.shape[0] as number) / (c.s ?? 1));
    await checkConvLayer({
      make: make(c),
      direct: dilated ? undefined : direct(c),
      // dilated: tfjs-layers' own valid conv1d (no causal) on the padded input
      ref: dilated
        ? () => {
            const inner = tfl.layers.conv1d({ filters: c.o, kernelSize: c.k, dilationRate: c.d ?? 1, padding: 'valid', activation: c.relu ? 'relu' : 'linear' });
            const before = (c.k - 1) * (c.d ?? 1);
            const wrap = Object.create(inner) as tfl.layers.Layer;
            wrap.apply = ((x: tf.Tensor) =>
              tf.tidy(
                () =>
                  inner.apply(
                    tf.pad(x, [
                      [0, 0],
                      [before, 0],
                      [0, 0],
                    ]),
                  ) as tf.Tensor,
              )) as never;
            return wrap;
          }
        : undefined,
      shape: c.shape,
      stock: !dilated,
      symbolic: [
        [
          [null, c.shape[1] as number],
          [null, c.o],
        ],
        [
          [c.shape[0] as number, c.shape[1] as number],
          [len, c.o],
        ],
      ],
    });
  });

  it('exposes its geometry and captures [steps, channels] tensors', () => {
    const l = new Conv1d({ filters: 4, kernelSize: 3, dilation: 2, padding: 'causal' });
    l.name = 'c1';
    expect(l.build([10, 3], new Rng(0))).toEqual([10, 4]);
    expect([l.kind, l.kernelSize, l.strides, l.dilation, l.padding, l.causalPad]).toEqual(['conv1d', 3, 1, 2, 'causal', 4]);
    expect(Object.fromEntries(Object.entries(l.params).map(([k, v]) => [k, v.shape]))).toEqual({ kernel: [3, 3, 4], bias: [4] });
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([2, 10, 3]);
      const capture: Record<string, { input: tf.Tensor; preActivation: tf.Tensor }> = {};
      l.apply(x, { training: false, capture: capture as never });
      expect(capture.c1?.input).toBe(x);
      expect(capture.c1?.preActivation.shape).toEqual([2, 10, 4]);
      // causal: output step i does not depend on input steps after i
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.slice(l.apply(t, { training: false }), [0, 4, 0], [-1, 1, -1])))(x);
      expect(tf.sum(tf.abs(tf.slice(g, [0, 5, 0], [-1, -1, -1]))).dataSync()[0]).toBe(0);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(l.params));
    expect(() => new Conv1d({ filters: 2, kernelSize: 3, stride: 2, dilation: 2 })).toThrow(/cannot both exceed 1/);
    expect(() => new Conv1d({ filters: 2, kernelSize: 3 }).build([5, 5, 3], new Rng(0))).toThrow(/\[steps, channels\]/);
    expect(() => new Conv1d({ filters: 2, kernelSize: 5 }).build([3, 2], new Rng(0))).toThrow(/shorter than the kernel/);
  });
});
