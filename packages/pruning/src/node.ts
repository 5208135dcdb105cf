/**
 * Node-only (`@forgetless/pruning/node`): LayersModels from and to disk with no tfjs-node, the
 * pruning report with gzip sizes (node:zlib), and the sparse export as files.
 *
 *   loadLayersModel('model/model.json')        → LoadedLayersModel (the files are only read)
 *   saveLayersModel('pruned/', loaded, { masks }) → model.json + shards (stock tf.loadLayersModel
 *                                                 loads them), masks.json/.bin, pruning-report.json,
 *                                                 and model.sparse.json/.bin when that pays
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type * as tf from '@tensorflow/tfjs-core';
import type { ParamMap } from '@forgetless/core';
import { saveParamMap, writeFileAtomic } from '@forgetless/core/node';
import { type LoadedLayersModel, type ShardReader, loadLayersModelFromJson, parseModelJson } from './layers-model/load.js';
import { checkShardPath } from './layers-model/paths.js';
import { type SaveOptions, layersModelArtifacts, toModelArtifacts } from './layers-model/save.js';
import { type SizeReport, type SparsityReport, sizeReport, sparsityReport } from './report.js';
import { layersModelFromSparse, sparseLayersModel } from './sparse.js';

async function manifestPath(path: string): Promise<string> {
  const abs = resolve(path);
  let s;
  try {
    s = await stat(abs);
  } catch (e) {
    throw new Error(`${abs}: cannot read the model (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return s.isDirectory() ? join(abs, 'model.json') : abs;
}

/** Reads shards beside `source`, refusing any path (symlinks included) that leaves its folder. */
export function fileShardReader(source: string): ShardReader {
  const dir = dirname(source);
  return async (p) => {
    checkShardPath(p, source);
    const file = resolve(dir, p);
    const inside = (base: string, f: string) => {
      const r = relative(base, f);
      return r !== '' && !r.startsWith('..') && !isAbsolute(r);
    };
    if (!inside(dir, file)) throw new Error(`${source}: weight-shard path '${p}' leaves the model's folder`);
    let real: string;
    try {
      real = await realpath(file);
    } catch (e) {
      throw new Error(`${source}: weight shard '${p}' cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}: ${file})`);
    }
    if (!inside(await realpath(dir), real)) throw new Error(`${source}: weight shard '${p}' is a link to ${real}, outside the model's folder`);
    return new Uint8Array(await readFile(real));
  };
}

/** Loads a LayersModel from a model.json path (or its folder). */
export async function loadLayersModel(path: string): Promise<LoadedLayersModel> {
  const { source, json } = await readModelJson(path);
  return loadLayersModelFromJson(json, fileShardReader(source), source);
}

/** Resolves and parses a model.json; errors name the file. */
async function readModelJson(path: string): Promise<{ source: string; json: ReturnType<typeof parseModelJson> }> {
  const source = await manifestPath(path);
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (e) {
    throw new Error(`${source}: cannot read the model.json (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return { source, json: parseModelJson(text, source) };
}

/** A tfjs IOHandler over model.json files, with the same path checks: `tf.loadLayersModel(layersModelFiles(path))`. */
export function layersModelFiles(path: string): tf.io.IOHandler {
  return {
    load: async () => {
      const { source, json } = await readModelJson(path);
      const groups = Array.isArray(json.weightsManifest) ? (json.weightsManifest as { paths: unknown[]; weights: tf.io.WeightsManifestEntry[] }[]) : [];
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
  /** The pruning masks, saved as masks.json + masks.bin (core parameter names) and used by the report. */
  masks?: ParamMap;
  /** Write the sparse export: `'auto'` (default) when it is smaller than the gzipped shards, or always / never. */
  sparse?: boolean | 'auto';
  /** gzip level for the size report (default 9, as `gzip -9`). */
  gzipLevel?: number;
}

export interface SaveLayersModelResult {
  /** Files written, absolute paths. */
  files: string[];
  sparsity: SparsityReport;
  sizes: SizeReport;
  sparseWritten: boolean;
}

/**
 * Writes the loaded model with its core model's current (pruned) weights to `dir`: model.json and
 * shards, the masks, pruning-report.json (per-layer sparsity, raw and gzip sizes), and the sparse
 * export when it pays. Refuses to write into the input model's folder, so the input is never touched.
 */
export async function saveLayersModel(dir: string, loaded: LoadedLayersModel, options: SaveLayersModelOptions = {}): Promise<SaveLayersModelResult> {
  const out = resolve(dir);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(loaded.source) && resolve(dirname(loaded.source)) === out) {
    throw new Error(`saveLayersModel: ${out} holds the input model (${loaded.source}); choose another folder so the input stays unmodified`);
  }
  const saved = await layersModelArtifacts(loaded, options);
  const files: string[] = [];
  const write = async (name: string, data: string | Uint8Array) => {
    const f = join(out, name);
    await writeFileAtomic(f, data);
    files.push(f);
  };
  for (const s of saved.shards) await write(s.path, s.data);
  await write('model.json', JSON.stringify(saved.modelJson));
  const level = options.gzipLevel ?? 9;
  const gz = (b: Uint8Array) => gzipSync(b, { level }).byteLength;
  const sparse = sparseLayersModel(saved);
  const sizes = await sizeReport(saved.weightData, sparse.data, gz);
  const wantSparse = options.sparse ?? 'auto';
  const sparseWritten = wantSparse === true || (wantSparse === 'auto' && sizes.sparsePays);
  if (sparseWritten) {
    await write('model.sparse.bin', sparse.data);
    await write('model.sparse.json', JSON.stringify(sparse.json));
  }
  const weights = { ...loaded.model.params };
  const sparsity = await sparsityReport(weights, options.masks ? { masks: options.masks } : {});
  if (options.masks) {
    const kerasNames = Object.fromEntries(Object.keys(options.masks).map((n) => [n, loaded.kerasName(n) ?? n]));
    files.push(resolve(await saveParamMap(join(out, 'masks'), options.masks, { kind: 'forgetless-pruning-masks', kerasNames })), join(out, 'masks.bin'));
  }
  const report = {
    source: loaded.source,
    sparsity: { ...sparsity, params: sparsity.params.map((p) => ({ ...p, keras: loaded.kerasName(p.name) })) },
    sizes: { ...sizes, gzipLevel: level },
    sparseExport: sparseWritten ? 'model.sparse.json' : null,
  };
  await write('pruning-report.json', `${JSON.stringify(report, null, 1)}\n`);
  return { files, sparsity, sizes, sparseWritten };
}

/** Reads a sparse export (`model.sparse.json` + `model.sparse.bin`) back into dense `tf.io.ModelArtifacts`. */
export async function loadSparseLayersModel(path: string): Promise<tf.io.ModelArtifacts> {
  const source = resolve(path.endsWith('.json') ? path : join(path, 'model.sparse.json'));
  let text: string;
  try {
    text = await readFile(source, 'utf8');
  } catch (e) {
    throw new Error(`${source}: cannot read the sparse model (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const json = parseModelJson(text, source);
  const bin = source.replace(/\.json$/, '.bin');
  let data: Uint8Array;
  try {
    data = new Uint8Array(await readFile(bin));
  } catch (e) {
    throw new Error(`${source}: cannot read its data file ${bin} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return layersModelFromSparse(json, data, source);
}

export { toModelArtifacts };
