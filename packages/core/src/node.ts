/**
 * Node-only helpers (`@forgetless/core/node`): parameter maps on disk, written atomically.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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
