/**
 * Saving a (pruned) loaded model the way it came: the original model.json, topology untouched, with
 * a weights manifest listing the original weights in their original order, names and dtypes, the
 * values taken from the core model (pruned, fine-tuned). Weights the core model does not hold are
 * copied byte for byte. Stock `tf.loadLayersModel` loads the result. Quantized float weights are
 * written as float32 (their values changed; re-quantize with tfjs-converter if wanted).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LoadedLayersModel } from './load.js';

export interface SavedLayersModel {
  /** The model.json to write (a new object). */
  modelJson: Record<string, unknown>;
  /** Shards to write beside it, named as the manifest lists them. */
  shards: { path: string; data: Uint8Array }[];
  /** The weight specs and all shard bytes concatenated (for `tf.io.fromMemory`). */
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: Uint8Array;
}

export interface SaveOptions {
  /** Maximum shard size in bytes (default 4 MiB, tfjs's). */
  shardBytes?: number;
}

/** The files of `loaded` with its core model's current weights. */
export async function layersModelArtifacts(loaded: LoadedLayersModel, options: SaveOptions = {}): Promise<SavedLayersModel> {
  const shardBytes = options.shardBytes ?? 4 * 1024 * 1024;
  if (!Number.isInteger(shardBytes) || shardBytes < 4) throw new Error(`layersModelArtifacts: shardBytes must be an integer ≥ 4, got ${shardBytes}`);
  const all: Record<string, tf.Tensor> = { ...loaded.model.params, ...loaded.model.state };
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const e of loaded.entries) {
    if (e.core) {
      const t = all[e.core];
      if (!t) throw new Error(`layersModelArtifacts: the model has no '${e.core}' (for weight '${e.spec.name}')`);
      const values = (await t.data()) as Float32Array;
      parts.push(new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
      specs.push({ name: e.spec.name, shape: [...e.spec.shape], dtype: 'float32' });
    } else {
      const g = loaded.groups[e.group] as Uint8Array;
      parts.push(g.slice(e.byteOffset, e.byteOffset + e.byteLength));
      specs.push(structuredClone(e.spec) as tf.io.WeightsManifestEntry);
    }
  }
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const weightData = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    weightData.set(p, off);
    off += p.byteLength;
  }
  const n = Math.max(1, Math.ceil(total / shardBytes));
  const shards = Array.from({ length: n }, (_, i) => ({
    path: `group1-shard${i + 1}of${n}.bin`,
    data: weightData.slice(i * shardBytes, Math.min(total, (i + 1) * shardBytes)),
  }));
  const modelJson: Record<string, unknown> = { ...structuredClone(loaded.modelJson), weightsManifest: [{ paths: shards.map((s) => s.path), weights: specs }] };
  return { modelJson, shards, weightSpecs: specs, weightData };
}

/** `tf.io.fromMemory`-ready artifacts of a saved model (for `tf.loadLayersModel(tf.io.fromMemory(a))`). */
export function toModelArtifacts(saved: SavedLayersModel): tf.io.ModelArtifacts {
  const j = saved.modelJson;
  const d = saved.weightData;
  return {
    modelTopology: j.modelTopology as object,
    weightSpecs: saved.weightSpecs,
    weightData: d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer,
    ...(typeof j.format === 'string' ? { format: j.format } : {}),
    ...(typeof j.generatedBy === 'string' ? { generatedBy: j.generatedBy } : {}),
    ...(typeof j.convertedBy === 'string' || j.convertedBy === null ? { convertedBy: j.convertedBy as string | null } : {}),
  };
}
