/**
 * forgetless's WebAssembly SIMD kernels for 1×1 convolutions at unit stride and dilation, and for
 * the forward of convolutions with few input channels (`simdConvForward`) and the filter gradient of
 * every other convolution (`simdConvFilterGrad`) (`gemm-simd.c`,
 * linked into the depthwise kernels' module: `depthwise-simd.ts` binds it to tfjs-wasm's memory),
 * NHWC, float32: ∂W = xᵀ·dy read from x and dy in place, where tfjs's matMul needs x transposed and dy
 * packed (two full copies of the activations per layer), and ∂x = dy·Wᵀ. Run under
 * 'auto' on wasm where the module runs (`simdKernelsFor`) by forgetless's Conv2D gradient
 * (`gradients.ts`) and by the Conv2DBackpropFilter/Conv2DBackpropInput kernels forgetless registers
 * for wasm (`wasm-kernels.ts`: stock tfjs-layers models call those directly).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Exports, type WasmHeapBackend, depthwiseSimd, ensureSimdKernel, heapOffset, simdKernelsFor, simdThreads, sliced, slicedSums } from './depthwise-simd.js';
import { MIN_SPLIT_WORK, slicesFor, splitRange } from './kernel-threads.js';
import { IM2COL_MIN_CHANNELS } from './im2col.js';
import { simdPerExampleSumsOn } from './norm-simd.js';

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0] as number, (v[1] ?? v[0]) as number] : [(v as number) ?? 1, (v as number) ?? 1]);

/**
 * Whether a convolution is one these kernels take: a [1, 1, C, O] filter, unit strides and
 * dilations, 'same'/'valid' padding (no padding at 1×1) or explicit zero padding, NHWC.
 */
export function isPointwise(
  filterShape: readonly number[],
  attrs: { strides?: unknown; dilations?: unknown; pad?: unknown; dataFormat?: unknown; dimRoundingMode?: unknown },
): boolean {
  if (filterShape[0] !== 1 || filterShape[1] !== 1) return false;
  const s = pair(attrs.strides ?? 1);
  const d = pair(attrs.dilations ?? 1);
  if (s[0] !== 1 || s[1] !== 1 || d[0] !== 1 || d[1] !== 1) return false;
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC' && attrs.dataFormat !== 'channelsLast') return false;
  const pad = attrs.pad;
  if (pad === 'same' || pad === 'valid') return true;
  return Array.isArray(pad) && pad.flat().every((v) => v === 0);
}

/** The kernels for these tensors where they run (wasm, 'auto', float32, the module usable), else undefined. */
export function pointwiseSimd(backend: unknown, ...tensors: tf.TensorInfo[]): Exports | undefined {
  return simdKernelsFor(backend, ...tensors);
}

/** ∂W [1, 1, C, O] of a 1×1 unit-stride convolution of x [N, H, W, C] for dy [N, H, W, O], as a wasm kernel function's output. */
export function simdPointwiseFilterGrad(ex: Exports, backend: unknown, x: tf.TensorInfo, dy: tf.TensorInfo, filterShape: readonly number[]): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const [, , c, o] = filterShape as [number, number, number, number];
  const p = tf.util.sizeFromShape(x.shape) / (c || 1);
  if (x.shape[3] !== c || dy.shape[3] !== o || tf.util.sizeFromShape(dy.shape) !== p * o || dy.shape.slice(0, 3).some((v, i) => v !== x.shape[i]))
    throw new Error(`Conv2DBackpropFilter on wasm (forgetless): x [${x.shape}] and dy [${dy.shape}] do not fit a 1×1 filter [${filterShape}]`);
  const out = b.makeOutput([...filterShape], 'float32');
  if (c * o === 0) return out;
  const t = rowThreads(b, p, c * o);
  if (t < 2) {
    ex.pw_filter_grad(heapOffset(b, x), heapOffset(b, dy), heapOffset(b, out), p, c, o);
    return out;
  }
  // rows split over the threads, each slice's ∂W apart (the first into the output), then added
  const parts = splitRange(p, slicesFor(t, 2), 4);
  const [xo, dyo] = [heapOffset(b, x), heapOffset(b, dy)];
  slicedSums(ex, b, 'pw_filter_grad', heapOffset(b, out), c * o, parts.length, 0, (i, sum) => {
    const [p0, n] = parts[i] as [number, number];
    return [xo + 4 * p0 * c, dyo + 4 * p0 * o, sum, n, c, o];
  });
  return out;
}

