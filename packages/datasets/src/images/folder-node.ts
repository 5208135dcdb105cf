/**
 * Reading an image folder in Node (dir/<class>/<image>) with sharp (libvips), an optional peer
 * dependency loaded when first needed; and .npy files.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ImageSet, arraysToImageSet } from './image-set.js';
import { DEFAULT_IMAGE_MAX_BYTES, type ImageFit, type ImagePlan, badImagesError, checkImageBytes, checkSize, isHidden, isImageFile, planFromClasses } from './layout.js';
import { DEFAULT_NPY_MAX_BYTES, type NpyArray, type ParseNpyOptions, parseNpy } from './npy.js';

/** sharp's resampling kernels. */
export type ResizeKernel = 'nearest' | 'linear' | 'cubic' | 'mitchell' | 'lanczos2' | 'lanczos3';

export interface LoadImageFolderOptions {
  /** The model's input [height, width]. */
  size: [number, number];
  /** 3 (sRGB, default) or 1 (grey). */
  channels?: 1 | 3;
  /** 'center-crop' (default): scale to cover, crop the centre; 'stretch': scale each axis to fit. */
  fit?: ImageFit;
  /** Resampling kernel; default 'lanczos3' (sharp's). 'nearest' copies pixels. */
  kernel?: ResizeKernel;
  /** A bad image is reported in `skipped` ('skip', default) or all bad images make one error ('refuse'). */
  onBadImage?: 'skip' | 'refuse';
  /** At most this many images in all, round-robin over the classes. */
  maxImages?: number;
  /** At most this many images per class (the first in sorted order). */
  perClassLimit?: number;
  /** The classes to read and their order (a subset of the folders); default every folder, sorted. */
  classNames?: string[];
  onProgress?: (done: number, total: number) => void;
  /** Images decoded at once; default 4. */
  concurrency?: number;
  /** Cap on the decoded pixels N·H·W·C in bytes, checked before allocating; default 2 GiB. */
  maxBytes?: number;
}

/** What `loadImageFolder` adds to an image set: the files it did not read. */
export interface ImageFolderSet extends ImageSet {
  x: Uint8Array;
  /** Files not read: other extensions, hidden files, files beside the class folders, classes not asked for. */
  ignored: string[];
}

interface SharpModule {
  // biome-ignore lint/suspicious/noExplicitAny: sharp's types are not part of this package's public API
  default: (input: Uint8Array, options?: Record<string, unknown>) => any;
}

let sharpModule: Promise<SharpModule['default']> | undefined;

/** sharp, imported on first use; an error saying how to install it when it is missing. */
async function loadSharp(): Promise<SharpModule['default']> {
  sharpModule ??= import('sharp' as string).then(
    (m: SharpModule) => m.default,
    (e: Error) => {
      sharpModule = undefined;
      throw new Error(`reading image folders needs sharp, an optional peer dependency: npm install sharp (${e.message})`);
    },
  );
  return sharpModule;
}

/**
 * Reads an image folder: `dir/<class>/<image>.{png,jpg,jpeg,webp}` (extensions case-insensitive;
 * other files and hidden ones are ignored and listed in `ignored`). Classes are the sub-folders,
 * sorted by `localeCompare` in English with numeric collation ('class2' before 'class10'), or
 * `classNames` in their order; each class's files sorted the same way. Each image is decoded by sharp:
 * oriented by its EXIF tag, composited onto black when it has alpha, converted to sRGB (grey for
 * `channels: 1`; 16-bit, CMYK and palette images are converted), resized (`fit`), 8 bits per channel.
 * `x` is N·H·W·C uint8, channels last, RGB.
 *
 * Refused up front: a missing folder or not a folder, no class folders, a class folder with no
 * images, more than `maxBytes` of pixels. A bad image (empty, corrupt, truncated, not an image, a
 * size sharp cannot decode) is listed in `skipped` with the reason and its path, or, with
 * `onBadImage: 'refuse'`, all of them make one error.
 */
export async function loadImageFolder(dir: string, options: LoadImageFolderOptions): Promise<ImageFolderSet> {
  const [h, w] = checkSize(options.size, dir);
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new Error(`${dir}: channels must be 1 or 3, got ${channels}`);
  const fit = options.fit ?? 'center-crop';
  if (fit !== 'stretch' && fit !== 'center-crop') throw new Error(`${dir}: fit must be 'stretch' or 'center-crop', got '${fit as string}'`);
  const plan = await planFolder(dir, options);
  const n = plan.files.length;
  checkImageBytes(n, h, w, channels, options.maxBytes ?? DEFAULT_IMAGE_MAX_BYTES, dir);
  const sharp = await loadSharp();
  const d = h * w * channels;
  const x = new Uint8Array(n * d);
  const reasons: (string | undefined)[] = new Array(n);
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      reasons[i] = await decodeInto(sharp, plan.files[i] as string, x, i * d, { h, w, channels, fit, kernel: options.kernel ?? 'lanczos3' });
      options.onProgress?.(++done, n);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const skipped: { file: string; reason: string }[] = [];
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    const reason = reasons[i];
    if (reason === undefined) keep.push(i);
    else skipped.push({ file: plan.files[i] as string, reason });
  }
  if (skipped.length && options.onBadImage === 'refuse') throw badImagesError(dir, skipped);
  // close the gaps the skipped images left (in place, no second copy)
  keep.forEach((i, k) => {
    if (i !== k) x.copyWithin(k * d, i * d, (i + 1) * d);
  });
  return {
    x: keep.length === n ? x : x.subarray(0, keep.length * d),
    y: Int32Array.from(keep, (i) => plan.labels[i] as number),
    exampleShape: [h, w, channels],
    classNames: plan.classNames,
    files: keep.map((i) => plan.files[i] as string),
    skipped,
    ignored: plan.ignored,
  };
}

