// The saver against stock tf.io.decodeWeights and stock tfjs-layers: first on a hand-built loaded
// model (weights quantized as a converter left them), then on models imported from tfjs-layers.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import type { LoadedLayersModel, WeightEntry } from './load.js';
import { artifactsOf } from './artifacts.test-helpers.js';
import { layersModelArtifacts, toModelArtifacts } from './save.js';

let tensors = 0;
beforeEach(() => {
  tensors = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensors);
});

const read = (data: Uint8Array, specs: tf.io.WeightsManifestEntry[]): Record<string, Float32Array | Int32Array> => {
  const ts = tf.io.decodeWeights(data.slice().buffer, specs);
  const out = Object.fromEntries(Object.entries(ts).map(([n, t]) => [n, t.dataSync() as Float32Array | Int32Array]));
  tf.dispose(Object.values(ts));
  return out;
};

/** A loaded model as a converter would leave one: random stored bytes per dtype, variables holding what they decode to. */
function fakeLoaded(): { loaded: LoadedLayersModel; vars: Record<string, tf.Variable>; original: Uint8Array; specs: tf.io.WeightsManifestEntry[] } {
  const rng = new Rng(11);
  const rand = (n: number, max: number) => Array.from({ length: n }, () => rng.int(max + 1));
  const u8 = new Uint8Array(rand(24, 255));
  const u16 = new Uint16Array(rand(6, 65535));
  const f16 = new Uint16Array(rand(24, 0xffff).map((b) => ((b & 0x7c00) === 0x7c00 ? b & 0xbfff : b)));
  const f32 = new Float32Array(rand(6, 1000).map((v) => v / 1000 - 0.5));
  const i32 = new Int32Array([7]);
  const parts: [tf.io.WeightsManifestEntry, Uint8Array, string?][] = [
    [{ name: 'dense/kernel', shape: [4, 6], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.0123, min: -1.1 } }, new Uint8Array(u8.buffer), 'dense/kernel'],
    [{ name: 'dense/bias', shape: [6], dtype: 'float32', quantization: { dtype: 'uint16', scale: 3e-5, min: -0.9 } }, new Uint8Array(u16.buffer), 'dense/bias'],
    [{ name: 'conv/kernel', shape: [2, 2, 2, 3], dtype: 'float32', quantization: { dtype: 'float16' } }, new Uint8Array(f16.buffer), 'conv/kernel'],
    [{ name: 'conv/bias', shape: [6], dtype: 'float32' }, new Uint8Array(f32.buffer), 'conv/bias'],
    [{ name: 'optimizer/iterations', shape: [], dtype: 'int32' }, new Uint8Array(i32.buffer)],
  ];
  const original = new Uint8Array(parts.reduce((n, [, b]) => n + b.byteLength, 0));
  const entries: WeightEntry[] = [];
  let off = 0;
  for (const [spec, bytes, core] of parts) {
    original.set(bytes, off);
    entries.push({ spec, group: 0, byteOffset: off, byteLength: bytes.byteLength, ...(core ? { core } : {}) });
    off += bytes.byteLength;
  }
  const specs = parts.map(([s]) => s);
  const decoded = tf.io.decodeWeights(original.slice().buffer, specs);
  const vars: Record<string, tf.Variable> = {};
  for (const [, , core] of parts) if (core) vars[core] = tf.variable(decoded[core] as tf.Tensor);
  tf.dispose(Object.values(decoded));
  const loaded = {
    source: 'fake/model.json',
    model: { params: vars, state: {} },
    modelJson: {
      format: 'layers-model',
      generatedBy: 'keras v2.15',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: { keras_version: '2.15' },
      userDefinedMetadata: { a: 1 },
      weightsManifest: [{ paths: ['a.bin', 'b.bin'], weights: specs }],
    },
    entries,
    groups: [original],
    bindings: [],
    outputSoftmax: false,
    predict: () => {
      throw new Error('not used');
    },
    kerasName: (c: string) => c,
    dispose: () => tf.dispose(Object.values(vars)),
  } as unknown as LoadedLayersModel;
  return { loaded, vars, original, specs };
}

