/**
 * A sparse export of weights: per tensor the smallest of three encodings,
 *   dense:   n float32 values                                 4n bytes
 *   bitmask: one bit per entry (1 = nonzero, LSB first), then the nonzero values   ⌈n/8⌉ + 4·nnz
 *   indices: ascending uint32 flat indices of the nonzeros, then their values   8·nnz
 * in one little-endian binary buffer described by a JSON manifest. Other bytes (int32, bool,
 * quantized weights) are stored as they are (`raw`). −0 counts as zero (decoded as +0).
 * `sparseLayersModel` / `layersModelFromSparse` wrap a saved LayersModel: topology, original weight
 * specs, and this encoding; the loader rebuilds the dense artifacts stock tfjs loads.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { SavedLayersModel } from '@forgetless/core';

export type SparseEncoding = 'dense' | 'bitmask' | 'indices' | 'raw';

export interface SparseEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'raw';
  encoding: SparseEncoding;
  /** Nonzero entries. */
  nnz: number;
  byteOffset: number;
  byteLength: number;
}

export interface SparseManifest {
  format: 'forgetless-sparse-weights';
  formatVersion: 1;
  entries: SparseEntry[];
}

export interface DenseTensorData {
  name: string;
  shape: number[];
  /** float32 values, or any other bytes (kept as they are). */
  dtype: 'float32' | 'raw';
  /** Row-major little-endian bytes. */
  bytes: Uint8Array;
}

/** Encodes tensors (in order) into a manifest and one buffer. */
export function encodeSparse(tensors: readonly DenseTensorData[]): { manifest: SparseManifest; data: Uint8Array } {
  const chunks: Uint8Array[] = [];
  const entries: SparseEntry[] = [];
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    let chunk: Uint8Array;
    let encoding: SparseEncoding = 'raw';
    let nnz = n;
    if (t.dtype === 'float32') {
      const v = new Float32Array(t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.byteLength));
      if (v.length !== n) throw new Error(`encodeSparse: '${t.name}' has ${v.length} values for shape [${t.shape}]`);
      nnz = 0;
      for (let i = 0; i < n; i++) if (v[i] !== 0) nnz++;
      const sizes = { dense: 4 * n, bitmask: Math.ceil(n / 8) + 4 * nnz, indices: 8 * nnz };
      encoding = (['dense', 'bitmask', 'indices'] as const).reduce((best, e) => (sizes[e] < sizes[best] ? e : best), 'dense' as 'dense' | 'bitmask' | 'indices');
      chunk = new Uint8Array(sizes[encoding as 'dense']);
      const dv = new DataView(chunk.buffer);
      if (encoding === 'dense') chunk.set(new Uint8Array(v.buffer));
      else if (encoding === 'bitmask') {
        let at = Math.ceil(n / 8);
        for (let i = 0; i < n; i++) {
          const x = v[i] as number;
          if (x !== 0) {
            chunk[i >> 3] = (chunk[i >> 3] as number) | (1 << (i & 7));
            dv.setFloat32(at, x, true);
            at += 4;
          }
        }
      } else {
        let k = 0;
        for (let i = 0; i < n; i++) {
          const x = v[i] as number;
          if (x !== 0) {
            dv.setUint32(4 * k, i, true);
            dv.setFloat32(4 * (nnz + k), x, true);
            k++;
          }
        }
      }
    } else chunk = t.bytes.slice();
    entries.push({ name: t.name, shape: [...t.shape], dtype: t.dtype, encoding, nnz, byteOffset: offset, byteLength: chunk.byteLength });
    chunks.push(chunk);
    offset += chunk.byteLength;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.byteLength;
  }
  return { manifest: { format: 'forgetless-sparse-weights', formatVersion: 1, entries }, data };
}

