import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../test/helpers.js';
import { loadParamMap, saveParamMap } from './node.js';
import { addParams, assertFinite, disposeParams, scaleParams, zipParams } from './params.js';

describe('parameter maps', () => {
  it('adds and scales per parameter, and names the parameter whose shape disagrees', async () => {
    await expectNoLeak(() => {
      const a = {
        'dense_0/kernel': tf.tensor([
          [1, 2],
          [3, 4],
        ]),
        'dense_0/bias': tf.tensor([1, -1]),
      };
      const b = {
        'dense_0/kernel': tf.tensor([
          [1, 1],
          [1, 1],
        ]),
        'dense_0/bias': tf.tensor([2, 2]),
      };
      const s = addParams(a, b);
      const t = scaleParams(s, 0.5);
      expect(Array.from(t['dense_0/kernel']?.dataSync() ?? [])).toEqual([1, 1.5, 2, 2.5]);
      expect(Array.from(t['dense_0/bias']?.dataSync() ?? [])).toEqual([1.5, 0.5]);
      const bad = { 'dense_0/kernel': tf.zeros([3, 2]), 'dense_0/bias': tf.zeros([2]) };
      expect(() => zipParams(a, bad, (x) => x, 'test')).toThrow("test: parameter 'dense_0/kernel' has shape [3,2] but [2,2] was expected");
      const partial = { 'dense_0/kernel': tf.zeros([2, 2]) };
      expect(() => addParams(a, partial)).toThrow("'dense_0/bias' is missing");
      [a, b, s, t, bad, partial].forEach(disposeParams);
    });
  });

  it('round-trips through the tfjs weights format on disk, with checks naming the parameter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fl-params-'));
    try {
      const m = { 'conv2d_0/kernel': tf.randomNormal([3, 3, 1, 2], 0, 1, 'float32', 1), 'conv2d_0/bias': tf.tensor([0.5, -2]) };
      const path = await saveParamMap(join(dir, 'fisher'), m, { method: 'fisher' });
      const manifest = JSON.parse(await readFile(path, 'utf8'));
      expect(manifest.weightsManifest[0].paths).toEqual(['fisher.bin']);
      expect(manifest.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual(['conv2d_0/kernel', 'conv2d_0/bias']);
      // Stock tfjs can decode it.
      const bin = await readFile(join(dir, 'fisher.bin'));
      const stock = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), manifest.weightsManifest[0].weights);
      expect(Array.from(stock['conv2d_0/bias']?.dataSync() ?? [])).toEqual([0.5, -2]);
      disposeParams(stock);
      const back = await loadParamMap(path, m);
      expect(Array.from(back['conv2d_0/kernel']?.dataSync() ?? [])).toEqual(Array.from(m['conv2d_0/kernel'].dataSync()));
      disposeParams(back);
      const other = { 'conv2d_0/kernel': tf.zeros([3, 3, 1, 4]), 'conv2d_0/bias': tf.zeros([2]) };
      await expect(loadParamMap(path, other)).rejects.toThrow("parameter 'conv2d_0/kernel' has shape [3,3,1,2] but the model's is [3,3,1,4]");
      await writeFile(join(dir, 'fisher.bin'), bin.subarray(0, 20));
      await expect(loadParamMap(path)).rejects.toThrow(/fisher\.json: the weights data has 20 bytes but the manifest describes 80/);
      const evil = { ...manifest, weightsManifest: [{ paths: ['../x.bin'], weights: manifest.weightsManifest[0].weights }] };
      await writeFile(path, JSON.stringify(evil));
      await expect(loadParamMap(path)).rejects.toThrow(/outside the manifest's folder/);
      await writeFile(path, '{not json');
      await expect(loadParamMap(path)).rejects.toThrow(/fisher\.json: cannot read the manifest/);
      disposeParams(m);
      disposeParams(other);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('assertFinite', () => {
  it('passes finite maps (values near the float32 limit too, whose plain sum overflows) and names the first parameter holding NaN or ±Infinity, leaking nothing', async () => {
    await expectNoLeak(async () => {
      const big = tf.fill([1000], 3e38);
      const ok = { a: tf.tensor1d([1, -2, 0]), big, n: tf.tensor1d([1, 2], 'int32'), empty: tf.zeros([0, 3]) };
      await expect(assertFinite(ok, 'check')).resolves.toBeUndefined();
      // the check's premise: a plain sum of these values is not finite
      const s = tf.sum(big);
      expect(Number.isFinite(s.dataSync()[0])).toBe(false);
      s.dispose();
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const m = {
          a: tf.tensor1d([1, 2]),
          b: tf.tensor2d([
            [0, 1],
            [bad, 3],
          ]),
          c: tf.tensor1d([bad]),
        };
        await expect(assertFinite(m, 'check')).rejects.toThrow("check: parameter 'b' contains NaN or Infinity");
        tf.dispose(Object.values(m));
      }
      tf.dispose(Object.values(ok));
    });
  });
});
