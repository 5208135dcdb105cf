/**
 * The data of `forgetless finetune`: old and new data from folders, each one of
 *
 *   <dir>/<class>/<image>            image folders (PNG, JPEG, WebP), split into train/test by a seeded,
 *                                    stratified --test-fraction
 *   <dir>/train/<class>/..., <dir>/test/<class>/...   already split
 *   <dir>/x.npy + <dir>/y.npy [+ classes.txt]         arrays [N, H, W, C] uint8 or float, labels [N],
 *                                    split like image folders
 *
 * decoded at the model's input size with sharp (`@forgetless/datasets/node`), with the model's
 * preprocessing. Bad images are reported by name and skipped, or refused with --bad-images refuse.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ArraySource } from '@forgetless/core';
import { type ImagePreprocessing, type ImageSet, imageSetSource, parsePreprocessing, splitIndices } from '@forgetless/datasets';
import { loadImageArrays, loadImageFolder } from '@forgetless/datasets/node';
import { UserError } from './errors.js';

export interface PartOptions {
  /** The model's per-example input [h, w, c]. */
  inputShape: readonly number[];
  fit: 'stretch' | 'center-crop';
  badImages: 'skip' | 'refuse';
  testFraction: number;
  seed: number;
  /** Most images read per class (default all). */
  perClassLimit?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface LoadedPart {
  flag: string;
  dir: string;
  train: ImageSet;
  test: ImageSet;
  /** Positions of `train` / `test` examples used (a split of one set, or all). */
  trainIndices?: Int32Array;
  testIndices?: Int32Array;
  classNames: string[];
  skipped: { file: string; reason: string }[];
  description: string;
}

const isDir = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
const isFile = async (p: string) => (await stat(p).catch(() => undefined))?.isFile() ?? false;

/** Reads a labels file: one class name per line, or a JSON array of names. */
export async function readClassNames(path: string, flag = '--classes'): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UserError(`${flag}: cannot read ${path} (${(e as Error).message})`);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    const parsed: unknown = JSON.parse(trimmed);
    if (!Array.isArray(parsed) || parsed.some((n) => typeof n !== 'string')) throw new UserError(`${flag}: ${path} is a JSON value but not an array of class names`);
    return parsed as string[];
  }
  return trimmed
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/**
 * The model's output names when its folder says them: `metadata.json` with a `labels` array (as
 * Teachable Machine exports), else `labels.txt` or `classes.txt` (one per line).
 */
export async function modelLabels(modelJson: string): Promise<string[] | undefined> {
  const dir = (await isDir(modelJson)) ? modelJson : dirname(modelJson);
  const meta = join(dir, 'metadata.json');
  if (await isFile(meta)) {
    try {
      const labels = (JSON.parse(await readFile(meta, 'utf8')) as { labels?: unknown }).labels;
      if (Array.isArray(labels) && labels.every((l) => typeof l === 'string')) return labels as string[];
    } catch (e) {
      throw new UserError(`--model: ${meta} is not readable JSON (${(e as Error).message})`);
    }
  }
  for (const name of ['labels.txt', 'classes.txt']) if (await isFile(join(dir, name))) return readClassNames(join(dir, name), '--model');
  return undefined;
}

/** Loads one part (old or new data) from `dir`. */
export async function loadPart(flag: string, path: string, options: PartOptions): Promise<LoadedPart> {
  const dir = resolve(path);
  if (!(await isDir(dir))) throw new UserError(`${flag}: ${dir} is not a folder (expected class folders of images, train/ and test/, or x.npy + y.npy)`);
  const [h, w, c] = options.inputShape as [number, number, number];
  if (options.inputShape.length !== 3 || !(c === 1 || c === 3) || !(h > 0 && w > 0)) {
    throw new UserError(`--model: its input is [${options.inputShape.join(', ')}] per example; image data needs [height, width, 1 or 3] (channels last)`);
  }
  const folderOptions = {
    size: [h, w] as [number, number],
    channels: c as 1 | 3,
    fit: options.fit,
    onBadImage: options.badImages,
    ...(options.perClassLimit !== undefined ? { perClassLimit: options.perClassLimit } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
  const wrap = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw new UserError(`${flag}: ${what}: ${(e as Error).message}`);
    }
  };
  if ((await isFile(join(dir, 'x.npy'))) && (await isFile(join(dir, 'y.npy')))) {
    const names = (await isFile(join(dir, 'classes.txt'))) ? await readClassNames(join(dir, 'classes.txt'), flag) : undefined;
    const set = await wrap('x.npy/y.npy', () => loadImageArrays(join(dir, 'x.npy'), join(dir, 'y.npy'), names));
    const shape = set.exampleShape;
    if (shape[0] !== h || shape[1] !== w || shape[2] !== c) {
      throw new UserError(`${flag}: ${join(dir, 'x.npy')} holds examples of [${shape.join(', ')}], the model takes [${h}, ${w}, ${c}]`);
    }
    return split(flag, dir, set, options, `${set.y.length} examples from ${dir}/x.npy`);
  }
  if ((await isDir(join(dir, 'train'))) && (await isDir(join(dir, 'test')))) {
    const train = await wrap('train', () => loadImageFolder(join(dir, 'train'), folderOptions));
    const test = await wrap('test', () => loadImageFolder(join(dir, 'test'), { ...folderOptions, classNames: train.classNames }));
    return {
      flag,
      dir,
      train,
      test,
      classNames: train.classNames,
      skipped: [...train.skipped, ...test.skipped],
      description: `${dir} (${train.y.length} train, ${test.y.length} test images, ${train.classNames.length} classes)`,
    };
  }
  const entries = await readdir(dir);
  if (entries.length === 0) throw new UserError(`${flag}: ${dir} is empty`);
  const set = await wrap('images', () => loadImageFolder(dir, folderOptions));
  return split(flag, dir, set, options, `${dir} (${set.y.length} images, ${set.classNames.length} classes)`);
}

function split(flag: string, dir: string, set: ImageSet, options: PartOptions, description: string): LoadedPart {
  let parts: { train: Int32Array; test: Int32Array };
  try {
    parts = splitIndices(set.y, { test: options.testFraction, seed: options.seed });
  } catch (e) {
    throw new UserError(`${flag}: ${(e as Error).message}`);
  }
  if (parts.train.length === 0 || parts.test.length === 0) {
    throw new UserError(
      `${flag}: ${set.y.length} examples leave ${parts.train.length} for training and ${parts.test.length} for testing at --test-fraction ${options.testFraction}`,
    );
  }
  return {
    flag,
    dir,
    train: set,
    test: set,
    trainIndices: parts.train,
    testIndices: parts.test,
    classNames: set.classNames,
    skipped: set.skipped,
    description: `${description}, split ${parts.train.length} train / ${parts.test.length} test (seed ${options.seed})`,
  };
}

/** The part's train and test sources over the model's classes (`map`: folder class → model output). */
export function partSources(part: LoadedPart, preprocessing: ImagePreprocessing, numClasses: number, map: Int32Array): { train: ArraySource; test: ArraySource } {
  const make = (set: ImageSet, indices?: Int32Array) => imageSetSource(set, { preprocessing, numClasses, ...(indices ? { indices } : {}) }).with({ labelMap: map });
  return { train: make(part.train, part.trainIndices), test: make(part.test, part.testIndices) };
}

export { parsePreprocessing };
