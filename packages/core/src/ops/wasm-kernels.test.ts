import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { withGradientMode } from './gradients.js';
import { ensureWasmKernels } from './wasm-kernels.js';

/** A stock tfjs-layers conv net: fused Conv2D (bias, ReLU), fused DepthwiseConv2D, max pooling, strides. */
function net(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [9, 9, 3], filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: 'glorotNormal', seed: 1 } as never),
      tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu', depthwiseInitializer: 'glorotNormal', seed: 2 } as never),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.conv2d({ filters: 5, kernelSize: 1, activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4 }),
    ],
  });
}

/** The gradients of a sum of the net's outputs with respect to every weight, as plain arrays. */
function grads(model: tfl.LayersModel, x: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads: g } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x) as tf.Tensor)), vars);
    return vars.map((v) => (g[v.name] as tf.Tensor).dataSync() as Float32Array);
  });
}

describe("forgetless's wasm kernels", () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('let a stock tfjs-layers conv net train on wasm (it calls the backprop kernels wasm lacks), agreeing with cpu within 1e-5', async () => {
    const xs = tf.tidy(() => tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 5).dataSync().slice());
    const onCpu = net();
    const weights = onCpu.getWeights().map((w) => ({ v: w.dataSync().slice(), s: w.shape }));
    const xc = tf.tensor(xs, [2, 9, 9, 3]);
    const ref = withGradientMode('stock', () => grads(onCpu, xc));
    xc.dispose();
    onCpu.dispose();
    await tf.setBackend('wasm');
    ensureWasmKernels();
    const model = net();
    const ws = weights.map((w) => tf.tensor(w.v, w.s));
    model.setWeights(ws);
    tf.dispose(ws);
    const x = tf.tensor(xs, [2, 9, 9, 3]);
    await expectNoLeak(() => {
      const got = withGradientMode('stock', () => grads(model, x));
      got.forEach((g, i) => expect(relErr(g, ref[i] as Float32Array), model.trainableWeights[i]?.name).toBeLessThanOrEqual(1e-5));
    });
    x.dispose();
    model.dispose();
  });

  it("PadV2 in place (under 'auto') equals tfjs's pad on cpu: ranks 1–5, padded and unpadded trailing axes, a constant, int32, empty", async () => {
    const cases: Array<{ shape: number[]; pads: Array<[number, number]>; value?: number; dtype?: 'int32' }> = [
      {
        shape: [2, 5, 6, 3],
        pads: [
          [0, 0],
          [1, 1],
          [0, 1],
          [0, 0],
        ],
      },
      {
        shape: [3, 4, 5, 7],
        pads: [
          [0, 0],
          [2, 0],
          [1, 2],
          [0, 0],
        ],
        value: 1.5,
      },
      {
        shape: [2, 3, 4, 5],
        pads: [
          [1, 0],
          [0, 0],
          [0, 0],
          [2, 1],
        ],
      },
      { shape: [7], pads: [[3, 2]] },
      {
        shape: [2, 3, 2, 2, 3],
        pads: [
          [0, 1],
          [0, 0],
          [1, 0],
          [0, 0],
          [0, 0],
        ],
        dtype: 'int32',
      },
      {
        shape: [2, 0, 3],
        pads: [
          [1, 1],
          [1, 0],
          [0, 0],
        ],
      },
    ];
    const make = (c: (typeof cases)[number]) => tf.tidy(() => tf.cast(tf.mul(tf.randomNormal(c.shape, 0, 1, 'float32', 3), c.dtype ? 10 : 1), c.dtype ?? 'float32'));
    const refs = cases.map((c) =>
      tf.tidy(() => {
        const x = make(c);
        return { x: Array.from(x.dataSync()), y: Array.from(tf.pad(x, c.pads, c.value).dataSync()) };
      }),
    );
    await tf.setBackend('wasm');
    ensureWasmKernels();
    await expectNoLeak(() => {
      cases.forEach((c, i) => {
        const x = tf.tensor(refs[i]?.x as number[], c.shape, c.dtype ?? 'float32');
        const y = tf.pad(x, c.pads, c.value);
        expect(Array.from(y.dataSync()), JSON.stringify(c)).toEqual(refs[i]?.y);
        tf.dispose([x, y]);
      });
    });
    await tf.setBackend('cpu');
  });
});
