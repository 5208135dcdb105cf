// Live tfjs-layers models ↔ forgetless: import, predict alike, change the weights in forgetless,
// write them back, predict alike again.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { fromLayersModel, writeBack } from './live.js';

let tensors = 0;
beforeEach(() => {
  tensors = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensors);
});

function randomize(m: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  const ws = m.weights.map((w) =>
    tf.tensor(
      Float32Array.from({ length: tf.util.sizeFromShape(w.shape as number[]) }, () => (w.originalName.endsWith('variance') ? 0.5 + rng.next() : rng.normal() * 0.5)),
      w.shape as number[],
    ),
  );
  m.setWeights(ws);
  tf.dispose(ws);
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);

/** Halves every forgetless weight and zeros a third of each kernel (variances kept positive). */
function changeWeights(all: Record<string, tf.Variable>, seed: number): void {
  const rng = new Rng(seed);
  for (const [name, v] of Object.entries(all)) {
    const x = v.dataSync().map((a) => (name.endsWith('variance') ? a + 0.25 : name.endsWith('kernel') && rng.next() < 0.33 ? 0 : a * 0.5 + 0.01));
    const t = tf.tensor(x, v.shape);
    v.assign(t);
    t.dispose();
  }
}

const models: Record<string, () => tfl.LayersModel> = {
  'tf.sequential': () =>
    tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [5], units: 8, activation: 'relu' }), tfl.layers.dropout({ rate: 0.3 }), tfl.layers.dense({ units: 3, activation: 'softmax' })],
    }),
  'tf.model (dense, batchNormalization)': () => {
    const input = tfl.input({ shape: [5] });
    let h = tfl.layers.dense({ units: 6 }).apply(input) as tfl.SymbolicTensor;
    h = tfl.layers.batchNormalization().apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.activation({ activation: 'tanh' }).apply(h) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 2, activation: 'softmax' }).apply(h) as tfl.SymbolicTensor;
    return tfl.model({ inputs: input, outputs: out });
  },
  'tf.model (conv2d, batchNormalization, maxPooling2d)': () => {
    const input = tfl.input({ shape: [6, 6, 2] });
    let h = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tfl.SymbolicTensor;
    h = tfl.layers.batchNormalization().apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.activation({ activation: 'relu' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 4, activation: 'softmax' }).apply(h) as tfl.SymbolicTensor;
    return tfl.model({ inputs: input, outputs: out });
  },
};

describe('fromLayersModel / writeBack', () => {
  for (const [label, build] of Object.entries(models)) {
    it(`${label}: predictions agree before and after the forgetless weights are written back`, async () => {
      const keras = build();
      randomize(keras, 2);
      const shape = [7, ...(keras.inputs[0]!.shape.slice(1) as number[])];
      const x = tf.randomNormal(shape, 0, 1, 'float32', 4);
      const loaded = await fromLayersModel(keras);
      const agree = () => tf.tidy(() => maxDiff(keras.predict(x) as tf.Tensor, loaded.predict(x)));
      expect(agree()).toBeLessThanOrEqual(1e-5);

      changeWeights({ ...loaded.model.params, ...loaded.model.state }, 6);
      expect(agree()).toBeGreaterThan(1e-3);
      writeBack(loaded, keras);
      expect(agree()).toBeLessThanOrEqual(1e-5);
      for (const w of keras.weights) {
        const e = loaded.entries.find((en) => en.spec.name === w.originalName);
        const v = loaded.model.params[e?.core as string] ?? loaded.model.state[e?.core as string];
        expect(Array.from(w.read().dataSync())).toEqual(Array.from((v as tf.Variable).dataSync()));
      }
      keras.dispose();
      loaded.dispose();
      x.dispose();
    });
  }

  it('leaves weights forgetless does not hold as they are', async () => {
    const keras = models['tf.sequential']?.() as tfl.LayersModel;
    randomize(keras, 3);
    const loaded = await fromLayersModel(keras);
    const [kept, ...rest] = keras.weights;
    const before = Array.from(kept?.read().dataSync() ?? []);
    changeWeights(loaded.model.params, 1);
    writeBack({ ...loaded, entries: loaded.entries.map((e) => (e.spec.name === kept?.originalName ? { ...e, core: undefined } : e)) }, keras);
    expect(Array.from(kept?.read().dataSync() ?? [])).toEqual(before);
    const second = rest[0] as (typeof rest)[number];
    const core = loaded.entries.find((e) => e.spec.name === second.originalName)?.core as string;
    expect(Array.from(second.read().dataSync())).toEqual(Array.from((loaded.model.params[core] as tf.Variable).dataSync()));
    keras.dispose();
    loaded.dispose();
  });

  it('names the weights it cannot match, before setting any', async () => {
    const a = models['tf.sequential']?.() as tfl.LayersModel;
    const b = models['tf.sequential']?.() as tfl.LayersModel; // same shapes, other layer names
    const loaded = await fromLayersModel(a);
    const before = b.weights.map((w) => Array.from(w.read().dataSync()));
    const name = b.weights[0]?.originalName as string;
    expect(() => writeBack(loaded, b)).toThrow(new RegExp(`8 weights cannot be matched[^]*live weight '${name}' has no entry[^]*forgetless '${loaded.entries[0]?.core}'`));
    expect(b.weights.map((w) => Array.from(w.read().dataSync()))).toEqual(before);
    a.dispose();
    b.dispose();
    loaded.dispose();
  });
});
