/**
 * A new classifier head for a loaded Keras / tfjs-layers model: its final Dense layer given more
 * output units (`extend`: the old units keep their weights, the new ones start at zero, so the
 * model predicts exactly as before until it trains) or a fresh set (`replace`: Glorot-uniform
 * kernel, zero bias, Keras's Dense defaults). The result is a new `LoadedLayersModel` whose
 * model.json says the new `units` and whose saved head keeps the file's quantization (uint8,
 * uint16, float16): `saveLayersModel` / `layersModelArtifacts` write it stock-loadable.
 *
 * The head is the output node's Dense layer, or the Dense layer under a final parameter-free
 * Softmax / Activation. Live `tf.LayersModel` objects cannot take a head of another shape back
 * (`writeBack` sets weights of the shapes they have): save to files instead.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng.js';
import { type LoadLayersModelOptions, type LoadedLayersModel, type ShardReader, type WeightEntry, loadLayersModelFromJson } from './load.js';

export type HeadMode = 'extend' | 'replace';

export interface ResizeHeadOptions {
  /** Output units of the new head (`extend`: more than the current). */
  units: number;
  mode: HeadMode;
  /** Seed of `replace`'s initialiser (default 0). */
  seed?: number;
  /** Options of the reload (freezing; default: the layers `loaded.model` has frozen). */
  load?: LoadLayersModelOptions;
}

export interface HeadChange {
  /** The Keras name of the Dense layer that became the head. */
  layer: string;
  mode: HeadMode;
  /** Units before and after. */
  before: number;
  after: number;
}

/** The output node's Dense layer (through a final Softmax / Activation), or an error naming what the output is. */
export function classifierHead(loaded: LoadedLayersModel): { layer: string; units: number; inputs: number } {
  const model = loaded.model;
  let name = model.outputName;
  for (;;) {
    const node = model.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`${loaded.source}: the model's output node '${name}' is not in its graph`);
    const layer = node.layer;
    if (layer.kind === 'dense') {
      const kernel = layer.params.kernel;
      if (kernel?.shape.length !== 2) throw new Error(`${loaded.source}: the head '${layer.name}' has no 2-D kernel`);
      return { layer: layer.name, inputs: kernel.shape[0] as number, units: kernel.shape[1] as number };
    }
    const parameterFree = Object.keys((layer as { params?: object }).params ?? {}).length === 0;
    if (!parameterFree || node.inputs.length !== 1) {
      throw new Error(
        `${loaded.source}: the model's output comes from layer '${layer.name}' (${layer.kind}), not a Dense layer; a new head needs a final Dense layer (optionally followed by a softmax)`,
      );
    }
    name = node.inputs[0] as string;
  }
}

/**
 * The `config` object of the layer named `name` in a Keras topology (a model.json's
 * `modelTopology`, any nesting of Sequential / functional models), optionally of one class; the
 * object itself, so that changing it changes the topology.
 */
export function kerasLayerConfig(node: unknown, name: string, className?: string): Record<string, unknown> | undefined {
  if (Array.isArray(node)) {
    for (const x of node) {
      const hit = kerasLayerConfig(x, name, className);
      if (hit) return hit;
    }
    return undefined;
  }
  if (typeof node !== 'object' || node === null) return undefined;
  const o = node as Record<string, unknown>;
  const config = o.config as Record<string, unknown> | undefined;
  if (typeof o.class_name === 'string' && config && typeof config === 'object' && config.name === name && (className === undefined || o.class_name === className)) return config;
  for (const v of Object.values(o)) {
    const hit = kerasLayerConfig(v, name, className);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * `loaded` with a head of `units` outputs (see the module comment). The source's weights are read
 * from `loaded.model` as they are now (fine-tuned or not); `loaded` itself is left unchanged.
 */
export async function resizeHead(loaded: LoadedLayersModel, options: ResizeHeadOptions): Promise<LoadedLayersModel & { head: HeadChange }> {
  const { units, mode } = options;
  if (!Number.isInteger(units) || units < 1) throw new Error(`resizeHead: units must be a positive integer, got ${String(units)}`);
  if (mode !== 'extend' && mode !== 'replace') throw new Error(`resizeHead: mode must be 'extend' or 'replace', got '${String(mode)}'`);
  const head = classifierHead(loaded);
  if (mode === 'extend' && units < head.units) {
    throw new Error(`resizeHead: extend adds units: the head '${head.layer}' has ${head.units} units, asked for ${units}`);
  }
  const config = kerasLayerConfig((loaded.modelJson as Record<string, unknown>).modelTopology, head.layer, 'Dense');
  if (!config) throw new Error(`${loaded.source}: no Dense layer named '${head.layer}' in the model.json topology`);
  const modelJson = structuredClone(loaded.modelJson) as Record<string, unknown>;
  (kerasLayerConfig(modelJson.modelTopology, head.layer, 'Dense') as Record<string, unknown>).units = units;
  const all: Record<string, tf.Tensor> = { ...loaded.model.params, ...loaded.model.state };
  const kernelName = `${head.layer}/kernel`;
  const biasName = `${head.layer}/bias`;
  const rng = new Rng(options.seed ?? 0).fork(`head:${head.layer}`);
  const oldKernel = (await (all[kernelName] as tf.Tensor).data()) as Float32Array;
  const kernel = new Float32Array(head.inputs * units);
  if (mode === 'extend') {
    for (let i = 0; i < head.inputs; i++) kernel.set(oldKernel.subarray(i * head.units, (i + 1) * head.units), i * units);
  } else {
    const limit = Math.sqrt(6 / (head.inputs + units));
    for (let i = 0; i < kernel.length; i++) kernel[i] = (rng.next() * 2 - 1) * limit;
  }
  const bias = new Float32Array(units);
  if (mode === 'extend' && all[biasName]) bias.set((await (all[biasName] as tf.Tensor).data()) as Float32Array);

  // the manifest: every weight as it is in the model now (float32 for the head), one group
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  const quantizeAs = new Map<string, NonNullable<tf.io.WeightsManifestEntry['quantization']>>();
  for (const e of loaded.entries) {
    const g = loaded.groups[e.group] as Uint8Array;
    if (e.core === kernelName || e.core === biasName) {
      const values = e.core === kernelName ? kernel : bias;
      const shape = e.core === kernelName ? [head.inputs, units] : [units];
      const { quantization, ...plain } = structuredClone(e.spec) as tf.io.WeightsManifestEntry;
      specs.push({ ...plain, shape, dtype: 'float32' });
      parts.push(new Uint8Array(values.buffer.slice(0)));
      if (quantization) quantizeAs.set(e.spec.name, quantization);
    } else {
      specs.push(structuredClone(e.spec) as tf.io.WeightsManifestEntry);
      parts.push(g.subarray(e.byteOffset, e.byteOffset + e.byteLength));
    }
  }
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    bytes.set(p, off);
    off += p.byteLength;
  }
  modelJson.weightsManifest = [{ paths: ['weights.bin'], weights: specs }];
  const readShard: ShardReader = Object.assign(async () => bytes, { size: async () => bytes.byteLength });
  const frozen = loaded.model.frozen;
  const reloaded = await loadLayersModelFromJson(modelJson, readShard, loaded.source, options.load ?? (frozen.length ? { freeze: [...frozen] } : {}));
  // the head is held as float32 here; saving writes it in the file's own quantization again
  const entries: WeightEntry[] = reloaded.entries.map((e) => {
    const q = quantizeAs.get(e.spec.name);
    return q ? { ...e, quantizeAs: q } : e;
  });
  return { ...reloaded, entries, head: { layer: head.layer, mode, before: head.units, after: units } };
}