describe('layersModelArtifacts on stored weights of every dtype', () => {
  it('unchanged weights: the original bytes and specs, byte for byte', async () => {
    const { loaded, original, specs } = fakeLoaded();
    const saved = await layersModelArtifacts(loaded);
    expect(Array.from(saved.weightData)).toEqual(Array.from(original));
    expect(saved.weightSpecs).toEqual(specs);
    expect(saved.report.map((r) => [r.name, r.dtype, r.action])).toEqual([
      ['dense/kernel', 'uint8', 'unchanged'],
      ['dense/bias', 'uint16', 'unchanged'],
      ['conv/kernel', 'float16', 'unchanged'],
      ['conv/bias', 'float32', 'unchanged'],
      ['optimizer/iterations', 'int32', 'unchanged'],
    ]);
    const { weightsManifest, ...rest } = saved.modelJson;
    const { weightsManifest: _w, ...restIn } = loaded.modelJson;
    expect(rest).toEqual(restIn);
    expect(weightsManifest).toEqual([{ paths: ['group1-shard1of1.bin'], weights: specs }]);
    loaded.dispose();
  });

  it('pruned and trained weights: requantized in their dtype, zeros exact, the rest copied', async () => {
    const { loaded, vars, original, specs } = fakeLoaded();
    const rng = new Rng(5);
    const zeroed: Record<string, Set<number>> = {};
    for (const name of ['dense/kernel', 'dense/bias', 'conv/kernel']) {
      const v = vars[name] as tf.Variable;
      const x = v.dataSync().slice();
      zeroed[name] = new Set();
      for (let i = 0; i < x.length; i++) {
        if (rng.next() < 0.5) {
          x[i] = 0;
          zeroed[name].add(i);
        } else x[i] = (x[i] as number) * 0.9 + 0.01;
      }
      const t = tf.tensor(x, v.shape);
      v.assign(t);
      t.dispose();
    }
    const saved = await layersModelArtifacts(loaded, { shardBytes: 16 });
    expect(saved.report.map((r) => r.action)).toEqual(['requantized', 'requantized', 'requantized', 'unchanged', 'unchanged']);
    expect(saved.weightSpecs.map((s) => s.quantization?.dtype ?? s.dtype)).toEqual(['uint8', 'uint16', 'float16', 'float32', 'int32']);
    expect(saved.weightData.byteLength).toBe(original.byteLength);
    const n = Math.ceil(original.byteLength / 16);
    expect(saved.shards.map((s) => s.path)).toEqual(Array.from({ length: n }, (_, i) => `group1-shard${i + 1}of${n}.bin`));
    const joined = new Uint8Array(saved.shards.flatMap((s) => Array.from(s.data)));
    expect(joined).toEqual(saved.weightData);
    const back = read(saved.weightData, saved.weightSpecs);
    for (const [i, name] of ['dense/kernel', 'dense/bias', 'conv/kernel'].entries()) {
      const want = (vars[name] as tf.Variable).dataSync();
      const got = back[name] as Float32Array;
      const q = saved.weightSpecs[i]?.quantization;
      let err = 0;
      for (let k = 0; k < want.length; k++) {
        const e = Math.abs((got[k] as number) - (want[k] as number));
        err = Math.max(err, e);
        if (zeroed[name]?.has(k)) expect(got[k]).toBe(0);
        const bound = q?.dtype === 'float16' ? Math.abs(want[k] as number) * 2 ** -11 + 2 ** -25 : (q?.scale as number) / 2 + 1e-6 * Math.abs(want[k] as number);
        expect(e).toBeLessThanOrEqual(bound);
      }
      expect(saved.report[i]?.maxError).toBe(err);
    }
    const end = original.byteLength;
    expect(Array.from(saved.weightData.slice(end - 28))).toEqual(Array.from(original.slice(end - 28))); // conv/bias + iterations
    expect(specs[0]?.quantization).toEqual({ dtype: 'uint8', scale: 0.0123, min: -1.1 }); // input untouched
    loaded.dispose();
  });

  it('keepQuantization: false writes every bound weight as float32', async () => {
    const { loaded, vars } = fakeLoaded();
    const saved = await layersModelArtifacts(loaded, { keepQuantization: false });
    expect(saved.report.map((r) => [r.dtype, r.action])).toEqual([
      ['float32', 'written'],
      ['float32', 'written'],
      ['float32', 'written'],
      ['float32', 'unchanged'],
      ['int32', 'unchanged'],
    ]);
    const back = read(saved.weightData, saved.weightSpecs);
    for (const [name, v] of Object.entries(vars)) expect(Array.from(back[name] as Float32Array)).toEqual(Array.from(v.dataSync()));
    expect(Array.from(back['optimizer/iterations'] as Int32Array)).toEqual([7]);
    const a = toModelArtifacts(saved);
    expect(a).toMatchObject({ format: 'layers-model', generatedBy: 'keras v2.15', convertedBy: 'TensorFlow.js Converter v4.22.0', userDefinedMetadata: { a: 1 } });
    expect(new Uint8Array(a.weightData as ArrayBuffer)).toEqual(saved.weightData);
    loaded.dispose();
  });

  it('names the weight that cannot be stored', async () => {
    const { loaded, vars } = fakeLoaded();
    const t = tf.fill([6], NaN);
    (vars['dense/bias'] as tf.Variable).assign(t);
    t.dispose();
    await expect(layersModelArtifacts(loaded)).rejects.toThrow(/weight 'dense\/bias' holds NaN.*forgetless 'dense\/bias'/);
    loaded.dispose();
  });
});

