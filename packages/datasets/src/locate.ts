/**
 * Where data is found when the user names none (Node):
 * 1. the folder in the environment variable FORGETLESS_DATA: itself when it is an MNIST-format folder,
 *    else its subfolder `fashion-mnist`;
 * 2. Debian's dataset-fashion-mnist (`/usr/share/datasets/fashion-mnist`);
 * 3. the download cache (`~/.cache/forgetless/fashion-mnist`), if `loadDataset(..., { download })` filled it;
 * 4. the embedded subset shipped in this package.
 * A named dataset ('mnist', 'kmnist', ...) is looked up as `$FORGETLESS_DATA/<name>` (or
 * `$FORGETLESS_DATA` itself when that folder is called `<name>`), then
 * `/usr/share/datasets/<name>`, then the download cache; only 'fashion-mnist' falls back to the embedded subset.
 * A name containing a path separator, or starting with '.', is a folder.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { embeddedDataDir } from './embedded-node.js';
import { findMnistFormatFiles } from './read-files.js';

export const DATA_ENV = 'FORGETLESS_DATA';
export const SYSTEM_DATA_ROOTS: readonly string[] = ['/usr/share/datasets'];
export const DEFAULT_DATASET = 'fashion-mnist';

export type DataOrigin = 'path' | 'env' | 'system' | 'cache' | 'embedded';

export interface DataLocation {
  name: string;
  dir: string;
  origin: DataOrigin;
}

export interface LocateOptions {
  /** Environment to read FORGETLESS_DATA from (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** System data roots (default ['/usr/share/datasets'], Debian's). */
  systemRoots?: readonly string[];
  /** Root of the download cache (default `$XDG_CACHE_HOME/forgetless` or `~/.cache/forgetless`). */
  cacheRoot?: string;
  /** Fall back to the embedded subset for fashion-mnist (default true). */
  embedded?: boolean;
}

/** The download cache root: `options.cacheRoot`, else `$XDG_CACHE_HOME/forgetless`, else `~/.cache/forgetless`. */
export function cacheRoot(options: LocateOptions = {}): string {
  if (options.cacheRoot) return options.cacheRoot;
  const xdg = (options.env ?? process.env).XDG_CACHE_HOME;
  return join(xdg || join(homedir(), '.cache'), 'forgetless');
}

/** True when `name` names a folder rather than a dataset. */
export function isFolderName(name: string): boolean {
  return isAbsolute(name) || name.includes('/') || name.includes('\\') || name.startsWith('.');
}

/** The first place holding the dataset, or undefined (see the module comment for the order). */
export async function locateDataset(name?: string, options: LocateOptions = {}): Promise<DataLocation | undefined> {
  const wanted = name ?? DEFAULT_DATASET;
  const isFolder = async (dir: string) => !('missing' in (await findMnistFormatFiles(dir)));
  if (name !== undefined && isFolderName(name)) {
    return (await isFolder(name)) ? { name: lastSegment(name), dir: name, origin: 'path' } : undefined;
  }
  const root = (options.env ?? process.env)[DATA_ENV];
  if (root) {
    // the variable may name the data folder itself: for the default data, or for a dataset of its name
    const itself = name === undefined || lastSegment(root) === wanted;
    if (itself && (await isFolder(root))) return { name: lastSegment(root), dir: root, origin: 'env' };
    if (await isFolder(join(root, wanted))) return { name: wanted, dir: join(root, wanted), origin: 'env' };
  }
  for (const sys of options.systemRoots ?? SYSTEM_DATA_ROOTS) {
    if (await isFolder(join(sys, wanted))) return { name: wanted, dir: join(sys, wanted), origin: 'system' };
  }
  const cached = join(cacheRoot(options), wanted);
  if (await isFolder(cached)) return { name: wanted, dir: cached, origin: 'cache' };
  if (wanted === DEFAULT_DATASET && (options.embedded ?? true)) return { name: wanted, dir: embeddedDataDir(), origin: 'embedded' };
  return undefined;
}

/** Every place `locateDataset` looks for `name`, in order (for error messages). */
export function searchedPlaces(name?: string, options: LocateOptions = {}): string[] {
  const wanted = name ?? DEFAULT_DATASET;
  if (name !== undefined && isFolderName(name)) return [name];
  const root = (options.env ?? process.env)[DATA_ENV];
  const places: string[] = [];
  if (root) places.push(...(name === undefined || lastSegment(root) === wanted ? [root] : []), join(root, wanted));
  else places.push(`$${DATA_ENV}/${wanted} ($${DATA_ENV} is not set)`);
  for (const sys of options.systemRoots ?? SYSTEM_DATA_ROOTS) places.push(join(sys, wanted));
  places.push(join(cacheRoot(options), wanted));
  if (wanted === DEFAULT_DATASET && (options.embedded ?? true)) places.push('the embedded subset');
  return places;
}

function lastSegment(dir: string): string {
  const parts = dir.split(/[\\/]+/).filter(Boolean);
  return parts[parts.length - 1] ?? dir;
}
