// Keras / tfjs-layers models on disk: shard paths confined to the model's folder, atomic saves that
// refuse to replace a model unless asked, and a round trip read back by stock tfjs-layers.
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LoadedLayersModel } from './keras/load.js';
import { quantizeAffine } from './keras/quantize.js';
import { fileShardReader, layersModelFiles, loadLayersModel, saveLayersModel } from './node.js';
import { Rng } from './rng.js';

let root: string;
let tensors = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'forgetless-core-node-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  tensors = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensors);
});

/** Writes a tfjs-layers model as model.json + one shard, every float weight uint8-quantized when asked. */
async function writeModel(model: tfl.LayersModel, dir: string, quantize = false): Promise<void> {
  let a: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (x) => {
      a = x;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const art = a as tf.io.ModelArtifacts;
  let specs = art.weightSpecs ?? [];
  let data = new Uint8Array(art.weightData as ArrayBuffer);
  if (quantize) {
    const ts = tf.io.decodeWeights(data.slice().buffer, specs);
    const qs = specs.map((s) => quantizeAffine((ts[s.name] as tf.Tensor).dataSync(), 'uint8'));
    tf.dispose(Object.values(ts));
    specs = specs.map((s, i) => ({ ...s, quantization: { dtype: 'uint8', scale: qs[i]?.scale, min: qs[i]?.min } }));
    data = new Uint8Array(qs.flatMap((q) => Array.from(q.data)));
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.bin'), data);
  await writeFile(
    join(dir, 'model.json'),
    JSON.stringify({
      modelTopology: art.modelTopology,
      format: art.format,
      generatedBy: art.generatedBy,
      convertedBy: art.convertedBy,
      weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
    }),
  );
}

function mlp(seed: number): tfl.LayersModel {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 6, activation: 'relu' }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
  const rng = new Rng(seed);
  const ws = m.weights.map((w) =>
    tf.tensor(
      Float32Array.from({ length: tf.util.sizeFromShape(w.shape as number[]) }, () => rng.normal() * 0.5),
      w.shape as number[],
    ),
  );
  m.setWeights(ws);
  tf.dispose(ws);
  return m;
}

/** A loaded model with one float32 weight, enough for the writer. */
function tinyLoaded(): LoadedLayersModel {
  const init = tf.tensor1d([1, -2, 0]);
  const v = tf.variable(init);
  init.dispose();
  const spec: tf.io.WeightsManifestEntry = { name: 'd/bias', shape: [3], dtype: 'float32' };
  return {
    source: 'tiny',
    model: { params: { 'd/bias': v }, state: {} },
    modelJson: { modelTopology: {}, weightsManifest: [] },
    entries: [{ spec, group: 0, byteOffset: 0, byteLength: 12, core: 'd/bias' }],
    groups: [new Uint8Array(new Float32Array([1, -2, 0]).buffer)],
    dispose: () => v.dispose(),
  } as unknown as LoadedLayersModel;
}

describe('fileShardReader', () => {
  it('reads shards in the folder and refuses paths or links leaving it', async () => {
    const dir = join(root, 'reader', 'model');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'sub', 'a.bin'), new Uint8Array([1, 2]));
    await writeFile(join(root, 'reader', 'outside.bin'), new Uint8Array([9]));
    await symlink(join(root, 'reader', 'outside.bin'), join(dir, 'link.bin'));
    const read = fileShardReader(join(dir, 'model.json'));
    expect(Array.from(await read('sub/a.bin'))).toEqual([1, 2]);
    await expect(read('../outside.bin')).rejects.toThrow(/leaves the folder/);
    await expect(read('/etc/passwd')).rejects.toThrow(/is absolute/);
    await expect(read('%2e%2e/outside.bin')).rejects.toThrow(/leaves the folder/);
    await expect(read('link.bin')).rejects.toThrow(/is a link to .*outside the model's folder/);
    await expect(read('missing.bin')).rejects.toThrow(/weight shard 'missing.bin' cannot be read \(ENOENT/);
  });
});

describe('saveLayersModel', () => {
  it('writes model.json and shards, and refuses to replace them unless overwrite', async () => {
    const dir = join(root, 'tiny');
    const loaded = tinyLoaded();
    const first = await saveLayersModel(dir, loaded, { shardBytes: 8 });
    expect(first.files).toEqual([join(dir, 'group1-shard1of2.bin'), join(dir, 'group1-shard2of2.bin'), join(dir, 'model.json')]);
    expect(first.report).toEqual([{ name: 'd/bias', dtype: 'float32', action: 'unchanged', maxError: 0, core: 'd/bias' }]);
    expect((await readdir(dir)).sort()).toEqual(['group1-shard1of2.bin', 'group1-shard2of2.bin', 'model.json']); // no temporaries left
    await expect(saveLayersModel(dir, loaded)).rejects.toThrow(/already holds group1-shard1of1.bin|already holds model.json/);
    await expect(saveLayersModel(dir, loaded)).rejects.toThrow(/overwrite: true/);
    const again = await saveLayersModel(dir, loaded, { overwrite: true });
    expect(again.files.map((f) => f.slice(dir.length + 1))).toEqual(['group1-shard1of1.bin', 'model.json']);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(json.weightsManifest).toEqual([{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'd/bias', shape: [3], dtype: 'float32' }] }]);
    expect(Array.from(new Float32Array((await readFile(join(dir, 'group1-shard1of1.bin'))).buffer.slice(0)))).toHaveLength(3);
    loaded.dispose();
  });
});

