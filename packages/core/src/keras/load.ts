/**
 * Loading a Keras / TensorFlow.js LayersModel (model.json + weight shards) into a forgetless
 * `GraphModel`, without tfjs-layers: the topology is parsed and converted (`import.ts`), and each
 * Keras weight bound to its forgetless parameter by name and checked for shape before any shard is
 * read. Quantized weights (uint8, uint16, float16) are dequantized as tfjs does. The model holds
 * copies: the input JSON, bytes and files are never modified.
 *
 * Shards come through a `ShardReader` (files in Node: `@forgetless/pruning/node`; URLs: `fetch`,
 * here). Every error names the manifest (`source`) and the shard, weight or layer at fault.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '../graph.js';
import { type ImportOptions, type LayerBinding, importKerasTopology } from './import.js';
import { checkShardPath, shardUrl } from './paths.js';

export interface WeightEntry {
  /** The manifest's entry as written (name, shape, dtype, quantization). */
  readonly spec: Readonly<tf.io.WeightsManifestEntry>;
  /** Index of its manifest group, and its byte range in that group's concatenated shards. */
  readonly group: number;
  readonly byteOffset: number;
  readonly byteLength: number;
  /** The forgetless parameter or state it holds (`Conv1/kernel`, `bn_Conv1/moving_mean`), if any. */
  readonly core?: string;
}

export interface LoadedLayersModel {
  /** The manifest's file path or URL. */
  readonly source: string;
  /** The model with the file's weights (a copy; prune and fine-tune it freely). */
  readonly model: GraphModel;
  /** A private deep copy of the model.json, as read. */
  readonly modelJson: Readonly<Record<string, unknown>>;
  /** The manifest's weights in file order. */
  readonly entries: readonly WeightEntry[];
  /** The original bytes of each manifest group (shards concatenated). */
  readonly groups: readonly Uint8Array[];
  readonly bindings: readonly LayerBinding[];
  /** The Keras model ends in a softmax (the core model outputs its logits). */
  readonly outputSoftmax: boolean;
  /** The Keras model's output for a batch: the logits, softmaxed when `outputSoftmax`. */
  predict(x: tf.Tensor): tf.Tensor;
  /** The Keras weight name of a core parameter or state name. */
  kerasName(core: string): string | undefined;
  dispose(): void;
}

/** Reads one shard, given its checked path relative to the manifest. Errors should name the shard. */
export type ShardReader = (path: string) => Promise<Uint8Array>;

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** JSON.parse with an error naming the file. */
export function parseModelJson(text: string, source: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: malformed JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw new Error(`${source}: not a model.json (the JSON is not an object)`);
  return json;
}

interface Group {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

function manifestOf(json: Record<string, unknown>, source: string): Group[] {
  const m = json.weightsManifest;
  if (!Array.isArray(m)) throw new Error(`${source}: no 'weightsManifest' array (is this a LayersModel model.json?)`);
  return m.map((g, i) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) throw new Error(`${source}: weightsManifest[${i}] needs 'paths' and 'weights' arrays`);
    return { paths: g.paths.map((p) => checkShardPath(p, source)), weights: g.weights as tf.io.WeightsManifestEntry[] };
  });
}

