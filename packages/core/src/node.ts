/**
 * Node-only helpers (`@forgetless/core/node`): parameter maps on disk, written atomically, and
 * Keras / tfjs-layers models from and to model.json + shards (no tfjs-node needed).
 */
import type { Stats } from 'node:fs';
import { access, mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { type LoadLayersModelOptions, type LoadedLayersModel, type ShardReadOptions, type ShardReader, loadLayersModelFromJson, parseModelJson } from './keras/load.js';
import { checkShardPath } from './keras/paths.js';
import { WRAPPED_MODEL_NAMES, shardBytesFromScript, wrappedShardNames } from './keras/wrapped.js';
import { type SaveOptions, type SavedWeightReport, layersModelArtifacts } from './keras/save.js';
import type { ParamMap } from './params.js';
import { decodeParamMap, encodeParamMap } from './weights-format.js';

/** Writes `file` by writing a temporary sibling and renaming it, so a crash never leaves half a file. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/**
 * Saves a parameter map as `<path>.json` (manifest) and `<path>.bin` (float32 data).
 * `path` may end in `.json`.
 */
export async function saveParamMap(path: string, map: ParamMap, metadata?: Record<string, unknown>): Promise<string> {
  const base = path.endsWith('.json') ? path.slice(0, -5) : path;
  const binName = `${basename(base)}.bin`;
  const { manifest, data } = await encodeParamMap(map, binName, metadata);
  await writeFileAtomic(join(dirname(base), binName), new Uint8Array(data));
  await writeFileAtomic(`${base}.json`, JSON.stringify(manifest, null, 1));
  return `${base}.json`;
}

/** Loads a map saved by `saveParamMap`; with `expected`, checks names and shapes against it. */
export async function loadParamMap(path: string, expected?: ParamMap): Promise<ParamMap> {
  const jsonPath = path.endsWith('.json') ? path : `${path}.json`;
  let manifest: { weightsManifest?: { paths?: string[] }[] };
  try {
    manifest = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (e) {
    throw new Error(`${jsonPath}: cannot read the manifest (${(e as Error).message})`);
  }
  const paths = (manifest.weightsManifest ?? []).flatMap((g) => g.paths ?? []);
  const buffers: Uint8Array[] = [];
  for (const p of paths) {
    if (p.includes('/') || p.includes('\\') || p === '..') {
      throw new Error(`${jsonPath}: weight file '${p}' is outside the manifest's folder`);
    }
    try {
      buffers.push(await readFile(join(dirname(jsonPath), p)));
    } catch (e) {
      throw new Error(`${jsonPath}: cannot read weight file '${p}' (${(e as Error).message})`);
    }
  }
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const joined = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    joined.set(b, off);
    off += b.byteLength;
  }
  return decodeParamMap(manifest, joined.buffer, jsonPath, expected);
}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** `path` itself if it is a file, else `path/model.json` (or, without it, the folder's `model.min.js` or `model.js`). */
async function manifestPath(path: string): Promise<string> {
  const abs = resolve(path);
  let s: Stats;
  try {
    s = await stat(abs);
  } catch (e) {
    throw new Error(`${abs}: cannot read the model (${errCode(e)})`);
  }
  if (!s.isDirectory()) return abs;
  const json = join(abs, 'model.json');
  if (await exists(json)) return json;
  for (const name of WRAPPED_MODEL_NAMES) if (await exists(join(abs, name))) return join(abs, name);
  return json;
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** The largest weight shard wrapped in a script that is read (its text is held whole while it is parsed). */
const MAX_WRAPPED_SHARD_BYTES = 2 ** 30;

/**
 * Reads shards beside `source`, refusing any path (symlinks included) that leaves its folder. Its
 * `size` gives a shard's size on disk without reading it, which the loader compares with the manifest
 * before anything is read or built; a shard larger than the manifest leaves for it is not read.
 */
export function fileShardReader(source: string): ShardReader {
  const dir = dirname(source);
  const inside = (base: string, f: string) => {
    const r = relative(base, f);
    return r !== '' && !r.startsWith('..') && !isAbsolute(r);
  };
  /**
   * The shard's file: `p` itself, or, when there is no such file, `p.min.js` / `p.js` (a shard wrapped
   * in a script, as nsfwjs ships them; `wrapped`).
   */
  const locate = async (p: string): Promise<{ real: string; wrapped: boolean }> => {
    checkShardPath(p, source);
    const file = resolve(dir, p);
    if (!inside(dir, file)) throw new Error(`${source}: weight-shard path '${p}' leaves the model's folder`);
    let real: string | undefined;
    let wrapped = false;
    try {
      real = await realpath(file);
    } catch (e) {
      for (const alt of wrappedShardNames(p)) {
        real = await realpath(resolve(dir, alt)).catch(() => undefined);
        if (real !== undefined) {
          wrapped = true;
          break;
        }
      }
      if (real === undefined) {
        const tried = wrappedShardNames(basename(file)).join(', ');
        throw new Error(`${source}: weight shard '${p}' cannot be read (${errCode(e)}: ${file}; nor is it wrapped as ${tried})`);
      }
    }
    if (!inside(await realpath(dir), real)) throw new Error(`${source}: weight shard '${p}' is a link to ${real}, outside the model's folder`);
    return { real, wrapped };
  };
  const sizeOf = async (p: string, real: string): Promise<number> => {
    try {
      return (await stat(real)).size;
    } catch (e) {
      throw new Error(`${source}: weight shard '${p}' cannot be read (${errCode(e)}: ${real})`);
    }
  };
  /** Wrapped shards decoded for `size` (their byte count is known only once decoded), kept for `read`. */
  const decoded = new Map<string, Uint8Array>();
  const unwrap = async (p: string, real: string): Promise<Uint8Array> => {
    const have = decoded.get(p);
    if (have) return have;
    const bytes = await sizeOf(p, real);
    if (bytes > MAX_WRAPPED_SHARD_BYTES)
      throw new Error(`${source}: weight shard '${p}' is wrapped in a script of ${bytes} bytes (${real}); wrapped shards are read up to ${MAX_WRAPPED_SHARD_BYTES} bytes`);
    let text: string;
    try {
      text = await readFile(real, 'utf8');
    } catch (e) {
      throw new Error(`${source}: weight shard '${p}' cannot be read (${errCode(e)}: ${real})`);
    }
    const data = shardBytesFromScript(text, real);
    decoded.set(p, data);
    return data;
  };
  const size = async (p: string): Promise<number> => {
    const { real, wrapped } = await locate(p);
    return wrapped ? (await unwrap(p, real)).byteLength : sizeOf(p, real);
  };
  const read = async (p: string, options: ShardReadOptions = {}): Promise<Uint8Array> => {
    const { real, wrapped } = await locate(p);
    if (wrapped) {
      const data = await unwrap(p, real);
      decoded.delete(p);
      if (options.maxBytes !== undefined && data.byteLength > options.maxBytes)
        throw new Error(`${source}: weight shard '${p}' holds ${data.byteLength} bytes, more than the ${options.maxBytes} bytes the manifest leaves for it`);
      return data;
    }
    if (options.maxBytes !== undefined) {
      const bytes = await sizeOf(p, real);
      if (bytes > options.maxBytes) throw new Error(`${source}: weight shard '${p}' holds ${bytes} bytes, more than the ${options.maxBytes} bytes the manifest leaves for it`);
    }
    try {
      return new Uint8Array(await readFile(real));
    } catch (e) {
      throw new Error(`${source}: weight shard '${p}' cannot be read (${errCode(e)}: ${real})`);
    }
  };
  return Object.assign(read, { size });
}

/** Resolves and parses a model.json; errors name the file. */
async function readModelJson(path: string): Promise<{ source: string; json: Record<string, unknown> }> {
  const source = await manifestPath(path);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (e) {
    throw new Error(`${source}: cannot read the model.json (${errCode(e)})`);
  }
  return { source, json: parseModelJson(text, source) };
}

/**
 * Loads a Keras / tfjs-layers model from a model.json path (or its folder); the files are only read.
 * Shard sizes on disk are compared with the manifest before anything is read or built, and the
 * declared weights are capped (`maxBytes`, default 2 GiB).
 */
export async function loadLayersModel(path: string, options: LoadLayersModelOptions = {}): Promise<LoadedLayersModel> {
  const { source, json } = await readModelJson(path);
  return loadLayersModelFromJson(json, fileShardReader(source), source, options);
}

/** A tfjs IOHandler over a model.json with the same path checks: `tf.loadLayersModel(layersModelFiles(path))`. */
export function layersModelFiles(path: string): tf.io.IOHandler {
  return {
    load: async () => {
      const { source, json } = await readModelJson(path);
      const groups = Array.isArray(json.weightsManifest) ? (json.weightsManifest as { paths?: unknown[]; weights?: tf.io.WeightsManifestEntry[] }[]) : [];
      const read = fileShardReader(source);
      const parts: Uint8Array[] = [];
      for (const g of groups) for (const p of g.paths ?? []) parts.push(await read(checkShardPath(p, source)));
      const data = new Uint8Array(parts.reduce((n, b) => n + b.byteLength, 0));
      let off = 0;
      for (const b of parts) {
        data.set(b, off);
        off += b.byteLength;
      }
      return {
        modelTopology: json.modelTopology as object,
        weightSpecs: groups.flatMap((g) => g.weights ?? []),
        weightData: data.buffer,
        ...(typeof json.format === 'string' ? { format: json.format } : {}),
      };
    },
  };
}

export interface SaveLayersModelOptions extends SaveOptions {
  /** Replace an existing model.json (and shards of the same names) in the folder (default false). */
  overwrite?: boolean;
}

export interface SaveLayersModelResult {
  /** Files written, absolute paths (shards, then model.json). */
  files: string[];
  /** Per manifest weight: the dtype stored and whether it kept its bytes, was requantized or written as float32. */
  report: SavedWeightReport[];
}

/**
 * Writes `loaded` with its forgetless model's current weights to `dir` as model.json + shards
 * (`layersModelArtifacts`), each file atomically, shards first and model.json last. Refuses to
 * replace an existing model.json or shard unless `overwrite`.
 */
export async function saveLayersModel(dir: string, loaded: LoadedLayersModel, options: SaveLayersModelOptions = {}): Promise<SaveLayersModelResult> {
  const out = resolve(dir);
  const saved = await layersModelArtifacts(loaded, options);
  const names = [...saved.shards.map((s) => s.path), 'model.json'];
  if (!options.overwrite) {
    const existing: string[] = [];
    for (const n of names) {
      try {
        await access(join(out, n));
        existing.push(n);
      } catch {
        // absent: fine
      }
    }
    if (existing.length)
      throw new Error(`saveLayersModel: ${out} already holds ${existing.join(', ')}; pass { overwrite: true } to replace ${existing.length > 1 ? 'them' : 'it'}`);
  }
  const files: string[] = [];
  for (const s of saved.shards) {
    await writeFileAtomic(join(out, s.path), s.data);
    files.push(join(out, s.path));
  }
  await writeFileAtomic(join(out, 'model.json'), JSON.stringify(saved.modelJson));
  files.push(join(out, 'model.json'));
  return { files, report: saved.report };
}