/** ∂x [N, H, W, C] of a 1×1 unit-stride convolution with filter [1, 1, C, O] for dy [N, H, W, O], as a wasm kernel function's output. */
export function simdPointwiseInputGrad(ex: Exports, backend: unknown, dy: tf.TensorInfo, filter: tf.TensorInfo, inputShape: readonly number[]): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const [, , c, o] = filter.shape as [number, number, number, number];
  if (inputShape.length !== 4 || inputShape[3] !== c || dy.shape[3] !== o || dy.shape.slice(0, 3).some((v, i) => v !== inputShape[i]))
    throw new Error(`Conv2DBackpropInput on wasm (forgetless): dy [${dy.shape}] and filter [${filter.shape}] do not fit input shape [${inputShape}]`);
  const out = b.makeOutput([...inputShape], 'float32');
  const p = tf.util.sizeFromShape([...inputShape]) / (c || 1);
  if (p * c === 0) return out; // nothing to compute
  // rows split over the threads where the call is large enough, each slice with its own Wᵀ scratch (the same values, bit for bit, as one call)
  const parts = splitRange(p, slicesFor(rowThreads(b, p, c * o)), 4);
  const wt = b.wasm._malloc(Math.max(1, c * o) * 4 * parts.length);
  try {
    const [dyo, dxo] = [heapOffset(b, dy), heapOffset(b, out)];
    sliced(
      ex,
      b,
      'pw_input_grad',
      parts.map(([p0, n], i) => [dyo + 4 * p0 * o, heapOffset(b, filter), wt + 4 * c * o * i, dxo + 4 * p0 * c, n, c, o]),
    );
  } finally {
    b.wasm._free(wt);
  }
  return out;
}

/** y [N, H, W, O] = conv2d(x, filter) for a 1×1 unit-stride filter [1, 1, C, O], as a wasm kernel function's output. */
export function simdPointwiseForward(ex: Exports, backend: unknown, x: tf.TensorInfo, filter: tf.TensorInfo): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const [, , c, o] = filter.shape as [number, number, number, number];
  if (x.shape[3] !== c) throw new Error(`Conv2D on wasm (forgetless): x [${x.shape}] does not fit filter [${filter.shape}]`);
  const out = b.makeOutput([...x.shape.slice(0, 3), o], 'float32');
  const p = tf.util.sizeFromShape(x.shape) / (c || 1);
  if (p * o > 0) pointwiseRows(ex, b, heapOffset(b, x), heapOffset(b, filter), heapOffset(b, out), p, c, o);
  return out;
}

/** Threads a 1×1 GEMM over p rows (c·o multiply-adds a row) splits over: 1 below `MIN_SPLIT_WORK`, or with fewer than 32 rows a thread. */
function rowThreads(b: WasmHeapBackend, p: number, perRow: number): number {
  const t = simdThreads(b);
  return t < 2 || p * perRow < MIN_SPLIT_WORK ? 1 : Math.max(1, Math.min(t, Math.floor(p / 32)));
}

/** y[p, o] = x[p, c]·W[c, o] (`pw_forward`), rows split over the kernel threads where the call is large enough (the same values, bit for bit). */
export function pointwiseRows(ex: Exports, b: WasmHeapBackend, x: number, w: number, y: number, p: number, c: number, o: number): void {
  const parts = splitRange(p, slicesFor(rowThreads(b, p, c * o)), 4);
  sliced(
    ex,
    b,
    'pw_forward',
    parts.map(([p0, n]) => [x + 4 * p0 * c, w, y + 4 * p0 * o, n, c, o]),
  );
}

export { depthwiseSimd };

/**
 * Whether a convolution's filter gradient runs on `conv_filter_grad` (`simdConvFilterGrad`) where the
 * SIMD kernels run and the 1×1 unit-stride kernel (`isPointwise`, checked first) does not: every NHWC
 * Conv2D, any kernel size, stride, dilation and padding. With few input channels (a stem) tfjs's
 * formulations spend their time on patches of a few floats; with more, the kernel beat im2col + the
 * matMul at every measured shape of real nets (0.5–0.9× its time, benchmark README "The filter
 * gradient of every Conv2D on SIMD"), ∂W kept in cache-sized blocks (`filterGradBlock`).
 */
