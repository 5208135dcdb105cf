/**
 * A set of images in memory, channels last, and the core `ArraySource` that feeds it to a model with
 * the model's preprocessing applied per batch (the pixels stay uint8; nothing is copied).
 */
import { ArraySource } from '@forgetless/core';
import { type ChannelOrder, type ImagePreprocessing, resolvePreprocessing } from './preprocessing.js';

/**
 * N images of one size. `x`: N·H·W·C values, channels last: uint8 pixels (decoded folders), or float32
 * (arrays given as float). `y`: one label per image, an index into `classNames`. `files`: where each
 * image came from (one per example for folders and blobs; empty for arrays). `skipped`: the images
 * that could not be read, with the reason.
 */
export interface ImageSet {
  x: Uint8Array | Float32Array;
  y: Int32Array;
  exampleShape: [number, number, number];
  classNames: string[];
  files: string[];
  skipped: { file: string; reason: string }[];
  /** The order of the 3 channels in `x`; default `'rgb'` (what decoding gives). */
  channelOrder?: ChannelOrder;
}

export interface ImageSetSourceOptions {
  /**
   * The model's preprocessing (see `ImagePreprocessing`), in 0–255 pixel units. Default: `'unit'`
   * (x/255) for uint8 pixels; for float32 pixels none (the values are taken as the model's inputs).
   */
  preprocessing?: ImagePreprocessing;
  /** The channel order the model expects; default the preprocessing's (`'bgr'` for `'caffe'`, else `'rgb'`). */
  channelOrder?: ChannelOrder;
  /** The examples to expose (e.g. a split from `splitIndices`); default all. */
  indices?: Int32Array;
  /** The model's output width; default `classNames.length + labelOffset` (or the label map's largest entry + 1). */
  numClasses?: number;
  /** Added to every label (new classes appended after a model's existing ones). */
  labelOffset?: number;
  /** Label i of the set becomes labelMap[i] (from `checkClasses`); replaces `labelOffset`. */
  labelMap?: Int32Array | readonly number[];
}

/**
 * An `ArraySource` over an image set: a batch is [b, H, W, C] float32, value x·scale[c] + offset[c]
 * with the preprocessing's per-channel constants. When the model's channel order differs from the
 * set's (e.g. `'caffe'` on RGB pixels) the channels are swapped per batch by the source's permutation,
 * so the pixels are never copied; the preprocessing's constants are in the model's order.
 */
export function imageSetSource(set: ImageSet, options: ImageSetSourceOptions = {}): ArraySource {
  const [h, w, c] = set.exampleShape;
  const isFloat = set.x instanceof Float32Array;
  const resolved = options.preprocessing !== undefined || !isFloat ? resolvePreprocessing(options.preprocessing ?? 'unit', c) : undefined;
  const want = options.channelOrder ?? resolved?.channelOrder ?? set.channelOrder ?? 'rgb';
  const have = set.channelOrder ?? 'rgb';
  const swap = c === 3 && want !== have;
  let scale: number | number[] = resolved ? resolved.scale : 1;
  let offset: number | number[] = resolved ? resolved.offset : 0;
  let permutation: Int32Array | undefined;
  if (swap) {
    // batch feature i (channel ch in the model's order) reads source channel 2 − ch of the same pixel;
    // the source's per-channel constants are indexed by the source channel, so they are reversed too
    const d = h * w * c;
    permutation = new Int32Array(d);
    for (let i = 0; i < d; i++) {
      const ch = i % 3;
      permutation[i] = i - ch + (2 - ch);
    }
    if (Array.isArray(scale)) scale = [...scale].reverse();
    if (Array.isArray(offset)) offset = [...offset].reverse();
  }
  const uniform = (v: number | number[]) => typeof v === 'number' || v.every((e) => e === v[0]);
  if (uniform(scale) && uniform(offset)) {
    // the fast path of ArraySource
    scale = typeof scale === 'number' ? scale : (scale[0] as number);
    offset = typeof offset === 'number' ? offset : (offset[0] as number);
  }
  const labelOffset = options.labelOffset ?? 0;
  if (!Number.isInteger(labelOffset) || labelOffset < 0) throw new Error(`imageSetSource: labelOffset must be a non-negative integer, got ${labelOffset}`);
  let labelMap = options.labelMap;
  if (!labelMap && labelOffset > 0) labelMap = Int32Array.from(set.classNames, (_, i) => i + labelOffset);
  const numClasses = options.numClasses ?? (options.labelMap ? Math.max(-1, ...options.labelMap) + 1 : set.classNames.length + labelOffset);
  return new ArraySource({
    x: set.x,
    y: set.y,
    exampleShape: set.exampleShape,
    numClasses,
    scale,
    offset,
    ...(permutation ? { permutation } : {}),
    ...(options.indices ? { indices: options.indices } : {}),
    ...(labelMap ? { labelMap } : {}),
  });
}

/** The numeric arrays `arraysToImageSet` accepts (what `parseNpy` returns). */
export type NumericArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/**
 * An image set from arrays in memory: `x` with shape [N, H, W, C] (C 1 or 3) or [N, H, W] (grey), and
 * N integer labels `y`. Uint8 pixels are kept as they are (no copy); any other type becomes float32
 * (a copy unless already float32) and is then fed to the model as it is unless a preprocessing is
 * given. `classNames` default to '0', '1', ... up to the largest label. `names` label the arrays in
 * errors (e.g. the .npy files).
 */
export function arraysToImageSet(
  x: NumericArray,
  shape: readonly number[],
  y: NumericArray | readonly number[],
  classNames?: readonly string[],
  names: { x?: string; y?: string } = {},
): ImageSet {
  const xName = names.x ?? 'x';
  const yName = names.y ?? 'y';
  if (shape.length !== 3 && shape.length !== 4) throw new Error(`${xName}: images must have shape [N, H, W, C] or [N, H, W], got [${shape}]`);
  const [n, h, w, c = 1] = shape as [number, number, number, number?];
  if (c !== 1 && c !== 3) throw new Error(`${xName}: images have ${c} channels (shape [${shape}]); expected 1 or 3, channels last`);
  for (const s of shape) if (!Number.isInteger(s) || s < 0) throw new Error(`${xName}: bad shape [${shape}]`);
  if (x.length !== n * h * w * c) throw new Error(`${xName}: shape [${shape}] needs ${n * h * w * c} values, got ${x.length}`);
  if (y.length !== n) throw new Error(`${yName}: ${y.length} labels but ${xName} has ${n} images`);
  const labels = new Int32Array(n);
  let max = -1;
  for (let i = 0; i < n; i++) {
    const v = y[i] as number;
    if (!Number.isInteger(v) || v < 0) throw new Error(`${yName}: label ${v} of example ${i} is not a non-negative integer`);
    if (classNames && v >= classNames.length) throw new Error(`${yName}: label ${v} of example ${i} has no class name (${classNames.length} classes given)`);
    labels[i] = v;
    if (v > max) max = v;
  }
  const pixels = x instanceof Uint8Array || x instanceof Float32Array ? x : Float32Array.from(x);
  return {
    x: pixels,
    y: labels,
    exampleShape: [h, w, c],
    classNames: classNames ? [...classNames] : Array.from({ length: max + 1 }, (_, i) => String(i)),
    files: [],
    skipped: [],
  };
}
