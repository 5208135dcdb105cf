/**
 * Reading MNIST-format data from disk (Node): one IDX file, a folder of four, or a base URL with a
 * cache folder. Folders may hold gzip or raw files, under the usual names, with an optional prefix
 * (EMNIST: `emnist-letters-train-images-idx3-ubyte.gz`), or with a dot (`train-images.idx3-ubyte`).
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { directoryCache } from './directory-cache.js';
import { type Checksums, type FetchMnistFormatOptions, fetchMnistFormat } from './fetch-cache.js';
import { type IdxArray, type ParseIdxOptions, parseIdx } from './idx.js';
import { MNIST_FILE_ROLES, MNIST_FORMAT_FILES, type MnistFileRole, type MnistFormatDataset, type MnistFormatOptions, mnistFormatFromBytes } from './mnist-format.js';

/** SHA-256 (lowercase hex) with node:crypto. */
export function sha256HexNode(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads and parses one IDX file (raw or gzip); errors name the path. */
export async function readIdxFile(path: string, options: Omit<ParseIdxOptions, 'file'> = {}): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  return parseIdx(bytes, { ...options, file: path });
}

/**
 * The paths of the four files of an MNIST-format folder, or the list of what is missing.
 * With several prefixed sets in one folder (EMNIST), `prefix` chooses one.
 */
export async function findMnistFormatFiles(dir: string, prefix?: string): Promise<{ files: Record<MnistFileRole, string> } | { missing: string[] }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return { missing: [`the folder ${dir}`] };
  }
  const present = new Set(names);
  let chosen = prefix;
  if (chosen === undefined) {
    const prefixes = new Set<string>();
    for (const n of names) {
      const m = /^(.*?)train[-.]images[-.]idx3[-.]ubyte(\.gz)?$/.exec(n);
      if (m) prefixes.add(m[1] as string);
    }
    if (prefixes.size > 1) {
      throw new Error(`${dir} holds several MNIST-format sets (prefixes ${[...prefixes].map((p) => `'${p}'`).join(', ')}); pass a prefix`);
    }
    chosen = [...prefixes][0] ?? '';
  }
  const files = {} as Record<MnistFileRole, string>;
  const missing: string[] = [];
  for (const role of MNIST_FILE_ROLES) {
    const gz = MNIST_FORMAT_FILES[role];
    const raw = gz.slice(0, -3);
    const dotted = raw.replace(/-(idx\d)-/, '.$1-');
    const found = [gz, raw, dotted, `${dotted}.gz`].map((n) => chosen + n).find((n) => present.has(n));
    if (found) files[role] = join(dir, found);
    else missing.push(chosen + gz);
  }
  return missing.length ? { missing } : { files };
}

export interface LoadFolderOptions extends Omit<MnistFormatOptions, 'fileNames' | 'source'> {
  dir: string;
  /** File-name prefix (EMNIST); found automatically when the folder holds one set. */
  prefix?: string;
  /** Expected SHA-256 per file name, checked when given. */
  checksums?: Checksums;
}

export interface LoadRemoteOptions extends Omit<FetchMnistFormatOptions, 'cache'> {
  /** Folder where verified downloads are kept and reused (one folder per dataset). */
  cacheDir: string;
}

/**
 * Loads an MNIST-format dataset from a folder (`loadMnistFormat(dir)` or `{ dir, ... }`), or from a base
 * URL with a cache folder and SHA-256 checks (`{ baseUrl, cacheDir, checksums }`). The dataset's name
 * defaults to the folder's name.
 */
export async function loadMnistFormat(source: string | LoadFolderOptions | LoadRemoteOptions): Promise<MnistFormatDataset> {
  if (typeof source !== 'string' && 'baseUrl' in source) {
    const { cacheDir, ...rest } = source;
    return fetchMnistFormat({ sha256: sha256HexNode, ...rest, cache: directoryCache(cacheDir) });
  }
  const options: LoadFolderOptions = typeof source === 'string' ? { dir: source } : source;
  const found = await findMnistFormatFiles(options.dir, options.prefix);
  if ('missing' in found) throw new Error(`${options.dir} is not an MNIST-format folder: missing ${found.missing.join(', ')}`);
  const bytes = {} as Record<MnistFileRole, Uint8Array>;
  await Promise.all(
    MNIST_FILE_ROLES.map(async (role) => {
      const path = found.files[role];
      try {
        bytes[role] = new Uint8Array(await readFile(path));
      } catch (e) {
        throw new Error(`${path}: cannot read (${(e as Error).message})`);
      }
      const expected = options.checksums?.[basename(path)];
      if (expected !== undefined) {
        const actual = sha256HexNode(bytes[role]);
        if (actual !== expected.toLowerCase()) throw new Error(`${path}: SHA-256 mismatch: expected ${expected}, got ${actual}`);
      }
    }),
  );
  return mnistFormatFromBytes(bytes, {
    name: options.name ?? basename(options.dir),
    source: options.dir,
    fileNames: found.files,
    ...(options.numClasses !== undefined ? { numClasses: options.numClasses } : {}),
    ...(options.transpose !== undefined ? { transpose: options.transpose } : {}),
  });
}
