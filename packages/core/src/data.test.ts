import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../test/helpers.js';
import { ArraySource } from './data.js';
import { Rng } from './rng.js';

function source(extra: Partial<ConstructorParameters<typeof ArraySource>[0]> = {}) {
  const x = Uint8Array.from({ length: 10 * 4 }, (_, i) => i);
  const y = Uint8Array.from({ length: 10 }, (_, i) => i % 3);
  return new ArraySource({ x, y, exampleShape: [4], numClasses: 3, ...extra });
}

describe('ArraySource', () => {
  it('normalises Uint8 pixels, applies the permutation per batch and remaps labels', async () => {
    await expectNoLeak(() => {
      const s = source({ permutation: Int32Array.from([3, 2, 1, 0]), labelMap: [2, 0, 1] });
      const b = s.batches(2)[Symbol.iterator]().next().value;
      expect(Array.from(b?.x.dataSync() ?? [])).toEqual([3, 2, 1, 0, 7, 6, 5, 4].map((v) => Math.fround(v / 255)));
      expect(Array.from(b?.y.dataSync() ?? [])).toEqual([2, 0]);
      for (const bb of s.batches(4)) tf.dispose([bb.x, bb.y]);
      tf.dispose([b?.x as tf.Tensor, b?.y as tf.Tensor]);
    });
  });

  it.each(['cpu', 'wasm'] as const)('on %s, batches held together keep their own values (one buffer reused for them on wasm only)', async (backend) => {
    const before = tf.getBackend();
    await tf.setBackend(backend);
    try {
      await expectNoLeak(() => {
        const s = source();
        // all batches made before any is read: 4, 4 and a last one of 2 (a smaller part of the buffer)
        const all = [...s.batches(4)];
        expect(all.map((b) => b.x.shape[0])).toEqual([4, 4, 2]);
        all.forEach((b, k) => {
          const want = Array.from({ length: b.x.size }, (_, i) => Math.fround((16 * k + i) / 255));
          expect(Array.from(b.x.dataSync()), `batch ${k}`).toEqual(want);
        });
        for (const b of all) tf.dispose([b.x, b.y]);
      });
    } finally {
      await tf.setBackend(before);
    }
  });

  it('shuffles reproducibly by seed, covers every example once, honours limit and subsets', () => {
    const s = source({ scale: 1 });
    const order = (seed: number) =>
      [...s.batches(3, { shuffle: true, seed })].flatMap((b) => {
        const v = Array.from(b.x.dataSync())
          .filter((_, i) => i % 4 === 0)
          .map((p) => p / 4);
        tf.dispose([b.x, b.y]);
        return v;
      });
    const a = order(1);
    expect(order(1)).toEqual(a);
    expect(order(2)).not.toEqual(a);
    expect([...a].sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const lim = [...s.batches(4, { limit: 5 })];
    expect(lim.map((b) => b.y.shape[0])).toEqual([4, 1]);
    lim.forEach((b) => tf.dispose([b.x, b.y]));
    const sub = s.subset([9, 0]);
    expect(sub.size).toBe(2);
    expect(sub.label(0)).toBe(0);
    const [b] = [...sub.batches(2)];
    expect(Array.from(b?.x.dataSync() ?? []).slice(0, 4)).toEqual([36, 37, 38, 39]);
    tf.dispose([b?.x as tf.Tensor, b?.y as tf.Tensor]);
  });

  it('rejects inconsistent inputs with errors naming the value', () => {
    expect(() => new ArraySource({ x: new Uint8Array(10), y: new Uint8Array(2), exampleShape: [4], numClasses: 2 })).toThrow(/not a multiple of the example size 4/);
    expect(() => new ArraySource({ x: new Uint8Array(8), y: new Uint8Array(3), exampleShape: [4], numClasses: 2 })).toThrow(/2 examples but 3 labels/);
    expect(() => source({ permutation: new Rng(0).permutation(5) })).toThrow(/permutation has 5 entries, expected 4/);
    expect(() => source({ labelMap: [0, 5, 1] })).toThrow(/sends class 1 to 5/);
    expect(() => [...source().batches(0)]).toThrow(/batchSize must be a positive integer/);
  });

  it('applies per-channel scale and offset (channels last), following the source index under a permutation', async () => {
    await expectNoLeak(() => {
      // two examples of shape [2, 3] (2 pixels × 3 channels): values 0..11
      const x = Uint8Array.from({ length: 12 }, (_, i) => i);
      const y = Int32Array.from([0, 1]);
      const scale = [1, 10, 100];
      const offset = [0.5, -1, 2];
      const s = new ArraySource({ x, y, exampleShape: [2, 3], numClasses: 2, scale, offset });
      const [b] = [...s.batches(2)];
      // value i of an example has channel i mod 3: x·scale[c] + offset[c]
      const expected = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((v) => Math.fround(v * (scale[v % 3] as number) + (offset[v % 3] as number)));
      expect(Array.from(b!.x.dataSync())).toEqual(expected);
      expect(b!.x.shape).toEqual([2, 2, 3]);
      tf.dispose([b!.x, b!.y]);
      // reversing the channels of each pixel: feature i takes source j = perm[i] and source j's channel
      const perm = Int32Array.from([2, 1, 0, 5, 4, 3]);
      const [p, p2] = [...s.with({ permutation: perm }).batches(1)];
      tf.dispose([p2!.x, p2!.y]);
      expect(Array.from(p!.x.dataSync())).toEqual([2 * 100 + 2, 1 * 10 - 1, 0 * 1 + 0.5, 5 * 100 + 2, 4 * 10 - 1, 3 * 1 + 0.5]);
      tf.dispose([p!.x, p!.y]);
      // a scalar offset with the default scale (1/255 for Uint8)
      const [q] = [...new ArraySource({ x, y, exampleShape: [2, 3], numClasses: 2, offset: -1 }).batches(1, { limit: 1 })];
      expect(Array.from(q!.x.dataSync())).toEqual([0, 1, 2, 3, 4, 5].map((v) => Math.fround(v / 255 - 1)));
      tf.dispose([q!.x, q!.y]);
    });
  });

  it('refuses per-channel arrays whose length is not the number of channels, naming the option', () => {
    const x = new Uint8Array(12);
    const y = Int32Array.from([0, 1]);
    expect(() => new ArraySource({ x, y, exampleShape: [2, 3], numClasses: 2, scale: [1, 2] })).toThrow(/scale has 2 entries but examples \[2,3\] have 3 channels/);
    expect(() => new ArraySource({ x, y, exampleShape: [2, 3], numClasses: 2, offset: [1, 2, 3, 4] })).toThrow(/offset has 4 entries/);
    expect(() => new ArraySource({ x, y, exampleShape: [2, 3], numClasses: 2, offset: [1, Number.NaN, 3] })).toThrow(/offset .* non-finite/);
  });
});

describe('concatSources', () => {
  it('joins sources: every example once per epoch, each with its own permutation, label map and class mask', async () => {
    const { ArraySource: Source, concatSources: join } = await import('./data.js');
    const tfm = await import('@tensorflow/tfjs-core');
    const a = new Source({ x: Float32Array.of(1, 2, 3, 4), y: [0, 1], exampleShape: [2], numClasses: 4 });
    const b = new Source({ x: Float32Array.of(5, 6, 7, 8, 9, 10), y: [0, 1, 1], exampleShape: [2], numClasses: 4, labelMap: [2, 3], permutation: Int32Array.of(1, 0) });
    const src = join([
      { source: a, classes: [0, 1] },
      { source: b, classes: [2, 3] },
    ]);
    expect(src.size).toBe(5);
    const before = tfm.memory().numTensors;
    const rows: { x: number[]; y: number; mask: number[] }[] = [];
    for (const batch of src.batches(2, { shuffle: true, seed: 3 })) {
      const x = batch.x.arraySync() as number[][];
      const y = Array.from(batch.y.dataSync());
      const m = (batch.logitMask as import('@tensorflow/tfjs-core').Tensor).arraySync() as number[][];
      x.forEach((row, i) => rows.push({ x: row, y: y[i] as number, mask: m[i] as number[] }));
      tfm.dispose([batch.x, batch.y, batch.logitMask as import('@tensorflow/tfjs-core').Tensor]);
    }
    expect(tfm.memory().numTensors).toBe(before);
    rows.sort((p, q) => (p.x[0] as number) - (q.x[0] as number));
    expect(rows.map((r) => r.x)).toEqual([
      [1, 2],
      [3, 4],
      [6, 5],
      [8, 7],
      [10, 9],
    ]);
    expect(rows.map((r) => r.y)).toEqual([0, 1, 2, 3, 3]);
    expect(rows[0]?.mask).toEqual([0, 0, -1e9, -1e9]);
    expect(rows[4]?.mask).toEqual([-1e9, -1e9, 0, 0]);
  });
});
