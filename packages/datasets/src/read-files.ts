/**
 * Reading MNIST-format data from disk (Node): one IDX file, a folder of four, or a base URL with a
 * cache folder. Folders may hold gzip or raw files, under the usual names, with an optional prefix
 * (EMNIST: `emnist-letters-train-images-idx3-ubyte.gz`), or with a dot (`train-images.idx3-ubyte`).
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { directoryCache } from './directory-cache.js';
import { type Checksums, type FetchMnistFormatOptions, fetchMnistFormat } from './fetch-cache.js';
import { isGzip } from './gzip.js';
import { IdxAssembler, type IdxArray, type ParseIdxOptions, idxFileMaxBytes, idxMaxBytes, parseIdx } from './idx.js';
import { MNIST_FILE_ROLES, MNIST_FORMAT_FILES, type MnistFileRole, type MnistFormatDataset, type MnistFormatOptions, mnistFormatFromBytes } from './mnist-format.js';

/** SHA-256 (lowercase hex) with node:crypto. */
export function sha256HexNode(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The bytes of an IDX file, refused without reading it when it is longer than any IDX file whose data
 * is within the cap can be (`maxBytes`, default 1 GiB). Errors name the path.
 */
async function readIdxBytes(path: string, maxBytes: number): Promise<Uint8Array> {
  const cannotRead = (e: unknown) => new Error(`${path}: cannot read (${(e as Error).message})`);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw cannotRead(e);
  }
  if (size > idxFileMaxBytes(maxBytes))
    throw new Error(`${path}: ${size} bytes, more than any IDX file under the cap of ${maxBytes} bytes can take; not read (pass maxBytes to allow more)`);
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw cannotRead(e);
  }
}

/**
 * Inflates gzip IDX bytes with node:zlib (native, and a stream: the header is read from the first
 * inflated bytes and checked against the cap before the rest is inflated, and inflating stops as soon
 * as the data runs past the size it declares). zlib checks the gzip trailer. Raw bytes are returned
 * as they are. Errors name the file.
 */
export async function inflateIdx(bytes: Uint8Array, file: string, options: Omit<ParseIdxOptions, 'file'> = {}): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  const assembler = new IdxAssembler(file, options);
  let refused: { error: unknown } | undefined;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      try {
        assembler.push(chunk);
        done();
      } catch (e) {
        refused = { error: e };
        done(e as Error);
      }
    },
  });
  try {
    await pipeline(Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]), createGunzip({ chunkSize: 64 * 1024 }), sink);
  } catch (e) {
    if (refused) throw refused.error;
    throw new Error(`${file}: corrupt or truncated gzip data (${(e as Error).message})`);
  }
  return assembler.finish();
}

/**
 * Reads and parses one IDX file (raw or gzip); errors name the path. A header declaring more than
 * `maxBytes` of data (default 1 GiB) is refused before the file is inflated.
 */
export async function readIdxFile(path: string, options: Omit<ParseIdxOptions, 'file'> = {}): Promise<IdxArray> {
  const bytes = await readIdxBytes(path, idxMaxBytes(options));
  return parseIdx(await inflateIdx(bytes, path, options), { ...options, file: path });
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
  const cap = idxMaxBytes(options);
  const bytes = {} as Record<MnistFileRole, Uint8Array>;
  await Promise.all(
    MNIST_FILE_ROLES.map(async (role) => {
      const path = found.files[role];
      bytes[role] = await readIdxBytes(path, cap);
      const expected = options.checksums?.[basename(path)];
      if (expected !== undefined) {
        const actual = sha256HexNode(bytes[role]);
        if (actual !== expected.toLowerCase()) throw new Error(`${path}: SHA-256 mismatch: expected ${expected}, got ${actual}`);
      }
      const shape = role.endsWith('Images') ? { ndims: 3, type: 'uint8' as const } : { ndims: 1, type: 'uint8' as const };
      bytes[role] = await inflateIdx(bytes[role], path, { ...shape, ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}) });
    }),
  );
  return mnistFormatFromBytes(bytes, {
    name: options.name ?? basename(options.dir),
    source: options.dir,
    fileNames: found.files,
    ...(options.numClasses !== undefined ? { numClasses: options.numClasses } : {}),
    ...(options.transpose !== undefined ? { transpose: options.transpose } : {}),
    ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
  });
}
