import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { checkConvLayer } from './conv.test-helpers.js';
import { Conv2dTranspose } from './conv2d-transpose.js';

type P = 'same' | 'valid';
type Case = { o: number; k: number | [number, number]; s?: number | [number, number]; padding: P; shape: number[]; useBias?: boolean; relu?: boolean };
const cases: Case[] = [
  { o: 3, k: 3, padding: 'same', shape: [5, 4, 2] },
  { o: 2, k: 3, padding: 'valid', shape: [4, 5, 3], relu: true },
  { o: 4, k: 3, s: 2, padding: 'same', shape: [4, 3, 2] },
  { o: 3, k: 3, s: 2, padding: 'valid', shape: [3, 4, 2] },
  { o: 2, k: 2, s: 3, padding: 'valid', shape: [3, 3, 2], useBias: false },
  { o: 3, k: [4, 3], s: [2, 1], padding: 'same', shape: [3, 5, 2] },
];

describe('Conv2dTranspose', () => {
  it.each(cases)('equals tfjs-layers and tf.conv2dTranspose, gradients on cpu and wasm: %o', async (c) => {
    const activation = c.relu ? 'relu' : 'linear';
    await checkConvLayer({
      make: () => new Conv2dTranspose({ filters: c.o, kernelSize: c.k, stride: c.s, padding: c.padding, useBias: c.useBias, activation }),
      ref: () => tfl.layers.conv2dTranspose({ filters: c.o, kernelSize: c.k, strides: c.s ?? 1, padding: c.padding, useBias: c.useBias ?? true, activation }),
      direct: (x, w) => {
        const [n, h, wd] = x.shape as number[];
        const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
        const [sh, sw] = c.s === undefined ? [1, 1] : typeof c.s === 'number' ? [c.s, c.s] : c.s;
        const len = (d: number, k: number, s: number) => (c.padding === 'same' ? d * s : d * s + Math.max(k - s, 0));
        const z = tf.conv2dTranspose(x as tf.Tensor4D, w.kernel as tf.Tensor4D, [n as number, len(h as number, kh, sh), len(wd as number, kw, sw), c.o], [sh, sw], c.padding);
        const zb = w.bias ? tf.add(z, w.bias) : z;
        return c.relu ? tf.relu(zb) : zb;
      },
      shape: c.shape,
      symbolic: [[[null, null, c.shape[2] as number]], [[c.shape[0] as number, null, c.shape[2] as number]]],
    });
  });

  it('has the Keras kernel layout [kh, kw, out, in] and its geometry', () => {
    const l = new Conv2dTranspose({ filters: 5, kernelSize: [3, 2], stride: 2, padding: 'valid' });
    expect(l.build([4, 6, 3], new Rng(0))).toEqual([9, 12, 5]);
    expect([l.kind, l.kernelSize, l.strides, l.dilation, l.padding]).toEqual(['conv2dTranspose', [3, 2], [2, 2], [1, 1], 'valid']);
    expect(Object.fromEntries(Object.entries(l.params).map(([k, v]) => [k, v.shape]))).toEqual({ kernel: [3, 2, 5, 3], bias: [5] });
    tf.dispose(Object.values(l.params));
    expect(() => new Conv2dTranspose({ filters: 2, kernelSize: 0 })).toThrow(/kernelSize/);
  });
});