export function isSimdFilterGradConv(filterShape: readonly number[], attrs: { dataFormat?: unknown }): boolean {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC' && attrs.dataFormat !== 'channelsLast') return false;
  return filterShape.length === 4;
}

/**
 * Whether a convolution's forward runs on `conv_forward` (`simdConvForward`) where the SIMD kernels
 * run: fewer than `IM2COL_MIN_CHANNELS` input channels (a network's stem, grayscale inputs), any kernel
 * size, stride, dilation and padding, NHWC. XNNPACK's own is slower there (few floats per patch row);
 * with more channels it serves.
 */
export function isFewChannelConv(filterShape: readonly number[], attrs: { dataFormat?: unknown }): boolean {
  return isSimdFilterGradConv(filterShape, attrs) && (filterShape[2] as number) < IM2COL_MIN_CHANNELS;
}

/**
 * Output pixels per chunk of `conv_filter_grad`'s patch rows (64·K4 floats of scratch: 7 KB at 3×3×3).
 * 32 to 256 measured the same at MobileNetV2's stem; 128 and 256 were 10–15 % slower at 5×5×1 → 64.
 */
const PATCH_CHUNK = 64;

/**
 * ∂W floats that `conv_filter_grad` keeps as one block over all pixels (512 KB, the L2 of a core
 * here), and the block size past that (128 KB). Measured at 3×3 512 → 512 (14², batch 2): 128 KB
 * blocks 0.87× im2col's time, 256 KB 0.93×, 512 KB 1.02×, one block of all of ∂W (9 MB) 1.02×;
 * paper 2's conv2 (∂W 288 KB) is 11 % faster as one block than in 128 KB blocks. Chunks of 128
 * pixels were slower than 64 at every block size.
 */
const DW_ONE_BLOCK_FLOATS = 1 << 17;
const DW_BLOCK_FLOATS = 1 << 15;

/** Rows of ∂W per block of `conv_filter_grad`: all K4 where K4·O fits `DW_ONE_BLOCK_FLOATS`, else the most that fit `DW_BLOCK_FLOATS`, a multiple of 4. */
export function filterGradBlock(k4: number, o: number): number {
  return k4 * o <= DW_ONE_BLOCK_FLOATS ? k4 : Math.max(4, Math.floor(DW_BLOCK_FLOATS / Math.max(1, o)) & ~3);
}

type ConvAttrs = { strides?: unknown; dilations?: unknown; pad?: unknown; dimRoundingMode?: unknown; dataFormat?: unknown };

/** tfjs's geometry of a NHWC convolution of input shape `xShape` by a [kh, kw, C, O] filter; `kernel` names the caller in errors. */
function convGeometry(kernel: string, xShape: readonly number[], filterShape: readonly number[], attrs: ConvAttrs): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC' && attrs.dataFormat !== 'channelsLast')
    throw new Error(`${kernel} on wasm (forgetless): only NHWC is supported, got ${String(attrs.dataFormat)}`);
  return tf.backend_util.computeConv2DInfo(
    [...xShape] as [number, number, number, number],
    [...filterShape] as [number, number, number, number],
    pair(attrs.strides ?? 1),
    pair(attrs.dilations ?? 1),
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'round' | undefined,
    false,
  );
}

/** The geometry arguments every patch kernel of `gemm-simd.c` takes, in its order: N, H, W, C, Ho, Wo, O, kh, kw, sh, sw, dh, dw, pt, pl. */
function geometryArgs(info: tf.backend_util.Conv2DInfo, filterShape: readonly number[]): number[] {
  const [kh, kw, c, o] = filterShape as [number, number, number, number];
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    c,
    info.outHeight,
    info.outWidth,
    o,
    kh,
    kw,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}

/** Runs `fn` with `floats` floats of scratch from tfjs-wasm's heap, freed after. */
function withScratch<T>(b: WasmHeapBackend, floats: number, fn: (scratch: number) => T): T {
  const scratch = b.wasm._malloc(Math.max(1, floats) * 4);
  try {
    return fn(scratch);
  } finally {
    b.wasm._free(scratch);
  }
}

