// A model saved by tfjs-layers is loaded, pruned, saved, reloaded by stock tfjs-layers; its measured
// sparsity and predictions match the pruned in-memory core model.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ArraySource, Rng, disposeParams } from '@forgetless/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { prune } from '../src/prune.js';
import { layersModelFiles, loadLayersModel, loadSparseLayersModel, saveLayersModel } from '../src/node.js';
import { hashFolder, saveWithTfjsLayers, stockFiles } from './tfjs-files.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'forgetless-pruning-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function randomSource(n: number, features: number, seed: number): { source: ArraySource; x: tf.Tensor2D } {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: n * features }, () => rng.normal());
  const y = Int32Array.from({ length: n }, () => rng.int(4));
  return { source: new ArraySource({ x, y, exampleShape: [features], numClasses: 5 }), x: tf.tensor2d(x, [n, features]) };
}

/** Sets every weight of a tfjs-layers model to seeded random values (variances positive). */
function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (!ws.length) continue;
    const names = layer.weights.map((w) => w.originalName);
    const next = ws.map((w, i) =>
      tf.tensor(
        Float32Array.from({ length: w.size }, () => (names[i]?.endsWith('moving_variance') ? 0.5 + rng.next() : rng.normal() * 0.5)),
        w.shape,
      ),
    );
    layer.setWeights(next);
    tf.dispose(next);
  }
}

/** Zeros among the stock-loaded model's weights whose names are in `names`. */
function stockZeros(model: tfl.LayersModel, names: Set<string>): { zeros: number; size: number } {
  let zeros = 0;
  let size = 0;
  for (const w of model.weights) {
    if (!names.has(w.originalName)) continue;
    const v = w.read().dataSync();
    size += v.length;
    for (const x of v) if (x === 0) zeros++;
  }
  return { zeros, size };
}

async function roundTrip(label: string, build: () => tfl.LayersModel, features: number, options: Parameters<typeof prune>[1]) {
  const dir = join(root, label);
  const keras = build();
  randomizeWeights(keras, 3);
  await saveWithTfjsLayers(keras, join(dir, 'in'));
  const hashes = await hashFolder(join(dir, 'in'));
  const { source, x } = randomSource(64, features, 5);

  const loaded = await loadLayersModel(join(dir, 'in', 'model.json'));
  // the conversion reproduces tfjs-layers' own predictions before any pruning
  const ref = keras.predict(x) as tf.Tensor;
  const mine = loaded.predict(x);
  expect(relErr(mine, ref)).toBeLessThan(1e-5);

  const result = await prune(loaded.model, { ...options, calibration: source, importanceOptions: { limit: 64 } });
  const masked = Object.values(result.masks).reduce((n, m) => n + m.size, 0);
  expect(result.report.masked.zeros).toBe(Math.round(options.sparsity * masked));
  const saved = await saveLayersModel(join(dir, 'out'), loaded, { masks: result.masks, sparse: true });
  expect(saved.sparseWritten).toBe(true);

  // stock tfjs-layers, through a plain file handler
  const stock = await tfl.loadLayersModel(stockFiles(join(dir, 'out')));
  const pruned = loaded.predict(x);
  const back = stock.predict(x) as tf.Tensor;
  expect(relErr(back, pruned)).toBeLessThan(1e-5);
  const kerasMasked = new Set(Object.keys(result.masks).map((n) => loaded.kerasName(n) as string));
  const z = stockZeros(stock, kerasMasked);
  expect(z.size).toBe(masked);
  expect(z.zeros / z.size).toBe(Math.round(options.sparsity * masked) / masked);
  // the package's own IOHandler and the sparse export load into stock tfjs-layers too
  const viaHandler = await tfl.loadLayersModel(layersModelFiles(join(dir, 'out')));
  const viaSparse = await tfl.loadLayersModel(tf.io.fromMemory(await loadSparseLayersModel(join(dir, 'out'))));
  expect(relErr(viaHandler.predict(x) as tf.Tensor, back)).toBe(0);
  expect(relErr(viaSparse.predict(x) as tf.Tensor, back)).toBe(0);
  if (options.structure === 'units') {
    // every unit of a masked dense layer is either whole (no zero) or gone (kernel column and bias all zero)
    for (const layer of stock.layers) {
      const [k, b] = layer.getWeights();
      if (!k || !b || !kerasMasked.has(`${layer.name}/kernel`)) continue;
      const units = k.shape[1] as number;
      const kv = k.dataSync();
      const bv = b.dataSync();
      let gone = 0;
      for (let o = 0; o < units; o++) {
        const col = Array.from({ length: kv.length / units }, (_, i) => kv[i * units + o] as number);
        const zero = col.filter((v) => v === 0).length;
        expect([0, col.length]).toContain(zero);
        expect(bv[o] === 0).toBe(zero === col.length);
        if (zero) gone++;
      }
      expect(gone).toBe(Math.round(options.sparsity * units));
    }
  }
  expect(saved.sizes.sparse.bytes).toBeLessThan(saved.sizes.dense.bytes);
  // the input files are unchanged
  expect(await hashFolder(join(dir, 'in'))).toEqual(hashes);

  tf.dispose([x, ref, mine, pruned, back]);
  disposeParams(result.masks);
  for (const m of [keras, stock, viaHandler, viaSparse]) m.dispose();
  loaded.dispose();
}

describe('round trip with stock tfjs-layers', () => {
  it('Sequential: dense + batch norm + dropout + softmax, pruned by SIG to 80 % (kernels)', async () => {
    const build = () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({ units: 16, activation: 'relu', inputShape: [12] }),
          tfl.layers.batchNormalization(),
          tfl.layers.dropout({ rate: 0.25 }),
          tfl.layers.dense({ units: 10, activation: 'tanh' }),
          tfl.layers.dense({ units: 5, activation: 'softmax' }),
        ],
      });
    await roundTrip('sequential', build, 12, { importance: 'sig', sparsity: 0.8 });
  });

  it('functional chain: reshape, conv, batch norm, leaky ReLU, pooling, flatten, dense; global 60 % by magnitude with biases', async () => {
    const build = () => {
      const input = tfl.input({ shape: [64] });
      let h = tfl.layers.reshape({ targetShape: [8, 8, 1] }).apply(input) as tfl.SymbolicTensor;
      h = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.batchNormalization().apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.leakyReLU({ alpha: 0.1 }).apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 1 }).apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.reLU().apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.averagePooling2d({ poolSize: 2 }).apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.flatten().apply(h) as tfl.SymbolicTensor;
      h = tfl.layers.dense({ units: 5 }).apply(h) as tfl.SymbolicTensor;
      const out = tfl.layers.activation({ activation: 'softmax' }).apply(h) as tfl.SymbolicTensor;
      return tfl.model({ inputs: input, outputs: out });
    };
    await roundTrip('functional', build, 64, { importance: 'magnitude', sparsity: 0.6, biases: true });
  });

  it('structured: whole dense neurons removed by SIG, half of each layer, the output layer excluded', async () => {
    const build = () =>
      tfl.sequential({
        layers: [
          tfl.layers.dense({ units: 20, activation: 'relu', inputShape: [12] }),
          tfl.layers.dense({ units: 10, activation: 'relu' }),
          tfl.layers.dense({ units: 5, activation: 'softmax', name: 'classes' }),
        ],
      });
    await roundTrip('structured', build, 12, { importance: 'sig', sparsity: 0.5, scope: 'layer', structure: 'units', unitScore: 'l2', exclude: ['classes'] });
  });
});
