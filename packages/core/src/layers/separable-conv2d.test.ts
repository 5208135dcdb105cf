import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { onWasm } from '../ops/wasm.test-helpers.js';
import { Rng } from '../rng.js';
import { checkConvLayer } from './conv.test-helpers.js';
import type { LayerCapture } from './layer.js';
import { SeparableConv2d } from './separable-conv2d.js';

type P = 'same' | 'valid';
type Case = {
  o: number;
  k: number | [number, number];
  m: number;
  s?: number | [number, number];
  d?: number | [number, number];
  padding: P;
  shape: number[];
  useBias?: boolean;
  relu?: boolean;
};
const cases: Case[] = [
  { o: 4, k: 3, m: 1, padding: 'same', shape: [7, 6, 3] },
  { o: 3, k: 3, m: 2, padding: 'valid', shape: [8, 8, 2], relu: true },
  { o: 5, k: 3, m: 1, s: 2, padding: 'same', shape: [9, 7, 3] },
  { o: 2, k: [3, 2], m: 2, s: [2, 1], padding: 'valid', shape: [9, 8, 2], useBias: false },
  { o: 3, k: 3, m: 2, d: 2, padding: 'same', shape: [9, 9, 2] },
  { o: 3, k: 2, m: 1, d: [2, 3], padding: 'valid', shape: [8, 10, 3] },
];

describe('SeparableConv2d', () => {
  it.each(cases)('equals tfjs-layers and tf.separableConv2d, gradients on cpu and wasm: %o', async (c) => {
    const activation = c.relu ? 'relu' : 'linear';
    const dilated = c.d !== undefined && c.d !== 1;
    await checkConvLayer({
      make: () => new SeparableConv2d({ filters: c.o, kernelSize: c.k, depthMultiplier: c.m, stride: c.s, dilation: c.d, padding: c.padding, useBias: c.useBias, activation }),
      ref: () =>
        tfl.layers.separableConv2d({
          filters: c.o,
          kernelSize: c.k,
          depthMultiplier: c.m,
          strides: c.s ?? 1,
          dilationRate: (c.d ?? 1) as never,
          padding: c.padding,
          useBias: c.useBias ?? true,
          activation,
        }),
      direct: dilated
        ? undefined
        : (x, w) => {
            const z = tf.separableConv2d(x as tf.Tensor4D, w.depthwise_kernel as tf.Tensor4D, w.pointwise_kernel as tf.Tensor4D, c.s ?? 1, c.padding);
            const zb = w.bias ? tf.add(z, w.bias) : z;
            return c.relu ? tf.relu(zb) : zb;
          },
      shape: c.shape,
      stock: !dilated,
      symbolic: [[[null, null, c.shape[2] as number]], [[c.shape[0] as number, null, c.shape[2] as number]]],
    });
  });

  it('captures the depthwise output as inner.depthwise and adds the tap to the final pre-activation', () => {
    const l = new SeparableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2, stride: 2, padding: 'same', activation: 'relu' });
    l.name = 'sep';
    expect(l.build([6, 6, 3], new Rng(0))).toEqual([3, 3, 4]);
    expect([l.kind, l.kernelSize, l.strides, l.dilation, l.padding, l.depthMultiplier]).toEqual(['separableConv2d', [3, 3], [2, 2], [1, 1], 'same', 2]);
    expect(Object.fromEntries(Object.entries(l.params).map(([k, v]) => [k, v.shape]))).toEqual({
      depthwise_kernel: [3, 3, 3, 2],
      pointwise_kernel: [1, 1, 6, 4],
      bias: [4],
    });
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([2, 6, 6, 3]);
      const capture: Record<string, LayerCapture> = {};
      const tap = tf.fill([2, 3, 3, 4], 0.25);
      const y = l.apply(x, { training: false, capture, taps: { sep: tap } });
      const cap = capture.sep as LayerCapture;
      const u = tf.depthwiseConv2d(x as tf.Tensor4D, l.params.depthwise_kernel as tf.Tensor4D, 2, 'same');
      expect(cap.inner?.depthwise?.shape).toEqual([2, 3, 3, 6]);
      expect(tf.max(tf.abs(tf.sub(cap.inner?.depthwise as tf.Tensor, u))).dataSync()[0]).toBeLessThan(1e-6);
      const z = tf.add(tf.add(tf.conv2d(u, l.params.pointwise_kernel as tf.Tensor4D, 1, 'valid'), l.params.bias as tf.Tensor), tap);
      expect(tf.max(tf.abs(tf.sub(cap.preActivation, z))).dataSync()[0]).toBeLessThan(1e-5);
      expect(cap.input).toBe(x);
      expect(cap.output).toBe(y);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(l.params));
    expect(() => new SeparableConv2d({ filters: 0, kernelSize: 3 })).toThrow(/filters/);
    expect(() => new SeparableConv2d({ filters: 2, kernelSize: 3, stride: [2, 1], dilation: [1, 2] })).toThrow(/cannot both exceed 1/);
  });

  it("runs its 1×1 part on forgetless's SIMD 1×1 kernels on wasm (no matMul), as a matMul on cpu", async () => {
    const kernelsOf = async () => {
      const l = new SeparableConv2d({ filters: 5, kernelSize: 3, padding: 'same' });
      l.build([6, 6, 8], new Rng(1));
      const x = tf.randomNormal([2, 6, 6, 8]);
      const vars = Object.values(l.params);
      const before = tf.memory().numTensors;
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(l.apply(x, { training: true })) as tf.Scalar, vars);
        tf.dispose([value, ...Object.values(grads)]);
      });
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, ...vars]);
      return new Set(info.kernelNames);
    };
    const onCpu = await kernelsOf();
    expect(onCpu.has('BatchMatMul')).toBe(true);
    await onWasm(async () => {
      const got = await kernelsOf();
      for (const k of ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput']) expect(got.has(k), k).toBe(true);
      expect(got.has('BatchMatMul')).toBe(false);
    });
  });
});
