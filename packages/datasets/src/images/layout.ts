/**
 * The image-folder layout (one sub-folder per class, as Keras `image_dataset_from_directory` and
 * torchvision `ImageFolder` read it) and the geometry of fitting an image to a model's input. Pure
 * functions, shared by the Node loader (sharp) and the browser one (canvas).
 */

/** The extensions read as images, lower case. */
export const IMAGE_EXTENSIONS: readonly string[] = ['png', 'jpg', 'jpeg', 'webp'];

/** How an image is fitted to the model's input: stretched to it, or scaled to cover it and centre-cropped. */
export type ImageFit = 'stretch' | 'center-crop';

/** Names sorted as people expect: by `localeCompare` in English with numeric collation ('class2' < 'class10'). */
export const compareNames: (a: string, b: string) => number = new Intl.Collator('en', { numeric: true }).compare;

/** A hidden file or folder (name starting with '.'), never read. */
export function isHidden(name: string): boolean {
  return name.startsWith('.');
}

/** Whether a file name has an image extension (case-insensitive). */
export function isImageFile(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.includes(name.slice(dot + 1).toLowerCase());
}

/**
 * The class of a relative path: its parent folder's name ('root/cat/1.png' and 'cat/1.png' → 'cat'),
 * or undefined for a path with no folder. Separators '/' and '\'.
 */
export function classOfPath(path: string): string | undefined {
  const parts = path.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  return parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

export interface ImagePlan {
  /** Classes, sorted by `compareNames` (or as given). */
  classNames: string[];
  /** The images to decode, class by class, each class's files sorted by `compareNames`. */
  files: string[];
  /** The class index of each of `files`. */
  labels: Int32Array;
  /** Paths not read: not an image extension, hidden, outside a class folder, or of a class not asked for. */
  ignored: string[];
}

export interface PlanOptions {
  /** Fixes the classes and their order (a subset of the folders); a missing one is an error. */
  classNames?: readonly string[];
  /** At most this many images per class (the first ones in sorted order). */
  perClassLimit?: number;
  /** At most this many images in all, taken round-robin over the classes (the first of each class, then the second, ...). */
  maxImages?: number;
  /** Names the data in errors; default 'the image folder'. */
  source?: string;
}

/**
 * Which images to read, from relative paths ('cat/1.png', or 'root/cat/1.png' from a folder picker):
 * the class of a path is its parent folder. Refuses (errors naming `source`): no class, a class asked
 * for that has no folder, a class with no images.
 */
export function planImages(paths: readonly string[], options: PlanOptions = {}): ImagePlan {
  const source = options.source ?? 'the image folder';
  const byClass = new Map<string, string[]>();
  const ignored: string[] = [];
  for (const path of paths) {
    const parts = path.split(/[\\/]/);
    const cls = classOfPath(path);
    if (cls === undefined || parts.some(isHidden) || !isImageFile(parts[parts.length - 1] as string)) {
      ignored.push(path);
      continue;
    }
    let list = byClass.get(cls);
    if (!list) byClass.set(cls, (list = []));
    list.push(path);
  }
  return planFromClasses(byClass, ignored, options, source);
}

/** `planImages` from files already grouped by class (a class may have none: an error). */
export function planFromClasses(byClass: Map<string, string[]>, ignored: string[], options: PlanOptions, source: string): ImagePlan {
  let classNames = [...byClass.keys()].sort(compareNames);
  if (options.classNames) {
    const missing = options.classNames.filter((c) => !byClass.has(c));
    if (missing.length) throw new Error(`${source}: no folder for class${missing.length === 1 ? '' : 'es'} ${missing.join(', ')} (found: ${classNames.join(', ') || 'none'})`);
    const d = options.classNames.find((n, i) => options.classNames?.indexOf(n) !== i);
    if (d !== undefined) throw new Error(`${source}: class '${d}' is asked for twice`);
    for (const c of classNames) if (!options.classNames.includes(c)) ignored.push(...(byClass.get(c) as string[]));
    classNames = [...options.classNames];
  }
  if (classNames.length === 0) throw new Error(`${source}: no class folders (expected one sub-folder of images per class)`);
  const empty = classNames.filter((c) => (byClass.get(c) as string[]).length === 0);
  if (empty.length)
    throw new Error(`${source}: class folder${empty.length === 1 ? '' : 's'} ${empty.join(', ')} hold${empty.length === 1 ? 's' : ''} no images (${IMAGE_EXTENSIONS.join(', ')})`);
  const limit = options.perClassLimit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 1)) throw new Error(`${source}: perClassLimit must be at least 1, got ${options.perClassLimit}`);
  const lists = classNames.map((c) => (byClass.get(c) as string[]).sort(compareNames).slice(0, limit));
  const maxImages = options.maxImages ?? Number.POSITIVE_INFINITY;
  if (maxImages < classNames.length) throw new Error(`${source}: maxImages ${options.maxImages} is fewer than the ${classNames.length} classes`);
  // round-robin quota so a cap keeps every class
  const quota = lists.map(() => 0);
  let left = Math.min(
    maxImages,
    lists.reduce((a, l) => a + l.length, 0),
  );
  for (let round = 0; left > 0; round++) {
    for (let c = 0; c < lists.length && left > 0; c++) {
      if ((lists[c] as string[]).length > round) {
        quota[c] = round + 1;
        left--;
      }
    }
  }
  const files: string[] = [];
  const labels: number[] = [];
  lists.forEach((l, c) => {
    for (const f of l.slice(0, quota[c])) {
      files.push(f);
      labels.push(c);
    }
  });
  return { classNames, files, labels: Int32Array.from(labels), ignored };
}

