/**
 * Loading a Keras / TensorFlow.js LayersModel (model.json + weight shards) into a forgetless
 * `GraphModel`, without tfjs-layers: the topology is parsed and converted (`import.ts`), and each
 * Keras weight bound to its forgetless parameter by name and checked for shape before any shard is
 * read. Quantized weights (uint8, uint16, float16) are dequantized as tfjs does. The model holds
 * copies: the input JSON, bytes and files are never modified.
 *
 * A model.json that asks for more than its files hold is refused before it costs memory, in this
 * order: the manifest's declared bytes against a cap (`maxBytes`, default 2 GiB); the manifest's shapes
 * against the weights the topology makes, learnt from a shape-only build that allocates nothing; each
 * group's declared bytes against its shards' sizes when the reader knows them without reading (a
 * file's size on disk); then the shards are read, each refused as soon as it runs past what the manifest
 * leaves for it; and only then is the model built (which allocates every variable) and filled.
 *
 * Shards come through a `ShardReader` (files in Node: `@forgetless/pruning/node`; URLs: `fetch`,
 * here). Every error names the manifest (`source`) and the shard, weight or layer at fault.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphModel } from '../graph.js';
import { readResponseBody } from '../fetch-body.js';
import { withShapeOnlyVariables } from '../init.js';
import { type ImportOptions, type LayerBinding, importKerasTopology } from './import.js';
import { checkShardPath, shardUrl } from './paths.js';
import { isScriptText, modelJsonFromScript, shardBytesFromScript, wrappedShardNames } from './wrapped.js';

export interface WeightEntry {
  /** The manifest's entry as written (name, shape, dtype, quantization). */
  readonly spec: Readonly<tf.io.WeightsManifestEntry>;
  /** Index of its manifest group, and its byte range in that group's concatenated shards. */
  readonly group: number;
  readonly byteOffset: number;
  readonly byteLength: number;
  /** The forgetless parameter or state it holds (`Conv1/kernel`, `bn_Conv1/moving_mean`), if any. */
  readonly core?: string;
  /**
   * Held as float32 here but to be saved in this quantization (a head `resizeHead` made from a
   * quantized file); the saved spec takes its dtype, with a fresh scale and minimum.
   */
  readonly quantizeAs?: Readonly<NonNullable<tf.io.WeightsManifestEntry['quantization']>>;
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

export interface ShardReadOptions {
  /**
   * The most bytes the manifest leaves for this shard: a reader may refuse a longer shard without
   * reading it (by its Content-Length) or stop reading once it runs past (the loader refuses it anyway).
   */
  maxBytes?: number;
}

/**
 * Reads one shard, given its checked path relative to the manifest. Errors should name the shard.
 * `size`, when the reader has it, gives a shard's byte size without reading it (a file's size on
 * disk): the loader compares the manifest with the sizes before reading or building anything.
 */
export type ShardReader = ((path: string, options?: ShardReadOptions) => Promise<Uint8Array>) & {
  size?: (path: string) => Promise<number>;
};

/** The default cap on the weights a manifest may declare: 2 GiB. */
export const DEFAULT_MODEL_MAX_BYTES = 2 ** 31;

export interface LoadLimits {
  /**
   * The most bytes of weights a model.json may declare, and a topology make (default 2 GiB,
   * `DEFAULT_MODEL_MAX_BYTES`): a larger model is refused before anything is read or allocated.
   */
  maxBytes?: number;
}

/** Options of the loaders: the import's and the size cap. */
export type LoadLayersModelOptions = ImportOptions & LoadLimits;

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * JSON.parse with an error naming the file. A model.json shipped as a script (a UMD / CommonJS / ES
 * module file exporting the object, as nsfwjs's `model.min.js`) is read too, without running it
 * (`modelJsonFromScript`).
 */
export function parseModelJson(text: string, source: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    if (isScriptText(text)) return modelJsonFromScript(text, source);
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
  if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isInteger(d) || d < 0))
    throw new Error(`${source}: weight '${spec.name}' has an invalid shape ${JSON.stringify(spec.shape)}`);
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

function describeBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

const shardList = (paths: readonly string[]) => paths.map((p) => `'${p}'`).join(', ');

