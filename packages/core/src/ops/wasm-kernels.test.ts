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
});
