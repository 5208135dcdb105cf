/**
 * Removing dependency groups from a loaded Keras / TensorFlow.js LayersModel: its model.json says the
 * new sizes (`units`, `filters`, a Reshape's `target_shape`), its manifest the new shapes, and the
 * sliced weights keep the file's quantization (uint8, uint16, float16: requantized on save with a
 * fresh scale; untouched weights keep their bytes). The result is a new `LoadedLayersModel` that
 * `layersModelArtifacts` / `saveLayersModel` write stock-loadable, as `resizeHead` does for a head.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type LoadedLayersModel, type ShardReader, type WeightEntry, kerasLayerConfig, loadLayersModelFromJson } from '@forgetless/core';
import type { DependencyGroups } from './groups.js';
import { removedIndices, resizedLayers, sliceTensor } from './remove.js';

/** `loaded` without the `removed` groups of `dependencyGroups(loaded.model)`; `loaded` is left unchanged. */
export async function removeGroupsFromLayersModel(loaded: LoadedLayersModel, deps: DependencyGroups, removed: Iterable<number>): Promise<LoadedLayersModel> {
  const ids = [...removed];
  const gone = removedIndices(deps, ids);
  const modelJson = structuredClone(loaded.modelJson) as Record<string, unknown>;
  for (const [layer, change] of resizedLayers(deps, ids)) {
    const config = kerasLayerConfig(modelJson.modelTopology, layer);
    if (!config) throw new Error(`${loaded.source}: no layer named '${layer}' in the model.json topology`);
    if (change.width !== undefined) {
      const key = typeof config.units === 'number' ? 'units' : typeof config.filters === 'number' ? 'filters' : undefined;
      if (!key) throw new Error(`${loaded.source}: layer '${layer}' has neither units nor filters in its config`);
      config[key] = change.width;
    }
    if (change.targetShape) config.target_shape = change.targetShape;
  }
  // every tensor the model holds, as it is now, sliced
  const all: Record<string, tf.Tensor> = { ...loaded.model.params, ...loaded.model.state };
  const current: Record<string, { values: Float32Array; shape: number[] }> = {};
  for (const [name, v] of Object.entries(all)) {
    const values = Float32Array.from((await v.data()) as Float32Array);
    const axes = gone.get(name);
    current[name] = axes ? sliceTensor(values, v.shape, axes) : { values, shape: [...v.shape] };
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  const quantizeAs = new Map<string, NonNullable<tf.io.WeightsManifestEntry['quantization']>>();
  for (const e of loaded.entries) {
    const g = loaded.groups[e.group] as Uint8Array;
    const sliced = e.core && gone.has(e.core) ? current[e.core] : undefined;
    if (sliced) {
      const { quantization, ...plain } = structuredClone(e.spec) as tf.io.WeightsManifestEntry;
      specs.push({ ...plain, shape: sliced.shape, dtype: 'float32' });
      parts.push(new Uint8Array(sliced.values.buffer.slice(0)));
      const q = e.quantizeAs ?? quantization;
      if (q) quantizeAs.set(e.spec.name, q);
    } else {
      specs.push(structuredClone(e.spec) as tf.io.WeightsManifestEntry);
      parts.push(g.subarray(e.byteOffset, e.byteOffset + e.byteLength));
      if (e.quantizeAs) quantizeAs.set(e.spec.name, e.quantizeAs);
    }
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    bytes.set(p, off);
    off += p.byteLength;
  }
  modelJson.weightsManifest = [{ paths: ['weights.bin'], weights: specs }];
  const readShard: ShardReader = Object.assign(async () => bytes, { size: async () => bytes.byteLength });
  const frozen = loaded.model.frozen;
  const reloaded = await loadLayersModelFromJson(modelJson, readShard, loaded.source, frozen.length ? { freeze: [...frozen] } : {});
  try {
    // the model's current values (the file's bytes are the loaded ones; fine-tuning may have moved them)
    const weights: Record<string, tf.Tensor> = {};
    try {
      for (const [name, c] of Object.entries(current)) weights[name] = tf.tensor(c.values, c.shape, 'float32');
      reloaded.model.setWeights(weights);
    } finally {
      for (const t of Object.values(weights)) t.dispose();
    }
  } catch (e) {
    reloaded.dispose();
    throw e;
  }
  const entries: WeightEntry[] = reloaded.entries.map((e) => {
    const q = quantizeAs.get(e.spec.name);
    return q ? { ...e, quantizeAs: q } : e;
  });
  return { ...reloaded, entries };
}