/** A small convnet with seeded weights (variances positive). */
export function convnet(): tfl.Sequential {
  const m = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu' }),
      tfl.layers.batchNormalization(),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dropout({ rate: 0.5 }),
      tfl.layers.dense({ units: 4, activation: 'softmax' }),
    ],
  });
  const rng = new Rng(1);
  const ws = m.weights.map((w) =>
    tf.tensor(
      Float32Array.from({ length: tf.util.sizeFromShape(w.shape as number[]) }, () => (w.originalName.endsWith('variance') ? 0.5 + rng.next() : rng.normal() * 0.5)),
      w.shape as number[],
    ),
  );
  m.setWeights(ws);
  tf.dispose(ws);
  return m;
}

describe('layersModelArtifacts on imported tfjs-layers models', () => {
  for (const quantize of [undefined, 'uint8', 'uint16'] as const) {
    it(`${quantize ?? 'float32'}: unchanged round trip is byte-identical; a pruned kernel reads back in stock tfjs-layers`, async () => {
      const { loadLayersModelFromArtifacts } = await import('./load.js'); // the layer converters may still be missing
      const keras = convnet();
      const x = tf.randomNormal([5, 6, 6, 2], 0, 1, 'float32', 3);
      const a = await artifactsOf(keras, quantize);
      const loaded = await loadLayersModelFromArtifacts(a);
      const same = await layersModelArtifacts(loaded);
      expect(same.report.every((r) => r.action === 'unchanged')).toBe(true);
      expect(same.weightData).toEqual(new Uint8Array(a.weightData as ArrayBuffer));
      expect(same.weightSpecs).toEqual(a.weightSpecs);

      const core = Object.keys(loaded.model.params).find((n) => n.endsWith('/kernel') && loaded.model.params[n]?.rank === 4) as string;
      const kernel = loaded.model.params[core] as tf.Variable;
      const prunedKernel = tf.tidy(() => tf.mul(kernel, tf.cast(tf.greater(tf.abs(kernel), 0.4), 'float32')));
      kernel.assign(prunedKernel);
      prunedKernel.dispose();
      const pruned = await layersModelArtifacts(loaded);
      const name = loaded.kerasName(core);
      expect(pruned.report.filter((r) => r.action !== 'unchanged').map((r) => [r.name, r.core, r.action])).toEqual([[name, core, quantize ? 'requantized' : 'written']]);
      const stock = await tfl.loadLayersModel(tf.io.fromMemory(toModelArtifacts(pruned)));
      const got = stock.weights
        .find((v) => v.originalName === name)
        ?.read()
        .dataSync() as Float32Array;
      const want = kernel.dataSync();
      const step = pruned.weightSpecs.find((s) => s.name === name)?.quantization?.scale ?? 0;
      let zeros = 0;
      for (let i = 0; i < want.length; i++) {
        if (want[i] === 0) {
          zeros++;
          expect(got[i] === 0).toBe(true); // −0 in float32 when a negative weight was masked
        }
        expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThanOrEqual(step / 2 + 1e-6);
      }
      expect(zeros).toBeGreaterThan(0);
      if (!quantize) {
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(stock.predict(x) as tf.Tensor, loaded.predict(x)))).dataSync()[0] as number);
        expect(diff).toBeLessThanOrEqual(1e-5);
      }
      stock.dispose();
      keras.dispose();
      loaded.dispose();
      x.dispose();
    });
  }
});
