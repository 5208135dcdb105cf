import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { disposeParams } from '@forgetless/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../test/helpers.js';
import { convNet, randomSource } from '../test/nets.js';
import { decodeImportances, encodeImportances } from './format.js';
import { loadImportances, saveImportances } from './node.js';
import { sig } from './sig.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forgetless-importances-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('importance files (tfjs weights format)', () => {
  it('saves a manifest + float32 .bin any tfjs weights reader can decode, and loads it back with its metadata', async () => {
    const model = convNet('valid-pool', 1);
    const imp = await sig(model, randomSource(4, model.inputShape, 4));
    const path = await saveImportances(join(dir, 'sig'), imp, { method: 'sig', tasks: ['t0', 't1'], accumulate: 'sum' });
    expect(path).toBe(join(dir, 'sig.json'));
    // read with tfjs alone: the manifest names each parameter with shape and dtype
    const manifest = JSON.parse(await readFile(path, 'utf8'));
    const specs = manifest.weightsManifest[0].weights as tf.io.WeightsManifestEntry[];
    expect(specs.map((s) => s.name)).toEqual(Object.keys(model.params));
    expect(specs.every((s) => s.dtype === 'float32')).toBe(true);
    expect(specs.map((s) => s.shape)).toEqual(Object.values(model.params).map((v) => v.shape));
    const bin = await readFile(join(dir, manifest.weightsManifest[0].paths[0]));
    expect(bin.byteLength).toBe(4 * Object.values(model.params).reduce((n, v) => n + v.size, 0));
    const raw = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), specs);
    for (const [k, t] of Object.entries(imp)) expect(Array.from(raw[k]?.dataSync() ?? [])).toEqual(Array.from(t.dataSync()));
    tf.dispose(Object.values(raw));
    const loaded = await loadImportances(join(dir, 'sig'), model.params);
    expect(loaded.metadata).toEqual({ kind: 'forgetless-importances', method: 'sig', tasks: ['t0', 't1'], accumulate: 'sum' });
    for (const [k, t] of Object.entries(imp)) expect(Array.from(loaded.importances[k]?.dataSync() ?? [])).toEqual(Array.from(t.dataSync()));
    disposeParams(loaded.importances);
    disposeParams(imp);
    model.dispose();
  });

  it('encodes and decodes in memory (browser) without leaks', async () => {
    const imp = { 'dense_0/kernel': tf.tensor2d([[1, 2]]), 'dense_0/bias': tf.tensor1d([3]) };
    await expectNoLeak(async () => {
      const { manifest, data } = await encodeImportances(imp, { method: 'fisher', variant: 'exact' });
      const back = decodeImportances(manifest, data, 'memory');
      expect(back.metadata.variant).toBe('exact');
      expect(Array.from(back.importances['dense_0/kernel']?.dataSync() ?? [])).toEqual([1, 2]);
      disposeParams(back.importances);
    });
    disposeParams(imp);
  });

  it('rejects files that are not importances, mismatched models and missing metadata', async () => {
    const imp = { 'dense_0/kernel': tf.tensor2d([[1, 2]]) };
    await expect(encodeImportances(imp, { method: '' })).rejects.toThrow(/metadata.method must be a non-empty string/);
    const { manifest, data } = await encodeImportances(imp, { method: 'mas' });
    expect(() => decodeImportances({ ...manifest, metadata: {} }, data, 'x.json')).toThrow(/x.json: not a forgetless importance file/);
    const other = { 'dense_0/kernel': tf.zeros([2, 2]) };
    expect(() => decodeImportances(manifest, data, 'x.json', other)).toThrow(/'dense_0\/kernel' has shape \[1,2\] but the model's is \[2,2\]/);
    await writeFile(join(dir, 'plain.json'), JSON.stringify({ weightsManifest: [] }));
    await expect(loadImportances(join(dir, 'plain'))).rejects.toThrow(/plain.json: not a forgetless importance file/);
    await expect(loadImportances(join(dir, 'nothing'))).rejects.toThrow(/nothing.json: cannot read the manifest/);
    disposeParams(imp);
    disposeParams(other);
  });
});