/**
 * ∂W [kh, kw, C, O] of a convolution of x [N, H, W, C] (any kernel size, stride, dilation, padding
 * tfjs's Conv2D takes) for dy [N, Ho, Wo, O], by `conv_filter_grad` (patches a chunk at a time, then
 * the 1×1 filter gradient's micro-kernel), as a wasm kernel function's output.
 */
export function simdConvFilterGrad(ex: Exports, backend: unknown, x: tf.TensorInfo, dy: tf.TensorInfo, filterShape: readonly number[], attrs: ConvAttrs): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const [kh, kw, c, o] = filterShape as [number, number, number, number];
  if (x.shape.length !== 4 || dy.shape.length !== 4 || filterShape.length !== 4)
    throw new Error(
      `Conv2DBackpropFilter on wasm (forgetless): expected x and dy of rank 4 and a filter shape [kh, kw, C, O], got x [${x.shape}], dy [${dy.shape}], filter [${filterShape}]`,
    );
  const info = convGeometry('Conv2DBackpropFilter', x.shape, filterShape, attrs);
  if (x.shape[3] !== c || dy.shape[0] !== x.shape[0] || dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== o)
    throw new Error(`Conv2DBackpropFilter on wasm (forgetless): x [${x.shape}] and dy [${dy.shape}] do not fit filter [${filterShape}] (output [${info.outShape}])`);
  const out = b.makeOutput([kh, kw, c, o], 'float32');
  const k = kh * kw * c;
  if (k * o === 0) return out;
  const k4 = (k + 3) & ~3;
  const kc = PATCH_CHUNK;
  const kb = Math.min(k4, filterGradBlock(k4, o));
  const g = geometryArgs(info, filterShape);
  const perImage = info.outHeight * info.outWidth * k * o;
  const t = Math.min(simdThreads(b), info.batchSize);
  if (t < 2 || info.batchSize * perImage < MIN_SPLIT_WORK) {
    withScratch(b, kc * kb + (k4 > k ? k4 * o : 0), (scratch) => ex.conv_filter_grad(heapOffset(b, x), heapOffset(b, dy), heapOffset(b, out), scratch, ...g, kc, kb));
    return out;
  }
  // images split over the threads (one slice each: every slice's ∂W is a partial sum to add), each slice with its own scratch
  const parts = splitRange(info.batchSize, t);
  const [xo, dyo, xs, dys] = [heapOffset(b, x), heapOffset(b, dy), 4 * info.inHeight * info.inWidth * c, 4 * info.outHeight * info.outWidth * o];
  slicedSums(ex, b, 'conv_filter_grad', heapOffset(b, out), k * o, parts.length, kc * kb + (k4 > k ? k4 * o : 0), (i, sum, own) => {
    const [n0, n] = parts[i] as [number, number];
    return [xo + n0 * xs, dyo + n0 * dys, sum, own, n, ...g.slice(1), kc, kb];
  });
  return out;
}

/**
 * y [N, Ho, Wo, O] = conv2d(x, filter) of a convolution with few input channels (`isFewChannelConv`;
 * any kernel size, stride, dilation, padding incl. explicit), by `conv_forward`: patch rows of
 * `PATCH_CHUNK` output pixels at a time into scratch, then their product with the filter read in
 * place as a [kh·kw·C, O] matrix by the 1×1 forward's micro-kernel; as a wasm kernel function's output.
 */
export function simdConvForward(ex: Exports, backend: unknown, x: tf.TensorInfo, filter: tf.TensorInfo, attrs: ConvAttrs): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  if (x.shape.length !== 4 || filter.shape.length !== 4)
    throw new Error(`Conv2D on wasm (forgetless): expected x of rank 4 and a filter [kh, kw, C, O], got x [${x.shape}], filter [${filter.shape}]`);
  const [kh, kw, c] = filter.shape as [number, number, number, number];
  if (x.shape[3] !== c) throw new Error(`Conv2D on wasm (forgetless): x [${x.shape}] does not fit filter [${filter.shape}]`);
  const info = convGeometry('Conv2D', x.shape, filter.shape, attrs);
  const out = b.makeOutput([...info.outShape], 'float32');
  const k = kh * kw * c;
  if (tf.util.sizeFromShape(info.outShape) === 0) return out;
  const k4 = (k + 3) & ~3;
  patchByImages(
    ex,
    b,
    'conv_forward',
    heapOffset(b, x),
    4 * info.inHeight * info.inWidth * c,
    heapOffset(b, filter),
    heapOffset(b, out),
    4 * tf.util.sizeFromShape(info.outShape.slice(1)),
    PATCH_CHUNK * k4,
    geometryArgs(info, filter.shape),
    k * (filter.shape[3] as number) * info.outHeight * info.outWidth,
  );
  return out;
}

