/**
 * Node-only (`@forgetless/pruning/node`): LayersModels from and to disk with no tfjs-node, the
 * pruning report with gzip sizes (node:zlib), and the sparse export as files.
 *
 *   loadLayersModel('model/model.json')        → LoadedLayersModel (the files are only read)
 *   saveLayersModel('pruned/', loaded, { masks }) → model.json + shards (stock tf.loadLayersModel
 *                                                 loads them), masks.json/.bin, pruning-report.json,
 *                                                 and model.sparse.json/.bin when that pays
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type * as tf from '@tensorflow/tfjs-core';
import { type LoadedLayersModel, type ParamMap, type SaveOptions, type SavedWeightReport, layersModelArtifacts, parseModelJson, toModelArtifacts } from '@forgetless/core';
import { saveParamMap, writeFileAtomic } from '@forgetless/core/node';
import { type SizeReport, type SparsityReport, sizeReport, sparsityReport } from './report.js';
import { layersModelFromSparse, sparseLayersModel } from './sparse.js';

export { fileShardReader, layersModelFiles, loadLayersModel } from '@forgetless/core/node';

export interface SaveLayersModelOptions extends SaveOptions {
  /** The pruning masks, saved as masks.json + masks.bin (core parameter names) and used by the report. */
  masks?: ParamMap;
  /** Write the sparse export: `'auto'` (default) when it is smaller than the gzipped shards, or always / never. */
  sparse?: boolean | 'auto';
  /** gzip level for the size report (default 9, as `gzip -9`). */
  gzipLevel?: number;
  /** Zeros each parameter held before pruning (`PruneModelResult.report`), so the report counts newly removed ones apart. */
  zerosBefore?: Record<string, number>;
}

export interface SaveLayersModelResult {
  /** Files written, absolute paths. */
  files: string[];
  sparsity: SparsityReport;
  sizes: SizeReport;
  sparseWritten: boolean;
  /** Per manifest weight: the dtype it was written back in, and whether its bytes were kept, requantized or written as float32. */
  weights: SavedWeightReport[];
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
  const sparsity = await sparsityReport(weights, { ...(options.masks ? { masks: options.masks } : {}), ...(options.zerosBefore ? { zerosBefore: options.zerosBefore } : {}) });
  if (options.masks) {
    const kerasNames = Object.fromEntries(Object.keys(options.masks).map((n) => [n, loaded.kerasName(n) ?? n]));
    files.push(resolve(await saveParamMap(join(out, 'masks'), options.masks, { kind: 'forgetless-pruning-masks', kerasNames })), join(out, 'masks.bin'));
  }
  const report = {
    source: loaded.source,
    sparsity: { ...sparsity, params: sparsity.params.map((p) => ({ ...p, keras: loaded.kerasName(p.name) })) },
    sizes: { ...sizes, gzipLevel: level },
    sparseExport: sparseWritten ? 'model.sparse.json' : null,
    weights: saved.report,
  };
  await write('pruning-report.json', `${JSON.stringify(report, null, 1)}\n`);
  return { files, sparsity, sizes, sparseWritten, weights: saved.report };
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
