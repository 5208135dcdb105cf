// A new classifier head on a loaded, uint8-quantized MobileNetV2-style model, checked against stock
// tfjs-layers: extend keeps every old logit exactly and adds zero logits; the saved model.json
// loads in stock tf.loadLayersModel with the new units and predicts what forgetless predicts.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mobileNetV2Block, quantizeArtifacts, randomInput, saveArtifacts } from '../../test/fixtures/keras-models.js';
import { classifierHead, resizeHead } from './head.js';
import { loadLayersModelFromArtifacts } from './load.js';
import { layersModelArtifacts, toModelArtifacts } from './save.js';

let artifacts: tf.io.ModelArtifacts;
let x: tf.Tensor;
let fcnArtifacts: tf.io.ModelArtifacts;
beforeAll(async () => {
  // tfjs-layers keeps cached scalars once it builds a model: build before counting tensors
  const keras = mobileNetV2Block({ size: 32, classes: 5, seed: 3 });
  artifacts = quantizeArtifacts(await saveArtifacts(keras), 'uint8');
  x = randomInput(keras, 3, 7);
  keras.dispose();
  const warm = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  tf.dispose(warm.predict(x) as tf.Tensor);
  warm.dispose();
  const input = tfl.input({ shape: [8, 8, 3] });
  const conv = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'out_conv' }).apply(input) as tfl.SymbolicTensor;
  const fcn = tfl.model({ inputs: input, outputs: conv });
  fcnArtifacts = await saveArtifacts(fcn);
  fcn.dispose();
});
afterAll(() => x.dispose());

let tensors = 0;
beforeEach(() => {
  tensors = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensors);
});

describe('resizeHead', () => {
  it('finds the Dense head under the final softmax', async () => {
    const loaded = await loadLayersModelFromArtifacts(artifacts, 'mnv2');
    expect(classifierHead(loaded)).toEqual({ layer: 'predictions', units: 5, inputs: 32 });
    loaded.dispose();
  });

  it('extend: old logits unchanged, new logits zero; saved with uint8 heads that stock tfjs-layers loads', async () => {
    const loaded = await loadLayersModelFromArtifacts(artifacts, 'mnv2');
    const wider = await resizeHead(loaded, { units: 8, mode: 'extend' });
    expect(wider.head).toEqual({ layer: 'predictions', mode: 'extend', before: 5, after: 8 });
    expect(wider.model.numClasses).toBe(8);
    const before = tf.tidy(() => loaded.model.logits(x));
    const after = tf.tidy(() => wider.model.logits(x));
    expect(after.shape).toEqual([3, 8]);
    const a = (await after.array()) as number[][];
    const b = (await before.array()) as number[][];
    for (let i = 0; i < 3; i++) {
      expect(a[i]?.slice(0, 5)).toEqual(b[i]); // bit for bit: the same weights, the same graph
      expect(a[i]?.slice(5)).toEqual([0, 0, 0]);
    }
    // train-like change of the head, then save: the head is requantized to uint8, the file loads in stock tfjs
    const kernel = wider.model.params['predictions/kernel'] as tf.Variable;
    const moved = tf.tidy(() => tf.add(kernel, tf.mul(0.01, tf.randomNormal(kernel.shape, 0, 1, 'float32', 5))));
    kernel.assign(moved);
    moved.dispose();
    const saved = await layersModelArtifacts(wider);
    const headSpec = saved.weightSpecs.find((s) => s.name.startsWith('predictions/kernel'));
    expect(headSpec?.shape).toEqual([32, 8]);
    expect(headSpec?.quantization?.dtype).toBe('uint8');
    for (const s of saved.weightSpecs) if (s.dtype === 'float32') expect(s.quantization?.dtype, s.name).toBe('uint8');
    const stock = await tfl.loadLayersModel(tf.io.fromMemory(toModelArtifacts(saved)));
    const ref = stock.predict(x) as tf.Tensor;
    const mine = wider.predict(x);
    expect(ref.shape).toEqual([3, 8]);
    // stock reads the requantized head: within the uint8 step of the head's range
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ref, mine))).dataSync()[0] as number);
    expect(diff).toBeLessThan(2e-2);
    expect(diff).toBeGreaterThanOrEqual(0);
    tf.dispose([before, after, ref, mine]);
    stock.dispose();
    wider.dispose();
    loaded.dispose();
  });

  it('replace: a fresh Glorot head of the new width, body weights untouched', async () => {
    const loaded = await loadLayersModelFromArtifacts(artifacts, 'mnv2');
    const other = await resizeHead(loaded, { units: 3, mode: 'replace', seed: 4 });
    const k = (await (other.model.params['predictions/kernel'] as tf.Tensor).data()) as Float32Array;
    const limit = Math.sqrt(6 / (32 + 3));
    expect(k.length).toBe(32 * 3);
    expect(Math.max(...k.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...k.map(Math.abs))).toBeGreaterThan(limit / 2);
    for (const [name, v] of Object.entries(loaded.model.params)) {
      if (name.startsWith('predictions/')) continue;
      const same = tf.tidy(() => tf.max(tf.abs(tf.sub(v, other.model.params[name] as tf.Tensor))).dataSync()[0]);
      expect(same, name).toBe(0);
    }
    other.dispose();
    loaded.dispose();
  });

  it('refuses a shrinking extend and a model whose output is not a Dense layer', async () => {
    const loaded = await loadLayersModelFromArtifacts(artifacts, 'mnv2');
    await expect(resizeHead(loaded, { units: 4, mode: 'extend' })).rejects.toThrow(/has 5 units, asked for 4/);
    loaded.dispose();
    const fcnLoaded = await loadLayersModelFromArtifacts(fcnArtifacts, 'fcn');
    await expect(resizeHead(fcnLoaded, { units: 4, mode: 'replace' })).rejects.toThrow(/output comes from layer 'out_conv' \(conv2d\), not a Dense layer/);
    fcnLoaded.dispose();
  });
});