let simdInputGradOn = true;

/**
 * Turns `conv_input_grad` off (false: 'auto' routes ∂x of non-1×1 convolutions as before it, one
 * matMul per tap, and wasm's Conv2DBackpropInput to the stock kernel) or back on; for same-process
 * before/after benchmarks and tests.
 */
export function setSimdConvInputGrad(on: boolean): void {
  simdInputGradOn = on;
}

/**
 * Whether a convolution's input gradient runs on `conv_input_grad` (`simdConvInputGrad`) where the SIMD
 * kernels run and the 1×1 unit-stride kernel (`isPointwise`, checked first) does not: every NHWC
 * Conv2D, any kernel size, stride, dilation and padding (benchmark README "The input gradient of
 * every Conv2D on SIMD").
 */
export function isSimdInputGradConv(filterShape: readonly number[], attrs: { dataFormat?: unknown }): boolean {
  return simdInputGradOn && isSimdFilterGradConv(filterShape, attrs) && (filterShape[0] as number) * (filterShape[1] as number) !== 1;
}

/**
 * ∂x [N, H, W, C] of a convolution with filter [kh, kw, C, O] (any kernel size, stride, dilation,
 * padding tfjs's Conv2D takes) for dy [N, Ho, Wo, O], by `conv_input_grad`: the patch gradients
 * dy·Wᵀ of `PATCH_CHUNK` output pixels at a time (the 1×1 micro-kernel, Wᵀ in scratch), added back
 * where the patches came from (col2im); as a wasm kernel function's output.
 */
export function simdConvInputGrad(ex: Exports, backend: unknown, dy: tf.TensorInfo, filter: tf.TensorInfo, inputShape: readonly number[], attrs: ConvAttrs): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  if (dy.shape.length !== 4 || filter.shape.length !== 4 || inputShape.length !== 4)
    throw new Error(
      `Conv2DBackpropInput on wasm (forgetless): expected dy of rank 4, a filter [kh, kw, C, O] and an input shape [N, H, W, C], got dy [${dy.shape}], filter [${filter.shape}], inputShape [${inputShape}]`,
    );
  const [kh, kw, c, o] = filter.shape as [number, number, number, number];
  const info = convGeometry('Conv2DBackpropInput', inputShape, filter.shape, attrs);
  if (inputShape[3] !== c || dy.shape[0] !== inputShape[0] || dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== o)
    throw new Error(`Conv2DBackpropInput on wasm (forgetless): dy [${dy.shape}] does not fit filter [${filter.shape}] and input shape [${inputShape}] (output [${info.outShape}])`);
  const out = b.makeOutput([...inputShape], 'float32');
  if (tf.util.sizeFromShape([...inputShape]) === 0) return out;
  // the kernel pads Wᵀ's and the patch gradients' rows to a multiple of 4 floats
  const k4 = (kh * kw * c + 3) & ~3;
  patchByImages(
    ex,
    b,
    'conv_input_grad',
    heapOffset(b, dy),
    4 * info.outHeight * info.outWidth * o,
    heapOffset(b, filter),
    heapOffset(b, out),
    4 * info.inHeight * info.inWidth * c,
    k4 * o + PATCH_CHUNK * k4,
    geometryArgs(info, filter.shape),
    kh * kw * c * o * info.outHeight * info.outWidth,
  );
  return out;
}

/**
 * A patch kernel that works image by image (`conv_forward`, `conv_input_grad`: input, filter, output,
 * scratch, the geometry from N, then PATCH_CHUNK), its images split over the kernel threads where the
 * call is large enough (each slice with its own scratch: the same values, bit for bit, as one call).
 * inStep, outStep: bytes of one image of its input and output; perImage: its multiply-adds per image.
 */