/** Decodes what `encodeSparse` wrote; errors name `source` and the entry at fault. */
export function decodeSparse(manifest: unknown, data: Uint8Array, source: string): DenseTensorData[] {
  const m = manifest as Partial<SparseManifest>;
  if (m?.format !== 'forgetless-sparse-weights' || !Array.isArray(m.entries)) throw new Error(`${source}: not a sparse weights manifest (format 'forgetless-sparse-weights')`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return m.entries.map((e) => {
    const n = Array.isArray(e.shape) ? e.shape.reduce((a, b) => a * b, 1) : Number.NaN;
    if (!Number.isInteger(n) || n < 0) throw new Error(`${source}: entry '${e.name}' has an invalid shape`);
    if (!(e.byteOffset >= 0 && e.byteOffset + e.byteLength <= data.byteLength)) throw new Error(`${source}: entry '${e.name}' lies outside the data (${data.byteLength} bytes)`);
    if (e.encoding === 'raw') return { name: e.name, shape: [...e.shape], dtype: 'raw', bytes: data.slice(e.byteOffset, e.byteOffset + e.byteLength) };
    if (e.encoding === 'dense') {
      if (e.byteLength !== 4 * n) throw new Error(`${source}: entry '${e.name}' has ${e.byteLength} bytes for ${n} float32 values`);
      return { name: e.name, shape: [...e.shape], dtype: 'float32', bytes: data.slice(e.byteOffset, e.byteOffset + e.byteLength) };
    }
    if (e.dtype !== 'float32') throw new Error(`${source}: entry '${e.name}' is ${e.dtype} but encoded '${e.encoding}' (float32 only)`);
    const out = new Float32Array(n);
    const base = e.byteOffset;
    if (e.encoding === 'bitmask') {
      const head = Math.ceil(n / 8);
      if (e.byteLength !== head + 4 * e.nnz)
        throw new Error(`${source}: entry '${e.name}' has ${e.byteLength} bytes, bitmask of ${n} entries and ${e.nnz} values need ${head + 4 * e.nnz}`);
      let k = 0;
      for (let i = 0; i < n; i++) {
        if ((data[base + (i >> 3)] as number) & (1 << (i & 7))) {
          if (k >= e.nnz) throw new Error(`${source}: entry '${e.name}': the bitmask marks more than nnz = ${e.nnz} entries`);
          out[i] = dv.getFloat32(base + head + 4 * k++, true);
        }
      }
      if (k !== e.nnz) throw new Error(`${source}: entry '${e.name}': the bitmask marks ${k} entries, nnz is ${e.nnz}`);
    } else if (e.encoding === 'indices') {
      if (e.byteLength !== 8 * e.nnz) throw new Error(`${source}: entry '${e.name}' has ${e.byteLength} bytes, ${e.nnz} indices and values need ${8 * e.nnz}`);
      for (let k = 0; k < e.nnz; k++) {
        const i = dv.getUint32(base + 4 * k, true);
        if (i >= n) throw new Error(`${source}: entry '${e.name}' has index ${i} outside [0, ${n})`);
        out[i] = dv.getFloat32(base + 4 * (e.nnz + k), true);
      }
    } else throw new Error(`${source}: entry '${e.name}' has unknown encoding '${String(e.encoding)}'`);
    return { name: e.name, shape: [...e.shape], dtype: 'float32', bytes: new Uint8Array(out.buffer) };
  });
}

/** A saved LayersModel as one JSON (topology, original specs, sparse manifest) and one buffer. */
export interface SparseLayersModel {
  json: {
    format: 'forgetless-sparse-layers-model';
    formatVersion: 1;
    /** The model.json without its weightsManifest. */
    model: Record<string, unknown>;
    weightSpecs: tf.io.WeightsManifestEntry[];
    sparse: SparseManifest;
  };
  data: Uint8Array;
}

/** The sparse export of a saved model (weights other than plain float32 stay raw bytes). */
export function sparseLayersModel(saved: SavedLayersModel): SparseLayersModel {
  const tensors: DenseTensorData[] = [];
  let off = 0;
  for (const s of saved.weightSpecs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const dtype = (s.quantization?.dtype ?? s.dtype) as string;
    const per = ({ float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 } as Record<string, number>)[dtype];
    if (!per) throw new Error(`sparseLayersModel: weight '${s.name}' has dtype '${dtype}', which cannot be exported`);
    const bytes = saved.weightData.subarray(off, off + per * n);
    off += per * n;
    tensors.push({ name: s.name, shape: [...s.shape], dtype: dtype === 'float32' ? 'float32' : 'raw', bytes });
  }
  const { manifest, data } = encodeSparse(tensors);
  const { weightsManifest: _w, ...model } = saved.modelJson;
  return {
    json: { format: 'forgetless-sparse-layers-model', formatVersion: 1, model: structuredClone(model), weightSpecs: structuredClone(saved.weightSpecs), sparse: manifest },
    data,
  };
}

/** Dense `tf.io.ModelArtifacts` from a sparse export (`tf.loadLayersModel(tf.io.fromMemory(artifacts))`). */
export function layersModelFromSparse(json: unknown, data: Uint8Array, source = 'sparse model'): tf.io.ModelArtifacts {
  const j = json as Partial<SparseLayersModel['json']>;
  if (j?.format !== 'forgetless-sparse-layers-model' || !j.model || !Array.isArray(j.weightSpecs)) {
    throw new Error(`${source}: not a sparse layers model (format 'forgetless-sparse-layers-model')`);
  }
  const tensors = decodeSparse(j.sparse, data, source);
  if (tensors.length !== j.weightSpecs.length) throw new Error(`${source}: ${tensors.length} sparse entries for ${j.weightSpecs.length} weights`);
  const total = tensors.reduce((n, t) => n + t.bytes.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const t of tensors) {
    out.set(t.bytes, at);
    at += t.bytes.byteLength;
  }
  const model = j.model;
  return {
    modelTopology: model.modelTopology as object,
    weightSpecs: j.weightSpecs,
    weightData: out.buffer,
    ...(typeof model.format === 'string' ? { format: model.format } : {}),
    ...(typeof model.generatedBy === 'string' ? { generatedBy: model.generatedBy } : {}),
  };
}
