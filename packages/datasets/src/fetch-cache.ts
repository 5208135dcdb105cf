/**
 * Downloading MNIST-format files from a base URL with `fetch`, checking each file's SHA-256 and
 * keeping verified files in a cache. Nothing unverified is ever cached, and a cached file is
 * verified again before it is used (a stale or damaged copy is downloaded afresh).
 * Works in browsers and in Node; `@forgetless/datasets/node` adds a folder cache.
 */
import { readResponseBody } from '@forgetless/core';
import { idxFileMaxBytes, idxMaxBytes } from './idx.js';
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
  /**
   * The most bytes a download may have (default: no limit): a longer Content-Length is refused before
   * the body is read, and reading stops as soon as the body runs past it.
   */
  maxDownloadBytes?: number;
}

/** A download limit and the reason given when it is passed. */
interface DownloadLimit {
  bytes: number;
  reason: string;
}

/**
 * The bytes of `file` under `baseUrl`: from the cache when its digest matches, otherwise downloaded,
 * verified and cached. A digest mismatch is an error naming the file, the expected and the actual
 * digest, and the bad bytes are not cached.
 */
export async function fetchVerified(baseUrl: string | URL, file: string, options: FetchOptions): Promise<Uint8Array> {
  const max = options.maxDownloadBytes;
  return fetchChecked(baseUrl, file, options, max === undefined ? undefined : { bytes: max, reason: `the limit of ${max} bytes (maxDownloadBytes)` });
}

async function fetchChecked(baseUrl: string | URL, file: string, options: FetchOptions, limit: DownloadLimit | undefined): Promise<Uint8Array> {
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
  const bytes = await readBody(response, file, url, limit);
  if (expected !== undefined) {
    const actual = await hash(bytes);
    if (actual !== expected) throw new Error(`${file}: SHA-256 mismatch: expected ${expected}, got ${actual} (${bytes.length} bytes from ${url})`);
  }
  await cache?.put(file, bytes);
  return bytes;
}

/** The body of `response`, refused by its Content-Length or as soon as it runs past `limit`. */
function readBody(response: Response, file: string, url: string, limit: DownloadLimit | undefined): Promise<Uint8Array> {
  return readResponseBody(response, limit?.bytes, {
    declared: (n) => new Error(`${file}: the download from ${url} has Content-Length ${n} bytes, more than ${limit?.reason}`),
    runsPast: (n) =>
      new Error(
        n !== undefined
          ? `${file}: the download from ${url} has ${n} bytes, more than ${limit?.reason}`
          : `${file}: the download from ${url} runs past ${limit?.bytes} bytes, more than ${limit?.reason}; stopped reading`,
      ),
    failed: (e) => new Error(`${file}: download from ${url} failed (${(e as Error).message})`),
  });
}

export interface FetchMnistFormatOptions extends FetchOptions, Omit<MnistFormatOptions, 'fileNames' | 'source'> {
  /** The folder URL holding the four files (a trailing slash is added if missing). */
  baseUrl: string | URL;
  /** File-name prefix, e.g. 'emnist-digits-' (default none). */
  prefix?: string;
}

/**
 * Downloads (or takes from the cache) the four files of an MNIST-format dataset and parses them.
 * A download longer than any IDX file within `maxBytes` can be is refused without reading it all
 * (unless `maxDownloadBytes` says otherwise), and an IDX header declaring more than `maxBytes` is
 * refused before the file is inflated.
 */
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
  const cap = idxMaxBytes(options);
  const limit: DownloadLimit =
    options.maxDownloadBytes !== undefined
      ? { bytes: options.maxDownloadBytes, reason: `the limit of ${options.maxDownloadBytes} bytes (maxDownloadBytes)` }
      : { bytes: idxFileMaxBytes(cap), reason: `any IDX file under the cap of ${cap} bytes can take (pass maxBytes to allow more)` };
  const settled = await Promise.allSettled(MNIST_FILE_ROLES.map((role) => fetchChecked(options.baseUrl, names[role], options, limit)));
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
    ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
  });
}

/** `file` under the folder URL `base`; a relative base (browser) resolves against the page. */
function resolveUrl(file: string, base: string | URL): string {
  let folder = String(base);
  if (!folder.endsWith('/')) folder += '/';
  const page = (globalThis as { location?: { href: string } }).location?.href;
  return new URL(file, page ? new URL(folder, page) : folder).href;
}