/** A source rectangle in pixels: the part of the image drawn onto the model's input. */
export interface CropRect {
  sx: number;
  sy: number;
  sw: number;
  sh: number;
}

/**
 * The centred rectangle of a `width`×`height` image with the target's aspect ratio, the largest that
 * fits: scaling it to `targetWidth`×`targetHeight` covers the target and crops the overflow equally on
 * both sides (sharp's `fit: 'cover', position: 'centre'`). Fractional: canvas `drawImage` takes it as is.
 * `'stretch'` is the whole image.
 */
export function cropRect(width: number, height: number, targetWidth: number, targetHeight: number, fit: ImageFit = 'center-crop'): CropRect {
  if (!(width > 0 && height > 0 && targetWidth > 0 && targetHeight > 0))
    throw new Error(`cropRect: sizes must be positive, got ${width}×${height} to ${targetWidth}×${targetHeight}`);
  if (fit === 'stretch') return { sx: 0, sy: 0, sw: width, sh: height };
  const scale = Math.max(targetWidth / width, targetHeight / height);
  const sw = targetWidth / scale;
  const sh = targetHeight / scale;
  return { sx: (width - sw) / 2, sy: (height - sh) / 2, sw, sh };
}

/**
 * RGBA pixels (canvas `getImageData`, alpha already composited onto black) to `channels` values per
 * pixel written into `out` from `offset`: RGB dropping alpha, or grey by Rec. 709 luma
 * round(0.2126 R + 0.7152 G + 0.0722 B) on the sRGB values, as libvips (sharp's greyscale) computes it.
 */
export function rgbaToPixels(rgba: Uint8ClampedArray | Uint8Array, channels: 1 | 3, out: Uint8Array, offset: number): void {
  const n = rgba.length / 4;
  if (channels === 3) {
    for (let p = 0; p < n; p++) {
      out[offset + 3 * p] = rgba[4 * p] as number;
      out[offset + 3 * p + 1] = rgba[4 * p + 1] as number;
      out[offset + 3 * p + 2] = rgba[4 * p + 2] as number;
    }
  } else {
    for (let p = 0; p < n; p++) {
      out[offset + p] = Math.round(0.2126 * (rgba[4 * p] as number) + 0.7152 * (rgba[4 * p + 1] as number) + 0.0722 * (rgba[4 * p + 2] as number));
    }
  }
}

/** Checks a target size [height, width] and returns it. */
export function checkSize(size: readonly number[], source: string): [number, number] {
  const [h, w] = size;
  if (size.length !== 2 || !Number.isInteger(h) || !Number.isInteger(w) || (h as number) < 1 || (w as number) < 1) {
    throw new Error(`${source}: size must be [height, width], positive integers, got [${size}]`);
  }
  return [h as number, w as number];
}

/** The byte cap on decoded pixels: 2 GiB. */
export const DEFAULT_IMAGE_MAX_BYTES = 2 * 2 ** 30;

/** Refuses before allocating when n images of h×w×c bytes exceed the cap. */
export function checkImageBytes(n: number, h: number, w: number, c: number, maxBytes: number, source: string): void {
  const bytes = n * h * w * c;
  if (bytes > maxBytes) {
    throw new Error(`${source}: ${n} images of ${h}×${w}×${c} need ${bytes} bytes, more than the cap of ${maxBytes} bytes; pass maxBytes, maxImages or perClassLimit`);
  }
}

/** One error listing every bad image, for onBadImage 'refuse'. */
export function badImagesError(source: string, bad: readonly { file: string; reason: string }[]): Error {
  return new Error(`${source}: ${bad.length} bad image${bad.length === 1 ? '' : 's'}:\n${bad.map((b) => `  ${b.file}: ${b.reason}`).join('\n')}`);
}