function mismatch(source: string, paths: readonly string[], have: number, want: number): Error {
  return new Error(`${source}: weight shards ${shardList(paths)} hold ${have} bytes but the manifest describes ${want} (truncated or mismatched shard)`);
}

/**
 * A LayersModel from its parsed model.json and a shard reader. `json` is copied first; nothing
 * given is modified. Everything is checked before the model is built (see the module's comment).
 */
export async function loadLayersModelFromJson(json: unknown, readShard: ShardReader, source: string, options: LoadLayersModelOptions = {}): Promise<LoadedLayersModel> {
  if (!isObject(json)) throw new Error(`${source}: not a model.json (the JSON is not an object)`);
  const { maxBytes, ...importOptions } = options;
  const cap = maxBytes ?? DEFAULT_MODEL_MAX_BYTES;
  if (typeof cap !== 'number' || !(cap >= 0)) throw new Error(`${source}: maxBytes must be a number ≥ 0, got ${String(cap)}`);
  const capText = `${cap} bytes (${maxBytes === undefined ? `${describeBytes(cap)}; ` : ''}maxBytes)`;
  const modelJson = structuredClone(json);
  const groups = manifestOf(modelJson, source);
  // entries, their byte ranges, and the bindings: all checked before any shard is read
  const entries: { spec: tf.io.WeightsManifestEntry; group: number; byteOffset: number; byteLength: number; core?: string }[] = [];
  const seen = new Set<string>();
  const declared: number[] = [];
  groups.forEach((g, gi) => {
    let off = 0;
    for (const spec of g.weights) {
      const bytes = entryBytes(spec, source);
      if (seen.has(spec.name)) throw new Error(`${source}: weight '${spec.name}' appears twice in the manifest`);
      seen.add(spec.name);
      entries.push({ spec, group: gi, byteOffset: off, byteLength: bytes });
      off += bytes;
    }
    declared.push(off);
  });
  // 1. the cap, on the manifest alone
  const total = declared.reduce((a, b) => a + b, 0);
  if (total > cap) {
    const largest = entries.reduce((a, b) => (b.byteLength > a.byteLength ? b : a));
    throw new Error(
      `${source}: the weights manifest declares ${total} bytes, more than the cap of ${capText}; the largest weight is '${largest.spec.name}' [${largest.spec.shape}] ${largest.spec.quantization?.dtype ?? largest.spec.dtype}, ${largest.byteLength} bytes. Pass { maxBytes } to load a larger model`,
    );
  }
  // 2. the manifest against the weights the topology makes, from a build that allocates nothing
  const shapes = withShapeOnlyVariables(() => importKerasTopology(modelJson.modelTopology, source, importOptions));
  try {
    const all = { ...shapes.model.params, ...shapes.model.state };
    const made = Object.values(all).reduce((n, v) => n + v.size * 4, 0);
    if (made > cap) throw new Error(`${source}: the topology makes ${made} bytes of weights, more than the cap of ${capText}. Pass { maxBytes } to load a larger model`);
    const problems: string[] = [];
    for (const b of shapes.bindings) {
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
  } finally {
    shapes.model.dispose();
  }
  // 3. shard sizes, when the reader knows them without reading (files)
  if (readShard.size) {
    for (const [gi, g] of groups.entries()) {
      let have = 0;
      for (const p of g.paths) have += await readShard.size(p);
      if (have !== declared[gi]) throw mismatch(source, g.paths, have, declared[gi] as number);
    }
  }
  // 4. the shards, group by group, each refused as soon as it runs past what the manifest leaves for it
  const data: Uint8Array[] = [];
  for (const [gi, g] of groups.entries()) {
    const want = declared[gi] as number;
    const parts: Uint8Array[] = [];
    let have = 0;
    for (const p of g.paths) {
      const part = await readShard(p, { maxBytes: want - have });
      parts.push(part);
      have += part.byteLength;
      if (have > want) break;
    }
    if (have !== want) throw mismatch(source, g.paths, have, want);
    data.push(concat(parts));
  }
  // 5. the model, built for real, and its weights
  const { model, bindings, outputSoftmax } = importKerasTopology(modelJson.modelTopology, source, importOptions);
  try {
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

/**
 * Loads model.json and its shards from a URL (shards must lie under the model's folder). A shard whose
 * Content-Length is more than the manifest leaves for it is refused before its body is read, and a
 * body is read only until it runs past that.
 */
export async function loadLayersModelFromUrl(url: string | URL, options: UrlLoadOptions & LoadLayersModelOptions = {}): Promise<LoadedLayersModel> {
  const { fetch: given, requestInit, ...loadOptions } = options;
  const f = given ?? globalThis.fetch;
  if (typeof f !== 'function') throw new Error('loadLayersModelFromUrl: no fetch available (pass options.fetch)');
  const modelUrl = new URL(String(url), typeof location !== 'undefined' ? location.href : undefined);
  const source = modelUrl.href;
  /** The response at `u`; with `missingOk`, undefined for a 404 instead of an error. */
  async function get(u: URL, what: string): Promise<Response>;
  async function get(u: URL, what: string, missingOk: true): Promise<Response | undefined>;
  async function get(u: URL, what: string, missingOk = false): Promise<Response | undefined> {
    let r: Response;
    try {
      r = await f(u.href, requestInit);
    } catch (e) {
      throw new Error(`${source}: cannot fetch ${what} ${u.href} (${(e as Error).message})`);
    }
    if (missingOk && r.status === 404) return undefined;
    if (!r.ok) throw new Error(`${source}: cannot fetch ${what} ${u.href} (HTTP ${r.status})`);
    return r;
  }
  const text = await (await get(modelUrl, 'the model.json')).text();
  const json = parseModelJson(text, source);
  const wrappedModel = isScriptText(text);
  /** A shard's body, read only up to `maxBytes` (`at`: the file it came from, when not `p` itself). */
  const shardBody = (r: Response, p: string, maxBytes: number | undefined, at = '') =>
    readResponseBody(r, maxBytes, {
      declared: (n) => new Error(`${source}: weight shard '${p}'${at} has Content-Length ${n} bytes, more than the ${maxBytes} bytes the manifest leaves for it`),
      runsPast: () => new Error(`${source}: weight shard '${p}'${at} runs past the ${maxBytes} bytes the manifest leaves for it; stopped reading`),
      failed: (e) => new Error(`${source}: cannot read weight shard '${p}'${at} (${(e as Error).message})`),
    });
  const readShard: ShardReader = async (p, limit = {}) => {
    const url = shardUrl(modelUrl, p, source);
    if (!wrappedModel) return shardBody(await get(url, `weight shard '${p}' at`), p, limit.maxBytes);
    // a model shipped as a script (nsfwjs's model.min.js): a shard missing beside it may be a script too, `<p>.min.js` / `<p>.js`
    const r = await get(url, `weight shard '${p}' at`, true);
    if (r) return shardBody(r, p, limit.maxBytes);
    for (const alt of wrappedShardNames(p)) {
      const altUrl = shardUrl(modelUrl, alt, source);
      const ra = await get(altUrl, `weight shard '${p}' at`, true);
      if (!ra) continue;
      // base64 in a script: 4/3 of the bytes, plus the wrapper
      const cap = limit.maxBytes === undefined ? undefined : Math.ceil((limit.maxBytes * 4) / 3) + 65536;
      const body = await shardBody(ra, p, cap, ` (a script, ${altUrl.href})`);
      return shardBytesFromScript(new TextDecoder().decode(body), altUrl.href);
    }
    throw new Error(`${source}: cannot fetch weight shard '${p}' at ${url.href} (HTTP 404; nor ${wrappedShardNames(p).join(', ')} beside it)`);
  };
  return loadLayersModelFromJson(json, readShard, source, loadOptions);
}

/**
 * Loads from in-memory artifacts, as a tfjs save handler receives them (`model.save(tf.io.withSaveHandler(...))`):
 * the topology, the weight specs and the weight data.
 */
export async function loadLayersModelFromArtifacts(artifacts: tf.io.ModelArtifacts, source = 'artifacts', options: LoadLayersModelOptions = {}): Promise<LoadedLayersModel> {
  const data = artifacts.weightData;
  const bytes = data === undefined ? new Uint8Array(0) : Array.isArray(data) ? concat(data.map((b) => new Uint8Array(b))) : new Uint8Array(data as ArrayBuffer);
  const json = { modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }] };
  const readShard: ShardReader = Object.assign(async () => bytes, { size: async () => bytes.byteLength });
  return loadLayersModelFromJson(json, readShard, source, options);
}
