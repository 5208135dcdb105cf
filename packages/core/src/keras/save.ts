/**
 * Saving a loaded (pruned, fine-tuned) LayersModel the way it came: its model.json with everything
 * but the weights manifest kept, and a manifest listing the original weights in their original
 * order and names. Each weight the forgetless model holds is written in its stored dtype and
 * quantization (`quantize.ts`: the original bytes if its values are unchanged, else requantized);
 * weights it does not hold are copied byte for byte. Stock `tf.loadLayersModel` loads the result.
 *
 * The weights go into one manifest group, cut into shards of at most `shardBytes` bytes
 * (`group1-shard<i>of<n>.bin`, as tfjs names them).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LoadedLayersModel } from './load.js';
import { type EncodedWeight, type StoredDtype, type WeightReport, encodeWeight, storedDtype } from './quantize.js';

export interface SavedWeightReport extends Omit<WeightReport, 'dtype'> {
  /** The dtype stored (int32 and bool only for weights the forgetless model does not hold). */
  dtype: StoredDtype | 'int32' | 'bool';
  /** The forgetless parameter or state written, absent for weights copied as they were. */
  core?: string;
}

export interface SavedLayersModel {
  /** The model.json to write (a new object). */
  modelJson: Record<string, unknown>;
  /** Shards to write beside it, named as the manifest lists them. */
  shards: { path: string; data: Uint8Array }[];
  /** The weight specs and all shard bytes concatenated (for `tf.io.fromMemory`). */
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: Uint8Array;
  /** Per manifest weight, in order: what was stored and how. */
  report: SavedWeightReport[];
}

export interface SaveOptions {
  /** Maximum shard size in bytes (default 4 MiB, tfjs's). */
  shardBytes?: number;
  /** Write quantized weights in their uint8/uint16/float16 quantization (default true); false writes float32. */
  keepQuantization?: boolean;
}

/** The files of `loaded` with its forgetless model's current weights. */
export async function layersModelArtifacts(loaded: LoadedLayersModel, options: SaveOptions = {}): Promise<SavedLayersModel> {
  const shardBytes = options.shardBytes ?? 4 * 1024 * 1024;
  if (!Number.isInteger(shardBytes) || shardBytes < 4) throw new Error(`layersModelArtifacts: shardBytes must be an integer ≥ 4, got ${shardBytes}`);
  const keepQuantization = options.keepQuantization ?? true;
  const all: Record<string, tf.Tensor> = { ...loaded.model.params, ...loaded.model.state };
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  const report: SavedWeightReport[] = [];
  for (const e of loaded.entries) {
    const g = loaded.groups[e.group];
    if (!g) throw new Error(`layersModelArtifacts: ${loaded.source}: no bytes for manifest group ${e.group} (weight '${e.spec.name}')`);
    const original = g.subarray(e.byteOffset, e.byteOffset + e.byteLength);
    if (e.core) {
      const t = all[e.core];
      if (!t) throw new Error(`layersModelArtifacts: ${loaded.source}: the model has no '${e.core}' (for weight '${e.spec.name}')`);
      const values = (await t.data()) as Float32Array;
      let enc: EncodedWeight;
      try {
        enc = e.quantizeAs
          ? encodeWeight(values, { ...(e.spec as tf.io.WeightsManifestEntry), quantization: { ...e.quantizeAs } }, undefined, { keepQuantization })
          : encodeWeight(values, e.spec as tf.io.WeightsManifestEntry, original, { keepQuantization });
      } catch (err) {
        throw new Error(`layersModelArtifacts: ${loaded.source}: ${(err as Error).message} (forgetless '${e.core}')`);
      }
      parts.push(enc.data);
      specs.push(enc.spec);
      report.push({ ...enc.report, core: e.core });
    } else {
      parts.push(original.slice());
      specs.push(structuredClone(e.spec) as tf.io.WeightsManifestEntry);
      report.push({ name: e.spec.name, dtype: storedDtype(e.spec as tf.io.WeightsManifestEntry), action: 'unchanged', maxError: 0 });
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
  return { modelJson, shards, weightSpecs: specs, weightData, report };
}

/** `tf.io.fromMemory`-ready artifacts of a saved model (`tf.loadLayersModel(tf.io.fromMemory(toModelArtifacts(saved)))`). */
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
    ...(j.trainingConfig !== undefined && j.trainingConfig !== null ? { trainingConfig: j.trainingConfig as tf.io.TrainingConfig } : {}),
    ...(j.userDefinedMetadata !== undefined && j.userDefinedMetadata !== null
      ? { userDefinedMetadata: j.userDefinedMetadata as NonNullable<tf.io.ModelArtifacts['userDefinedMetadata']> }
      : {}),
  };
}
