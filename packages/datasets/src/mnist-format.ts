/**
 * The MNIST folder layout shared by MNIST, Fashion-MNIST, KMNIST and EMNIST: four IDX files,
 * training and test images (idx3, uint8) with their labels (idx1, uint8). This module turns the
 * four files' bytes into one dataset and checks that they agree with each other.
 */
import { parseIdx } from './idx.js';

export type MnistFileRole = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';
export const MNIST_FILE_ROLES: readonly MnistFileRole[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

/** The four file names of an MNIST-format folder, gzip-compressed as distributed. */
export const MNIST_FORMAT_FILES: Readonly<Record<MnistFileRole, string>> = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};

/**
 * File names with an optional prefix (EMNIST: `emnist-letters-`) and without `.gz` when `gzip` is false.
 */
export function mnistFormatFileNames(options: { prefix?: string; gzip?: boolean } = {}): Record<MnistFileRole, string> {
  const prefix = options.prefix ?? '';
  const strip = options.gzip === false;
  const out = {} as Record<MnistFileRole, string>;
  for (const role of MNIST_FILE_ROLES) {
    const base = MNIST_FORMAT_FILES[role];
    out[role] = prefix + (strip ? base.slice(0, -3) : base);
  }
  return out;
}

/** Images and their labels: `images` holds count × rows × cols pixels (0..255), row-major. */
export interface MnistImages {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** An MNIST-format dataset in memory: the arrays every task sequence built on it shares. */
export interface MnistFormatDataset {
  /** e.g. 'fashion-mnist'; used in task names. */
  name: string;
  rows: number;
  cols: number;
  numClasses: number;
  train: MnistImages;
  test: MnistImages;
  /** Where the data came from: a folder, a URL, or 'embedded'. */
  source?: string;
}

export interface MnistFormatOptions {
  name?: string;
  /** Default: the largest label + 1. EMNIST letters label 1..26, hence 27 classes with class 0 unused. */
  numClasses?: number;
  /** Transpose every image (EMNIST stores images transposed relative to MNIST). */
  transpose?: boolean;
  source?: string;
  /** Names for error messages; default MNIST_FORMAT_FILES. */
  fileNames?: Partial<Record<MnistFileRole, string>>;
  /**
   * The most bytes of data one file may declare in its IDX header (default 1 GiB,
   * `DEFAULT_IDX_MAX_BYTES`): a larger file is refused before it is inflated.
   */
  maxBytes?: number;
}

/**
 * Builds a dataset from the bytes (raw or gzip) of the four files. Errors name the file and what is
 * wrong: a bad header, a header declaring more than `maxBytes` (refused before it is inflated), a
 * truncated or overlong body, images and labels that disagree in count, training and test
 * images of different sizes, or labels beyond `numClasses`.
 */
export function mnistFormatFromBytes(files: Record<MnistFileRole, Uint8Array | ArrayBuffer>, options: MnistFormatOptions = {}): MnistFormatDataset {
  const names = { ...MNIST_FORMAT_FILES, ...options.fileNames };
  const cap = options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {};
  const images = (role: 'trainImages' | 'testImages') => parseIdx(files[role], { file: names[role], ndims: 3, type: 'uint8', ...cap });
  const labels = (role: 'trainLabels' | 'testLabels') => parseIdx(files[role], { file: names[role], ndims: 1, type: 'uint8', ...cap });
  const trX = images('trainImages');
  const trY = labels('trainLabels');
  const teX = images('testImages');
  const teY = labels('testLabels');
  const pair = (x: typeof trX, y: typeof trY, xr: MnistFileRole, yr: MnistFileRole): MnistImages => {
    const n = x.dims[0] as number;
    const m = y.dims[0] as number;
    if (n !== m) throw new Error(`${names[xr]} has ${n} images but ${names[yr]} has ${m} labels`);
    return { images: x.data as Uint8Array, labels: y.data as Uint8Array, count: n };
  };
  const train = pair(trX, trY, 'trainImages', 'trainLabels');
  const test = pair(teX, teY, 'testImages', 'testLabels');
  const [, rows, cols] = trX.dims as [number, number, number];
  if (teX.dims[1] !== rows || teX.dims[2] !== cols) {
    throw new Error(`${names.testImages} holds ${teX.dims[1]}×${teX.dims[2]} images but ${names.trainImages} holds ${rows}×${cols}`);
  }
  let maxLabel = 0;
  for (const [set, role] of [
    [train, 'trainLabels'],
    [test, 'testLabels'],
  ] as const) {
    for (const l of set.labels) if (l > maxLabel) maxLabel = l;
    if (options.numClasses !== undefined && maxLabel >= options.numClasses) {
      throw new Error(`${names[role]}: label ${maxLabel} is beyond numClasses ${options.numClasses}`);
    }
  }
  if (options.transpose) {
    if (rows !== cols) throw new Error(`mnistFormatFromBytes: transpose needs square images, got ${rows}×${cols}`);
    // a copy: the parsed pixels may be a view on the caller's bytes
    train.images = transposeImages(train.images.slice(), rows);
    test.images = transposeImages(test.images.slice(), rows);
  }
  return {
    name: options.name ?? 'mnist-format',
    rows,
    cols,
    numClasses: options.numClasses ?? maxLabel + 1,
    train,
    test,
    ...(options.source !== undefined ? { source: options.source } : {}),
  };
}

/** Examples per class: counts[c] = number of labels equal to c. */
export function classCounts(labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number;
    if (l < numClasses) counts[l] = (counts[l] as number) + 1;
  }
  return counts;
}

function transposeImages(images: Uint8Array, side: number): Uint8Array {
  const d = side * side;
  for (let off = 0; off < images.length; off += d) {
    for (let r = 0; r < side; r++) {
      for (let c = r + 1; c < side; c++) {
        const a = off + r * side + c;
        const b = off + c * side + r;
        const t = images[a] as number;
        images[a] = images[b] as number;
        images[b] = t;
      }
    }
  }
  return images;
}