describe('loadLayersModel → saveLayersModel → stock tfjs-layers', () => {
  for (const quantize of [false, true]) {
    it(`${quantize ? 'uint8' : 'float32'} weights: unchanged files byte-identical, pruned ones read back by stock tfjs-layers`, async () => {
      const keras = mlp(1);
      const inDir = join(root, `in-${quantize}`);
      await writeModel(keras, inDir, quantize);
      await expect(loadLayersModel(join(root, 'nowhere'))).rejects.toThrow(/cannot read the model \(ENOENT/);
      const loaded = await loadLayersModel(inDir); // the folder, or model.json
      expect(loaded.source).toBe(join(inDir, 'model.json'));
      const out = join(root, `out-${quantize}`);
      const same = await saveLayersModel(out, loaded);
      expect(same.report.map((r) => r.action)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
      expect(await readFile(join(out, 'group1-shard1of1.bin'))).toEqual(await readFile(join(inDir, 'weights.bin')));

      const core = Object.keys(loaded.model.params).find((n) => n.endsWith('kernel')) as string;
      const kernel = loaded.model.params[core] as tf.Variable;
      const pruned = tf.tidy(() => tf.mul(kernel, tf.cast(tf.greater(tf.abs(kernel), 0.3), 'float32')));
      kernel.assign(pruned);
      pruned.dispose();
      const saved = await saveLayersModel(out, loaded, { overwrite: true });
      expect(saved.report.find((r) => r.core === core)).toMatchObject({ dtype: quantize ? 'uint8' : 'float32', action: quantize ? 'requantized' : 'written' });
      const stock = await tfl.loadLayersModel(layersModelFiles(out));
      const w = stock.weights.find((x) => x.originalName === loaded.kerasName(core));
      const got = w?.read().dataSync() as Float32Array;
      const want = kernel.dataSync();
      const step = quantize ? (saved.report.find((r) => r.core === core)?.maxError as number) : 0;
      for (let i = 0; i < want.length; i++) {
        if (want[i] === 0) expect(got[i] === 0).toBe(true); // −0 when a negative weight was masked, in float32
        expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThanOrEqual(step);
      }
      stock.dispose();
      keras.dispose();
      loaded.dispose();
    });
  }
});