function entryBytes(spec: tf.io.WeightsManifestEntry, source: string): number {
  if (!isObject(spec) || typeof spec.name !== 'string') throw new Error(`${source}: a weightsManifest entry has no name`);
  if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${source}: weight '${spec.name}' has an invalid shape ${JSON.stringify(spec.shape)}`);
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const per = BYTES[dtype as string];
  if (!per) throw new Error(`${source}: weight '${spec.name}' has dtype '${String(dtype)}', which cannot be read (float32, int32, bool, or quantized uint8/uint16/float16)`);
  return per * spec.shape.reduce((a, b) => a * b, 1);
}

/** Finds the manifest entry of Keras weight `layer/local`: the exact name, else the one name ending in `/layer/local`. */
function findEntry(entries: readonly { spec: tf.io.WeightsManifestEntry }[], layer: string, local: string): number {
  const name = `${layer}/${local}`;
  const exact = entries.findIndex((e) => e.spec.name === name);
  if (exact >= 0) return exact;
  const scoped = entries.map((e, i) => (e.spec.name.endsWith(`/${name}`) ? i : -1)).filter((i) => i >= 0);
  return scoped.length === 1 ? (scoped[0] as number) : -1;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/**
 * A LayersModel from its parsed model.json and a shard reader. `json` is copied first; nothing
 * given is modified.
 */
export async function loadLayersModelFromJson(json: unknown, readShard: ShardReader, source: string, options: ImportOptions = {}): Promise<LoadedLayersModel> {
  if (!isObject(json)) throw new Error(`${source}: not a model.json (the JSON is not an object)`);
  const modelJson = structuredClone(json);
  const groups = manifestOf(modelJson, source);
  // entries, their byte ranges, and the bindings: all checked before any shard is read
  const entries: { spec: tf.io.WeightsManifestEntry; group: number; byteOffset: number; byteLength: number; core?: string }[] = [];
  const seen = new Set<string>();
  groups.forEach((g, gi) => {
    let off = 0;
    for (const spec of g.weights) {
      const bytes = entryBytes(spec, source);
      if (seen.has(spec.name)) throw new Error(`${source}: weight '${spec.name}' appears twice in the manifest`);
      seen.add(spec.name);
      entries.push({ spec, group: gi, byteOffset: off, byteLength: bytes });
      off += bytes;
    }
  });
  const { model, bindings, outputSoftmax } = importKerasTopology(modelJson.modelTopology, source, options);
  try {
    const all = { ...model.params, ...model.state };
    const problems: string[] = [];
    for (const b of bindings) {
      if (!b.core) continue;
      for (const [local, kerasLocal] of Object.entries(b.weights)) {
        const i = findEntry(entries, b.keras, kerasLocal);
        const at = `layer '${b.keras}' (class ${b.className})`;
        if (i < 0) {
          problems.push(`weight '${b.keras}/${kerasLocal}' of ${at} is missing from the weights manifest`);
          continue;
        }
        const e = entries[i] as (typeof entries)[number];
        const coreName = `${b.core}/${local}`;
        const target = all[coreName] as tf.Variable;
        if (e.spec.dtype !== 'float32') problems.push(`weight '${e.spec.name}' has dtype '${e.spec.dtype}' but ${at} needs float32`);
        else if (e.core) problems.push(`weight '${e.spec.name}' is claimed by two layers`);
        else if (e.spec.shape.length !== target.shape.length || e.spec.shape.some((d, k) => d !== target.shape[k])) {
          problems.push(`weight '${e.spec.name}' has shape [${e.spec.shape}] in the manifest but ${at} needs [${target.shape}]`);
        } else e.core = coreName;
      }
    }
    if (problems.length) throw new Error(`${source}: ${problems.length} problem${problems.length > 1 ? 's' : ''} with the weights:\n  - ${problems.join('\n  - ')}`);
    // shards, group by group
    const data: Uint8Array[] = [];
    for (const [gi, g] of groups.entries()) {
      const parts: Uint8Array[] = [];
      for (const p of g.paths) parts.push(await readShard(p));
      const bytes = concat(parts);
      const want = entries.filter((e) => e.group === gi).reduce((n, e) => n + e.byteLength, 0);
      if (bytes.byteLength !== want) {
        throw new Error(`${source}: weight shards ${g.paths.map((p) => `'${p}'`).join(', ')} hold ${bytes.byteLength} bytes but the manifest describes ${want} (truncated or mismatched shard)`);
      }
      data.push(bytes);
    }
    const weights: Record<string, tf.Tensor> = {};
    try {
      for (const e of entries) {
        if (!e.core) continue;
        const g = data[e.group] as Uint8Array;
        const slice = g.slice(e.byteOffset, e.byteOffset + e.byteLength); // a copy, aligned
        weights[e.core] = (tf.io.decodeWeights(slice.buffer, [e.spec]) as Record<string, tf.Tensor>)[e.spec.name] as tf.Tensor;
      }
      model.setWeights(weights);
    } finally {
      tf.dispose(Object.values(weights));
    }
    const toKeras = new Map(entries.filter((e) => e.core).map((e) => [e.core as string, e.spec.name]));
    return {
      source,
      model,
      modelJson,
      entries,
      groups: data,
      bindings,
      outputSoftmax,
      predict: (x) => model.predict(x),
      kerasName: (core) => toKeras.get(core),
      dispose: () => model.dispose(),
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

export interface UrlLoadOptions {
  /** The fetch to use (default the global one). */
  fetch?: typeof fetch;
  requestInit?: RequestInit;
}

/** Loads model.json and its shards from a URL (shards must lie under the model's folder). */
export async function loadLayersModelFromUrl(url: string | URL, options: UrlLoadOptions & ImportOptions = {}): Promise<LoadedLayersModel> {
  const f = options.fetch ?? globalThis.fetch;
  if (typeof f !== 'function') throw new Error('loadLayersModelFromUrl: no fetch available (pass options.fetch)');
  const modelUrl = new URL(String(url), typeof location !== 'undefined' ? location.href : undefined);
  const source = modelUrl.href;
  const get = async (u: URL, what: string): Promise<Response> => {
    let r: Response;
    try {
      r = await f(u.href, options.requestInit);
    } catch (e) {
      throw new Error(`${source}: cannot fetch ${what} ${u.href} (${(e as Error).message})`);
    }
    if (!r.ok) throw new Error(`${source}: cannot fetch ${what} ${u.href} (HTTP ${r.status})`);
    return r;
  };
  const json = parseModelJson(await (await get(modelUrl, 'the model.json')).text(), source);
  return loadLayersModelFromJson(json, async (p) => new Uint8Array(await (await get(shardUrl(modelUrl, p, source), `weight shard '${p}' at`)).arrayBuffer()), source, options);
}

/**
 * Loads from in-memory artifacts, as a tfjs save handler receives them (`model.save(tf.io.withSaveHandler(...))`):
 * the topology, the weight specs and the weight data.
 */
export async function loadLayersModelFromArtifacts(artifacts: tf.io.ModelArtifacts, source = 'artifacts', options: ImportOptions = {}): Promise<LoadedLayersModel> {
  const data = artifacts.weightData;
  const bytes = data === undefined ? new Uint8Array(0) : Array.isArray(data) ? concat(data.map((b) => new Uint8Array(b))) : new Uint8Array(data as ArrayBuffer);
  const json = { modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }] };
  return loadLayersModelFromJson(json, async () => bytes, source, options);
}
