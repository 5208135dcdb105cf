import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { gzipSize, sizeReport, sparsityReport } from './report.js';
import { type DenseTensorData, decodeSparse, encodeSparse } from './sparse.js';

function sparseValues(n: number, density: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.next() < density ? rng.normal() : 0));
}
const bytes = (v: Float32Array | Int32Array) => new Uint8Array(v.buffer.slice(0));

describe('sparse export', () => {
  it('round-trips every encoding exactly and picks the smallest', () => {
    const rng = new Rng(9);
    const tensors: DenseTensorData[] = [
      { name: 'dense', shape: [10, 10], dtype: 'float32', bytes: bytes(sparseValues(100, 1, rng)) },
      { name: 'bitmask', shape: [40, 25], dtype: 'float32', bytes: bytes(sparseValues(1000, 0.3, rng)) },
      { name: 'indices', shape: [5000], dtype: 'float32', bytes: bytes(sparseValues(5000, 0.01, rng)) },
      { name: 'empty', shape: [0], dtype: 'float32', bytes: new Uint8Array(0) },
      { name: 'steps', shape: [3], dtype: 'raw', bytes: bytes(Int32Array.from([7, -1, 0])) },
      { name: 'odd', shape: [5], dtype: 'raw', bytes: Uint8Array.from([1, 2, 3, 4, 5]) },
    ];
    const { manifest, data } = encodeSparse(tensors);
    expect(manifest.entries.map((e) => e.encoding)).toEqual(['dense', 'bitmask', 'indices', 'dense', 'raw', 'raw']);
    const nnz = (t: DenseTensorData) => new Float32Array(t.bytes.buffer.slice(0)).filter((v) => v !== 0).length;
    const bm = tensors[1] as DenseTensorData;
    expect(manifest.entries[1]?.byteLength).toBe(Math.ceil(1000 / 8) + 4 * nnz(bm));
    expect(manifest.entries[2]?.byteLength).toBe(8 * nnz(tensors[2] as DenseTensorData));
    const back = decodeSparse(JSON.parse(JSON.stringify(manifest)), data, 'test');
    back.forEach((t, i) => {
      expect(t.name).toBe(tensors[i]?.name);
      expect(t.shape).toEqual(tensors[i]?.shape);
      expect([...t.bytes]).toEqual([...(tensors[i] as DenseTensorData).bytes]);
    });
  });

  it('rejects corrupt data, naming the source and the entry', () => {
    const rng = new Rng(1);
    const { manifest, data } = encodeSparse([{ name: 'w', shape: [800], dtype: 'float32', bytes: bytes(sparseValues(800, 0.2, rng)) }]);
    expect(() => decodeSparse({ format: 'x' }, data, 'm.json')).toThrow(/m.json: not a sparse weights manifest/);
    expect(() => decodeSparse(manifest, data.slice(0, 50), 'm.json')).toThrow(/m.json: entry 'w' lies outside the data/);
    const wrong = structuredClone(manifest);
    (wrong.entries[0] as { nnz: number }).nnz -= 1;
    expect(() => decodeSparse(wrong, data, 'm.json')).toThrow(/m.json: entry 'w' has \d+ bytes/);
  });

  it('reports sizes: a pruned tensor is no smaller raw, much smaller gzipped and sparse', async () => {
    const rng = new Rng(2);
    const v = sparseValues(50000, 0.1, rng);
    const { data } = encodeSparse([{ name: 'w', shape: [50000], dtype: 'float32', bytes: bytes(v) }]);
    const r = await sizeReport(bytes(v), data);
    expect(r.dense.bytes).toBe(200000);
    expect(r.dense.gzipBytes).toBeLessThan(r.dense.bytes * 0.5);
    expect(r.sparse.bytes).toBe(Math.ceil(50000 / 8) + 4 * v.filter((x) => x !== 0).length);
    expect(r.sparsePays).toBe(true);
    expect(await gzipSize(new Uint8Array(1000))).toBeLessThan(100);
  });

  it('counts exact zeros per parameter, per layer and over the masked parameters', async () => {
    const w = {
      'a/kernel': tf.tensor2d([
        [0, 1],
        [-0, 2],
      ]),
      'a/bias': tf.tensor1d([0, 3]),
      'b/kernel': tf.tensor1d([5, 0, 0, 0]),
    };
    const masks = { 'a/kernel': tf.ones([2, 2]), 'b/kernel': tf.ones([4]) };
    const r = await sparsityReport(w, { masks });
    expect(r.params.map((p) => [p.name, p.zeros, p.masked])).toEqual([
      ['a/kernel', 2, true],
      ['a/bias', 1, false],
      ['b/kernel', 3, true],
    ]);
    expect(r.layers).toEqual([
      { layer: 'a', size: 6, zeros: 3, sparsity: 0.5 },
      { layer: 'b', size: 4, zeros: 3, sparsity: 0.75 },
    ]);
    expect(r.masked).toEqual({ size: 8, zeros: 5, sparsity: 5 / 8 });
    expect(r.total).toEqual({ size: 10, zeros: 6, sparsity: 0.6 });
    tf.dispose([...Object.values(w), ...Object.values(masks)]);
  });
});