/** The class folders and their image files (full paths), checked. */
async function planFolder(dir: string, options: LoadImageFolderOptions): Promise<ImagePlan> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch {
    throw new Error(`${dir}: no such folder (expected one sub-folder of images per class)`);
  }
  if (!info.isDirectory()) throw new Error(`${dir}: not a folder (expected one sub-folder of images per class)`);
  const byClass = new Map<string, string[]>();
  const ignored: string[] = [];
  // a symbolic link counts as what it points to
  const kind = async (path: string, e: { isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean }) => {
    if (!e.isSymbolicLink()) return e.isDirectory() ? 'dir' : e.isFile() ? 'file' : 'other';
    const s = await stat(path).catch(() => undefined);
    return s?.isDirectory() ? 'dir' : s?.isFile() ? 'file' : 'other';
  };
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (isHidden(entry.name)) continue;
    if ((await kind(path, entry)) !== 'dir') {
      ignored.push(path);
      continue;
    }
    const images: string[] = [];
    for (const f of await readdir(path, { withFileTypes: true })) {
      if (isHidden(f.name)) continue;
      const file = join(path, f.name);
      if (isImageFile(f.name) && (await kind(file, f)) === 'file') images.push(file);
      else ignored.push(file);
    }
    byClass.set(entry.name, images);
  }
  return planFromClasses(byClass, ignored, options, dir);
}

interface DecodeOptions {
  h: number;
  w: number;
  channels: 1 | 3;
  fit: ImageFit;
  kernel: ResizeKernel;
}

/** Decodes one file into x at offset; returns why it cannot be read, or undefined. */
async function decodeInto(sharp: SharpModule['default'], file: string, x: Uint8Array, offset: number, o: DecodeOptions): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    return `cannot read (${(e as Error).message})`;
  }
  if (bytes.length === 0) return 'empty file (0 bytes)';
  try {
    let img = sharp(bytes, { failOn: 'error' })
      .rotate()
      .flatten({ background: { r: 0, g: 0, b: 0 } });
    img = o.channels === 1 ? img.greyscale() : img.toColourspace('srgb');
    const { data, info } = await img
      .resize(o.w, o.h, { fit: o.fit === 'stretch' ? 'fill' : 'cover', position: 'centre', kernel: o.kernel })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== o.w || info.height !== o.h || info.channels !== o.channels || data.length !== o.w * o.h * o.channels) {
      return `decoded to ${info.width}×${info.height}×${info.channels}, expected ${o.w}×${o.h}×${o.channels}`;
    }
    x.set(data, offset);
    return undefined;
  } catch (e) {
    return `cannot decode (${String((e as Error).message).split('\n')[0]})`;
  }
}

/** Reads and parses a .npy file; the file is refused unread when larger than any file under the cap. */
export async function loadNpyFile(path: string, options: ParseNpyOptions = {}): Promise<NpyArray> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as Error).message})`);
  }
  const cap = options.maxBytes ?? DEFAULT_NPY_MAX_BYTES;
  // the header is at most 4 GiB in theory; in practice a few hundred bytes, 64 KiB is generous
  if (size > cap + 65536) throw new Error(`${path}: ${size} bytes, more than the cap of ${cap} bytes; not read (pass maxBytes to allow more)`);
  return parseNpy(new Uint8Array(await readFile(path)), path, options);
}

/**
 * An image set from a pair of .npy files: images [N, H, W, C] or [N, H, W] (uint8 kept, other types
 * as float32) and N integer labels (int64 as NumPy writes them by default is read). Errors name the files.
 */
export async function loadImageArrays(xPath: string, yPath: string, classNames?: string[], options: ParseNpyOptions = {}): Promise<ImageSet> {
  const [x, y] = await Promise.all([loadNpyFile(xPath, options), loadNpyFile(yPath, options)]);
  if (y.shape.length !== 1) throw new Error(`${yPath}: labels must have shape [N], got [${y.shape}]`);
  return arraysToImageSet(x.data, x.shape, y.data, classNames, { x: xPath, y: yPath });
}