function patchByImages(
  ex: Exports,
  b: WasmHeapBackend,
  name: 'conv_forward' | 'conv_input_grad',
  input: number,
  inStep: number,
  filter: number,
  output: number,
  outStep: number,
  scratchFloats: number,
  g: number[],
  perImage: number,
): void {
  const n = g[0] as number;
  const t = Math.min(simdThreads(b), n);
  const parts = t < 2 || n * perImage < MIN_SPLIT_WORK ? [[0, n] as [number, number]] : splitRange(n, Math.min(n, slicesFor(t, 2)));
  withScratch(b, scratchFloats * parts.length, (scratch) =>
    sliced(
      ex,
      b,
      name,
      parts.map(([n0, k], i) => [input + n0 * inStep, filter, output + n0 * outStep, scratch + 4 * i * scratchFloats, k, ...g.slice(1), PATCH_CHUNK]),
    ),
  );
}

/** The name of the wasm kernel behind `convPerExampleSum` (forgetless's own, no tfjs op has it). */
const CONV_PER_EXAMPLE_SUM = 'ForgetlessConvPerExampleFilterGradSum';

/**
 * Σ_n stat(g_n) over the examples n of a batch, g_n = ∂W of example n alone (the filter gradient of
 * a Conv2D for x[n], dy[n]), stat = square ('square', the empirical Fisher's diagonal) or absolute
 * value ('abs'): per example the SIMD filter gradient (`pw_filter_grad` for 1×1 unit-stride filters,
 * else `conv_filter_grad`) into a scratch buffer, then added to the sum (no per-example tensors, no
 * transposed copy of x). x: [N, H, W, C], dy: [N, Ho, Wo, O] → [kh, kw, C, O]. On wasm under 'auto'
 * where the module runs; undefined elsewhere (the caller's own formulation then serves).
 */
export function convPerExampleSum(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly number[],
  strides: number | readonly number[],
  pad: 'same' | 'valid' | readonly (readonly number[])[],
  dilations: number | readonly number[],
  stat: 'square' | 'abs',
): tf.Tensor4D | undefined {
  if (!simdPerExampleSumsOn() || tf.getBackend() !== 'wasm' || !simdKernelsFor(tf.backend(), x, dy)) return undefined;
  ensureSimdKernel(CONV_PER_EXAMPLE_SUM, (ex, backend, inputs, attrs) => convPerExampleKernel(ex, backend, inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo, attrs as never));
  return tf.engine().runKernel(CONV_PER_EXAMPLE_SUM, { x, dy }, { strides, pad, dilations, filterShape, stat } as never) as tf.Tensor4D;
}

function convPerExampleKernel(ex: Exports, backend: unknown, x: tf.TensorInfo, dy: tf.TensorInfo, attrs: ConvAttrs & { filterShape: unknown; stat: unknown }): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const filterShape = attrs.filterShape as number[];
  const [kh, kw, c, o] = filterShape as [number, number, number, number];
  if (x.shape.length !== 4 || dy.shape.length !== 4 || filterShape.length !== 4)
    throw new Error(`${CONV_PER_EXAMPLE_SUM}: expected x and dy of rank 4 and a filter shape [kh, kw, C, O], got x [${x.shape}], dy [${dy.shape}], filter [${filterShape}]`);
  const info = convGeometry(CONV_PER_EXAMPLE_SUM, x.shape, filterShape, attrs);
  if (x.shape[3] !== c || dy.shape[0] !== x.shape[0] || dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== o)
    throw new Error(`${CONV_PER_EXAMPLE_SUM}: x [${x.shape}] and dy [${dy.shape}] do not fit filter [${filterShape}] (output [${info.outShape}])`);
  const out = b.makeOutput([kh, kw, c, o], 'float32');
  const len = kh * kw * c * o;
  if (len === 0) return out;
  const n = info.batchSize;
  const square = attrs.stat === 'square' ? 1 : 0;
  const pixels = info.inHeight * info.inWidth;
  const positions = info.outHeight * info.outWidth;
  const pointwise = isPointwise(filterShape, attrs);
  const k = kh * kw * c;
  const k4 = (k + 3) & ~3;
  const kb = Math.min(k4, filterGradBlock(k4, o));
  const patch = pointwise ? 0 : PATCH_CHUNK * kb + (k4 > k ? k4 * o : 0);
  const geometry = geometryArgs(info, filterShape);
  geometry[0] = 1; // one example at a time
  if (n === 0) {
    new Float32Array(b.wasm.HEAPU8.buffer, heapOffset(b, out), len).fill(0);
    return out;
  }
  // ranges of examples (`conv_example_sums`: per example the filter gradient into scratch, then added), split
  // over the kernel threads where the call is large enough, each range's sum apart (the first into the output), then added
  const t = Math.min(simdThreads(b), n);
  const parts = t < 2 || n * positions * k * o < MIN_SPLIT_WORK ? [[0, n] as [number, number]] : splitRange(n, t);
  const [ox, ody] = [heapOffset(b, x), heapOffset(b, dy)];
  slicedSums(ex, b, 'conv_example_sums', heapOffset(b, out), len, parts.length, len + patch, (i, sum, own) => {
    const [e0, count] = parts[i] as [number, number];
    return [ox + e0 * pixels * c * 4, ody + e0 * positions * o * 4, sum, own, count, ...geometry.slice(1), PATCH_CHUNK, kb, pointwise ? 1 : 0, square];
  });
  return out;
}

