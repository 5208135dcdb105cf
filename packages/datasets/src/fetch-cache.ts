/**
 * Downloading MNIST-format files from a base URL with `fetch`, checking each file's SHA-256 and
 * keeping verified files in a cache. Nothing unverified is ever cached, and a cached file is
 * verified again before it is used (a stale or damaged copy is downloaded afresh).
 * Works in browsers and in Node; `@forgetless/datasets/node` adds a folder cache.
 */
import { MNIST_FILE_ROLES, type MnistFileRole, type MnistFormatDataset, type MnistFormatOptions, mnistFormatFromBytes, mnistFormatFileNames } from './mnist-format.js';
import { sha256Hex } from './sha256.js';

/** Where verified downloads are kept, keyed by file name. */
export interface ByteCache {
  get(file: string): Promise<Uint8Array | undefined>;
  put(file: string, bytes: Uint8Array): Promise<void>;
  delete(file: string): Promise<void>;
}

/** A cache in memory (a Map), e.g. for a browser session. */
export function memoryCache(): ByteCache & { readonly files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    get: async (file) => files.get(file),
    put: async (file, bytes) => void files.set(file, bytes),
    delete: async (file) => void files.delete(file),
  };
}

/** SHA-256 (lowercase hex) of each file, keyed by file name. */
export type Checksums = Readonly<Record<string, string>>;

export interface FetchOptions {
  /** Expected SHA-256 per file name; `false` skips verification (not recommended). */
  checksums: Checksums | false;
  cache?: ByteCache;
  /** Default `globalThis.fetch`. */
  fetch?: (url: string) => Promise<Response>;
  /** Default `sha256Hex` (Web Crypto); the Node entry passes node:crypto. */
  sha256?: (bytes: Uint8Array) => string | Promise<string>;
}

/**
 * The bytes of `file` under `baseUrl`: from the cache when its digest matches, otherwise downloaded,
 * verified and cached. A digest mismatch is an error naming the file, the expected and the actual
 * digest, and the bad bytes are not cached.
 */
export async function fetchVerified(baseUrl: string | URL, file: string, options: FetchOptions): Promise<Uint8Array> {
  const { cache, checksums } = options;
  const hash = options.sha256 ?? sha256Hex;
  const expected = checksums === false ? undefined : checksums[file]?.toLowerCase();
  if (checksums !== false && expected === undefined) throw new Error(`${file}: no SHA-256 checksum given (pass checksums['${file}'], or checksums: false)`);
  const cached = cache ? await cache.get(file) : undefined;
  if (cached) {
    if (expected === undefined || (await hash(cached)) === expected) return cached;
    await cache?.delete(file);
  }
  const url = resolveUrl(file, baseUrl);
  const doFetch = options.fetch ?? ((u: string) => globalThis.fetch(u));
  let response: Response;
  try {
    response = await doFetch(url);
  } catch (e) {
    throw new Error(`${file}: download from ${url} failed (${(e as Error).message})`);
  }
  if (!response.ok) throw new Error(`${file}: download from ${url} failed: HTTP ${response.status} ${response.statusText}`.trimEnd());
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (expected !== undefined) {
    const actual = await hash(bytes);
    if (actual !== expected) throw new Error(`${file}: SHA-256 mismatch: expected ${expected}, got ${actual} (${bytes.length} bytes from ${url})`);
  }
  await cache?.put(file, bytes);
  return bytes;
}

export interface FetchMnistFormatOptions extends FetchOptions, Omit<MnistFormatOptions, 'fileNames' | 'source'> {
  /** The folder URL holding the four files (a trailing slash is added if missing). */
  baseUrl: string | URL;
  /** File-name prefix, e.g. 'emnist-digits-' (default none). */
  prefix?: string;
}

/** Downloads (or takes from the cache) the four files of an MNIST-format dataset and parses them. */
export async function fetchMnistFormat(options: FetchMnistFormatOptions): Promise<MnistFormatDataset> {
  const names = mnistFormatFileNames(options.prefix !== undefined ? { prefix: options.prefix } : {});
  if (options.checksums !== false) {
    for (const role of MNIST_FILE_ROLES) {
      if (options.checksums[names[role]] === undefined) {
        throw new Error(`${names[role]}: no SHA-256 checksum given (pass checksums['${names[role]}'], or checksums: false)`);
      }
    }
  }
  // allSettled: on a failure, the other downloads still finish (and cache) before the error is thrown
  const settled = await Promise.allSettled(MNIST_FILE_ROLES.map((role) => fetchVerified(options.baseUrl, names[role], options)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const bytes = settled.map((s) => (s as PromiseFulfilledResult<Uint8Array>).value);
  const files = Object.fromEntries(MNIST_FILE_ROLES.map((role, i) => [role, bytes[i]])) as Record<MnistFileRole, Uint8Array>;
  return mnistFormatFromBytes(files, {
    fileNames: names,
    source: String(options.baseUrl),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.numClasses !== undefined ? { numClasses: options.numClasses } : {}),
    ...(options.transpose !== undefined ? { transpose: options.transpose } : {}),
  });
}

/** `file` under the folder URL `base`; a relative base (browser) resolves against the page. */
function resolveUrl(file: string, base: string | URL): string {
  let folder = String(base);
  if (!folder.endsWith('/')) folder += '/';
  const page = (globalThis as { location?: { href: string } }).location?.href;
  return new URL(file, page ? new URL(folder, page) : folder).href;
}
