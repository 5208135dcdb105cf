/**
 * Decoding image files in a browser (or a worker): `createImageBitmap` and an `OffscreenCanvas`. The
 * layout and geometry are the pure functions of layout.ts; this file only draws and reads pixels.
 */
import type { ImageSet } from './image-set.js';
import { type ImageFit, badImagesError, checkImageBytes, checkSize, cropRect, planImages, rgbaToPixels, DEFAULT_IMAGE_MAX_BYTES } from './layout.js';

export interface DecodeImageBlobsOptions {
  /** The model's input [height, width]. */
  size: [number, number];
  /** 3 (RGB, default) or 1 (grey). */
  channels?: 1 | 3;
  /** Default 'center-crop'. */
  fit?: ImageFit;
  /** A bad image is reported in `skipped` ('skip', default) or all bad images make one error ('refuse'). */
  onBadImage?: 'skip' | 'refuse';
  /** Fixes the classes and their order (a subset of the folders). */
  classNames?: string[];
  perClassLimit?: number;
  maxImages?: number;
  /** Cap on the decoded pixels in bytes; default 2 GiB. */
  maxBytes?: number;
  onProgress?: (done: number, total: number) => void;
}

/** What `decodeImageBlobs` adds to an image set: the files it did not read (not images, hidden, no class folder). */
export interface DecodedImageSet extends ImageSet {
  x: Uint8Array;
  ignored: string[];
}

/**
 * Decodes image files picked in a page (e.g. `<input type="file" webkitdirectory>`, path =
 * `file.webkitRelativePath`, 'root/cat/1.png') into an image set: class = the parent folder's name,
 * classes and files sorted as `planImages` does. Each image is oriented by its EXIF tag, composited
 * onto black, fitted (stretched, or centre-cropped as `cropRect` says) and resized by the canvas
 * (its smoothing, 'high' quality: close to, not equal to, sharp's Lanczos in Node), then RGB, or grey
 * by Rec. 709 luma. An empty, corrupt or undecodable file is reported by path in `skipped` (or refused).
 */
export async function decodeImageBlobs(files: readonly { path: string; blob: Blob }[], options: DecodeImageBlobsOptions): Promise<DecodedImageSet> {
  const source = 'decodeImageBlobs';
  const [h, w] = checkSize(options.size, source);
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new Error(`${source}: channels must be 1 or 3, got ${channels}`);
  const fit = options.fit ?? 'center-crop';
  const byPath = new Map(files.map((f) => [f.path, f.blob]));
  const plan = planImages(
    files.map((f) => f.path),
    { source: 'the picked folder', ...pick(options, ['classNames', 'perClassLimit', 'maxImages']) },
  );
  const n = plan.files.length;
  checkImageBytes(n, h, w, channels, options.maxBytes ?? DEFAULT_IMAGE_MAX_BYTES, source);
  const d = h * w * channels;
  const x = new Uint8Array(n * d);
  const keep = new Int32Array(n);
  const skipped: { file: string; reason: string }[] = [];
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error(`${source}: no 2d context on an OffscreenCanvas`);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const path = plan.files[i] as string;
    const blob = byPath.get(path) as Blob;
    const reason = await drawOne(blob, ctx, w, h, fit);
    if (reason) skipped.push({ file: path, reason });
    else {
      rgbaToPixels(ctx.getImageData(0, 0, w, h).data, channels, x, kept * d);
      keep[kept++] = i;
    }
    options.onProgress?.(i + 1, n);
  }
  if (skipped.length && options.onBadImage === 'refuse') throw badImagesError('the picked folder', skipped);
  const take = keep.subarray(0, kept);
  return {
    x: x.subarray(0, kept * d),
    y: Int32Array.from(take, (i) => plan.labels[i] as number),
    exampleShape: [h, w, channels],
    classNames: plan.classNames,
    files: Array.from(take, (i) => plan.files[i] as string),
    skipped,
    ignored: plan.ignored,
  };
}

/** Draws one image fitted onto the canvas; returns why it cannot be read, or undefined. */
async function drawOne(blob: Blob, ctx: OffscreenCanvasRenderingContext2D, w: number, h: number, fit: ImageFit): Promise<string | undefined> {
  if (blob.size === 0) return 'empty file (0 bytes)';
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none' });
  } catch (e) {
    return `cannot decode (${(e as Error).message || 'corrupt, truncated or not an image'})`;
  }
  try {
    if (bitmap.width === 0 || bitmap.height === 0) return `zero size (${bitmap.width}×${bitmap.height})`;
    const r = cropRect(bitmap.width, bitmap.height, w, h, fit);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, w, h);
    ctx.drawImage(bitmap, r.sx, r.sy, r.sw, r.sh, 0, 0, w, h);
    return undefined;
  } finally {
    bitmap.close();
  }
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