/** The name of the wasm kernel behind `tapAbsSums`. */
const TAP_ABS_SUMS = 'ForgetlessTapAbsSums';

/** A convolution's zero padding on each side (explicit: 'same', 'valid' and causal resolved by the caller). */
export interface TapPads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/**
 * SIG's signal of a convolution's kernel taps: out[a, b, c] = Σ_n mean over output positions (i, j)
 * of |xp[n, i·sh + a·dh, j·sw + b·dw, c]|, xp = x zero-padded by `pads` (the padding's zeros count
 * as inputs of value 0): [kh, kw, C], in one kernel call (`tap_abs_sums`: each tap read from x in
 * place, no tap views, no matMul). On wasm under 'auto' where the module runs and
 * `setSimdPerExampleSums` left the importances' kernels on; undefined elsewhere.
 */
export function tapAbsSums(
  x: tf.Tensor4D,
  kernelSize: readonly [number, number],
  strides: readonly [number, number],
  dilation: readonly [number, number],
  pads: TapPads,
): tf.Tensor3D | undefined {
  if (!simdPerExampleSumsOn() || tf.getBackend() !== 'wasm' || !simdKernelsFor(tf.backend(), x)) return undefined;
  ensureSimdKernel(TAP_ABS_SUMS, (ex, backend, inputs, attrs) => {
    const b = backend as WasmHeapBackend;
    const xi = inputs.x as tf.TensorInfo;
    const [kh, kw] = attrs.kernelSize as [number, number];
    const [sh, sw] = attrs.strides as [number, number];
    const [dh, dw] = attrs.dilation as [number, number];
    const p = attrs.pads as unknown as TapPads;
    const [n, h, w, c] = xi.shape as [number, number, number, number];
    const ho = Math.max(0, Math.floor((h + p.top + p.bottom - (kh - 1) * dh - 1) / sh) + 1);
    const wo = Math.max(0, Math.floor((w + p.left + p.right - (kw - 1) * dw - 1) / sw) + 1);
    const out = b.makeOutput([kh, kw, c], 'float32');
    const k = kh * kw * c;
    if (k === 0) return out;
    withScratch(b, k, (row) => ex.tap_abs_sums(heapOffset(b, xi), heapOffset(b, out), row, n, h, w, c, ho, wo, kh, kw, sh, sw, dh, dw, p.top, p.left));
    return out;
  });
  const bad = [...kernelSize, ...strides, ...dilation].some((v) => !Number.isInteger(v) || v < 1) || Object.values(pads).some((v) => !Number.isInteger(v) || v < 0);
  if (x.rank !== 4 || bad)
    throw new Error(
      `tapAbsSums: expected x [N, H, W, C] and positive integer kernel size, strides and dilation, non-negative pads; got x [${x.shape}], kernel [${kernelSize}], strides [${strides}], dilation [${dilation}], pads ${JSON.stringify(pads)}`,
    );
  return tf.engine().runKernel(TAP_ABS_SUMS, { x }, { kernelSize, strides, dilation, pads } as never) as tf.Tensor3D;
}
