/**
 * forgetless's WebAssembly SIMD depthwise convolution kernels (`depthwise-simd.c`) on
 * tfjs-backend-wasm: DepthwiseConv2dNative, DepthwiseConv2dNativeBackpropInput and
 * DepthwiseConv2dNativeBackpropFilter, NHWC, float32, any kernel size, stride, dilation, padding
 * ('same', 'valid', explicit) and depth multiplier that tfjs's op accepts. The module imports
 * tfjs-wasm's own memory, so it reads the inputs and writes the output in place at the tensors' heap
 * offsets (no copies); depth multiplier M > 1 takes one scratch buffer from tfjs's `_malloc`.
 *
 * Usable when the backend is wasm, the formulation is 'auto' (`formulation.ts`), tfjs has not been
 * told to do without SIMD (`WASM_HAS_SIMD_SUPPORT` false) and the engine validates the module: the one-thread builds get the variant importing an ordinary memory,
 * the threaded build the one importing its shared memory (the kernels themselves run on one thread).
 * Otherwise `depthwiseSimd` returns undefined and the callers fall back to the composed formulations.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DEPTHWISE_SIMD_SHARED_WASM, DEPTHWISE_SIMD_WASM } from './depthwise-simd.wasm.js';
import { getConvFormulation } from './formulation.js';
import { MAX_SLICES, MIN_SPLIT_VALUES, prepareKernelThreads, runSlices, slicesFor, splitRange, threadsFor } from './kernel-threads.js';

type Kernel17 = (...args: number[]) => void;
export interface Exports {
  dw_forward: Kernel17;
  dw_input_grad: Kernel17;
  dw_filter_grad: Kernel17;
  dw_expand(x: number, xe: number, pixels: number, c: number, m: number): void;
  dw_reduce(dxe: number, dx: number, pixels: number, c: number, m: number): void;
  dw_accumulate(g: number, acc: number, len: number, square: number, first: number): void;
  /** acc += g over len floats (partial sums of the kernel threads). */
  add_into(g: number, acc: number, len: number): void;
  /** `norm-simd.c`, linked into the same module (`norm-simd.ts`). */
  bn_forward(x: number, gamma: number, beta: number, y: number, mean: number, variance: number, rstd: number, p: number, c: number, eps: number): void;
  bn_backward(x: number, dy: number, gamma: number, mean: number, rstd: number, dx: number, dgamma: number, dbeta: number, p: number, c: number): void;
  relu6_grad(x: number, dy: number, dx: number, n: number): void;
  relu6(x: number, y: number, n: number): void;
  /** `gemm-simd.c` (`gemm-simd.ts`). */
  pw_forward(x: number, w: number, y: number, p: number, c: number, o: number): void;
  pw_filter_grad(x: number, dy: number, dw: number, p: number, c: number, o: number): void;
  pw_input_grad(dy: number, w: number, wt: number, dx: number, p: number, c: number, o: number): void;
  /** ∂W of a general convolution over patches built a chunk at a time (`gemm-simd.c`): x, dy, dw, scratch, then N, H, W, C, Ho, Wo, O, kh, kw, sh, sw, dh, dw, pt, pl, kc. */
  conv_filter_grad(...args: number[]): void;
  /** The forward of the same convolutions (`gemm-simd.c`): x, w, y, scratch, then N, H, W, C, Ho, Wo, O, kh, kw, sh, sw, dh, dw, pt, pl, kc. */
  conv_forward(...args: number[]): void;
  /** ∂x of the same convolutions (`gemm-simd.c`): dy, w, dx, scratch, then N, H, W, C, Ho, Wo, O, kh, kw, sh, sw, dh, dw, pt, pl, kc. */
  conv_input_grad(...args: number[]): void;
  /** SIG's signal under each kernel tap (`gemm-simd.c`): x, out, row scratch, then N, H, W, C, Ho, Wo, kh, kw, sh, sw, dh, dw, pt, pl. */
  tap_abs_sums(...args: number[]): void;
  /** Max pooling's ∂x (`pool-simd.c`): x, y, dy, dx, then N, H, W, C, Ho, Wo, kh, kw, sh, sw, pt, pl. */
  max_pool_grad(...args: number[]): void;
  /** Average pooling's ∂x (`pool-simd.c`): dy, dx, then N, H, W, C, Ho, Wo, kh, kw, sh, sw, pt, pl. */
  avg_pool_grad(...args: number[]): void;
}

export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(id: unknown): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: unknown }; wasmMemory?: unknown; _malloc(bytes: number): number; _free(ptr: number): void };
}

/** Per memory: the instance, or null when the module cannot be used there (no SIMD, compile refused). */
const instances = new WeakMap<object, Exports | null>();
/** Per memory: the compiled module and its export names (what the kernel threads instantiate, `kernel-threads.ts`). */
const modules = new WeakMap<object, { mod: WebAssembly.Module; names: string[] }>();
/** Per memory: why the module cannot be used there, or how it was compiled. */
const notes = new WeakMap<object, { reason?: string; compile?: 'sync' | 'async' }>();
let disabled = false;
/** Calls of each kernel since the module was first bound, over every memory (`simdKernelsStatus`). */
const calls: Record<string, number> = {};

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** tfjs-wasm's memory: exported by its one-thread builds (`asm.memory`), created and imported by the threaded one (`wasmMemory`). */
function memoryOf(backend: WasmHeapBackend): WebAssembly.Memory | undefined {
  const m = backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory;
  return m instanceof WebAssembly.Memory ? m : undefined;
}

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** The variant for this memory: shared (threaded build) or not. */
function bytesFor(memory: WebAssembly.Memory): Uint8Array<ArrayBuffer> {
  return decode(isShared(memory) ? DEPTHWISE_SIMD_SHARED_WASM : DEPTHWISE_SIMD_WASM);
}

/** The counted exports → the module's own functions (what `sliced` runs: a split call counts once, whichever threads run its slices). */
const uncounted = new WeakMap<object, Record<string, (...args: number[]) => void>>();

/** The exports, each counting its calls (a diagnostic: `simdKernelsStatus().calls`). */
function counted(raw: Record<string, unknown>): Exports {
  const out: Record<string, unknown> = {};
  uncounted.set(out, raw as Record<string, (...args: number[]) => void>);
  for (const [name, f] of Object.entries(raw)) {
    if (typeof f !== 'function') continue;
    calls[name] ??= 0;
    const fn = f as (...args: number[]) => unknown;
    out[name] = (...args: number[]) => {
      calls[name] = (calls[name] as number) + 1;
      return fn(...args);
    };
  }
  return out as unknown as Exports;
}

function instantiate(memory: WebAssembly.Memory, mod: WebAssembly.Module): Exports {
  const raw = new WebAssembly.Instance(mod, { env: { memory } }).exports as Record<string, unknown>;
  modules.set(memory, { mod, names: Object.keys(raw).filter((n) => typeof raw[n] === 'function') });
  return counted(raw);
}

const message = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * The kernels bound to this backend's memory, or undefined when they cannot run there: tfjs's
 * `WASM_HAS_SIMD_SUPPORT` is false, the engine does not validate the module (no SIMD), no memory is reachable, or (browsers' main thread, which
 * refuses to compile large modules synchronously) the asynchronous compile started by
 * `prepareDepthwiseSimd` has not finished yet. `useBackend('wasm')` awaits that compile, so after it
 * the kernels serve from the first op on.
 */
export function depthwiseSimd(backend: unknown): Exports | undefined {
  if (disabled || simdTurnedOff()) return undefined;
  const b = backend as WasmHeapBackend;
  const memory = memoryOf(b);
  if (!memory) return undefined;
  const known = instances.get(memory);
  if (known !== undefined) return known ?? undefined;
  if (pending.has(memory)) return undefined; // compiling asynchronously
  const bytes = bytesFor(memory);
  if (!WebAssembly.validate(bytes)) {
    unusable(memory, 'the engine does not validate the module (no WebAssembly SIMD)');
    return undefined;
  }
  let mod: WebAssembly.Module;
  try {
    mod = new WebAssembly.Module(bytes);
  } catch {
    // synchronous compile refused: compile asynchronously, the composed formulations serve meanwhile
    void prepareDepthwiseSimd(backend);
    return undefined;
  }
  return bind(memory, mod, 'sync') ?? undefined;
}

function unusable(memory: WebAssembly.Memory, reason: string): null {
  instances.set(memory, null);
  notes.set(memory, { reason });
  return null;
}

/** Instantiates the module on this memory (null, remembered, when the memory does not fit its import). */
function bind(memory: WebAssembly.Memory, mod: WebAssembly.Module, compile: 'sync' | 'async'): Exports | null {
  let ex: Exports;
  try {
    ex = instantiate(memory, mod);
  } catch (e) {
    return unusable(memory, `instantiating on tfjs-wasm's memory failed: ${message(e)}`);
  }
  instances.set(memory, ex);
  notes.set(memory, { compile });
  return ex;
}

/**
 * tfjs told not to use SIMD (`WASM_HAS_SIMD_SUPPORT` set false: `useBackend('wasm', { simd: false })`,
 * or an engine without it): then no SIMD here either, so that "wasm without SIMD" means what it says.
 */
function simdTurnedOff(): boolean {
  const flags = (tf.env() as unknown as { flags: Record<string, unknown> }).flags;
  return flags.WASM_HAS_SIMD_SUPPORT === false;
}

const pending = new WeakMap<object, Promise<void>>();

/**
 * Compiles and instantiates the kernels for this backend's memory asynchronously (what browsers'
 * main thread needs: it refuses to compile large modules synchronously); resolves when done or found
 * unusable. A no-op where the module is bound already, or where tfjs is told not to use SIMD.
 */
export function prepareDepthwiseSimd(backend: unknown): Promise<void> {
  const memory = memoryOf(backend as WasmHeapBackend);
  if (!memory || instances.has(memory) || simdTurnedOff()) return Promise.resolve();
  let p = pending.get(memory);
  if (!p) {
    const bytes = bytesFor(memory);
    if (!WebAssembly.validate(bytes)) {
      unusable(memory, 'the engine does not validate the module (no WebAssembly SIMD)');
      return Promise.resolve();
    }
    p = WebAssembly.compile(bytes).then(
      (mod) => void bind(memory, mod, 'async'),
      (e) => void unusable(memory, `compiling the module failed: ${message(e)}`),
    );
    pending.set(memory, p);
    void p.finally(() => pending.delete(memory));
  }
  return p;
}

/** Whether forgetless's SIMD depthwise kernels run on the active backend (wasm, the module validated and bound to its memory), whatever the formulation. */
export function depthwiseSimdAvailable(): boolean {
  return tf.getBackend() === 'wasm' && depthwiseSimd(tf.backend()) !== undefined;
}

/** What `simdKernelsStatus` tells. */
export interface SimdKernelsStatus {
  /** The kernels are bound to the active wasm backend's memory: under the 'auto' formulation the ops they serve run on them. */
  active: boolean;
  /**
   * 'active'; 'compiling' (the asynchronous compile, browsers' main thread, has not finished:
   * `whenSimdKernelsReady`); 'not-wasm' (another backend is active); 'simd-off' (tfjs told not to use
   * SIMD); 'disabled' (`disableDepthwiseSimd(true)`); 'no-memory' (tfjs-wasm's memory out of reach);
   * 'unusable' (see `reason`).
   */
  state: 'active' | 'compiling' | 'not-wasm' | 'simd-off' | 'disabled' | 'no-memory' | 'unusable';
  /** The module's variant for tfjs-wasm's memory: 'single-thread' (an ordinary memory, tfjs's one-thread builds) or 'shared-memory' (tfjs's threaded build). */
  variant?: 'single-thread' | 'shared-memory';
  /**
   * How the module was compiled: 'async' when `useBackend('wasm')` (or `whenSimdKernelsReady()`) compiled it
   * ahead of the first op (Node, browsers and workers alike), 'sync' when it was compiled at its first use
   * (the backend set by `tf.setBackend`, where the engine allows a synchronous compile).
   */
  compile?: 'sync' | 'async';
  /** Why the module cannot be used, when `state` is 'unusable'. */
  reason?: string;
  /** Calls of each kernel (the module's exports) since it was first bound, over every wasm backend of this realm. */
  calls: Record<string, number>;
}

/**
 * A diagnostic: whether forgetless's WebAssembly SIMD kernels run on the active backend, which
 * variant, and how often each kernel has been called. Starts the module's compile if none has been
 * tried (so a first call on a browser's main thread may say 'compiling': `whenSimdKernelsReady`).
 */
export function simdKernelsStatus(): SimdKernelsStatus {
  const base = { active: false, calls: { ...calls } };
  if (tf.getBackend() !== 'wasm') return { ...base, state: 'not-wasm' };
  if (disabled) return { ...base, state: 'disabled' };
  if (simdTurnedOff()) return { ...base, state: 'simd-off' };
  const memory = memoryOf(tf.backend() as unknown as WasmHeapBackend);
  if (!memory) return { ...base, state: 'no-memory' };
  const ex = depthwiseSimd(tf.backend());
  const variant = isShared(memory) ? 'shared-memory' : 'single-thread';
  const note = notes.get(memory) ?? {};
  if (ex) return { active: true, state: 'active', variant, ...(note.compile ? { compile: note.compile } : {}), calls: { ...calls } };
  if (pending.has(memory)) return { ...base, state: 'compiling', variant };
  return { ...base, state: 'unusable', variant, ...(note.reason ? { reason: note.reason } : {}) };
}

/**
 * `simdKernelsStatus` once the module's compile for the active wasm backend (asynchronous in browsers)
 * has finished, and, on tfjs's threaded build, the kernel threads have started (`kernel-threads.ts`):
 * for an application that activates wasm with `tf.setBackend` rather than `useBackend`.
 */
export async function whenSimdKernelsReady(): Promise<SimdKernelsStatus> {
  if (tf.getBackend() === 'wasm' && !disabled) await prepareSimdThreads(tf.backend());
  return simdKernelsStatus();
}

/** Turns the SIMD kernels off (true) or back on, so the fallback (the composed formulations) can be exercised; for tests and comparisons. */
export function disableDepthwiseSimd(off: boolean): void {
  disabled = off;
}

/** The SIMD kernels, when the formulation is 'auto', the backend wasm, the tensors float32 and the module usable here. */
export function simdKernelsFor(backend: unknown, ...tensors: tf.TensorInfo[]): Exports | undefined {
  if (getConvFormulation() !== 'auto' || tensors.some((t) => t.dtype !== 'float32')) return undefined;
  return depthwiseSimd(backend);
}

/**
 * Starts forgetless's kernel threads for this backend: as many as tfjs-wasm's threaded build runs
 * (its `getThreadsCount()`), unless `setKernelThreads` says otherwise (see `kernel-threads.ts`), once
 * the module is bound; resolves when they are ready. A no-op on the one-thread builds.
 */
export async function prepareSimdThreads(backend: unknown): Promise<void> {
  await prepareDepthwiseSimd(backend);
  const memory = memoryOf(backend as WasmHeapBackend);
  const m = memory ? modules.get(memory) : undefined;
  if (!memory || !m || !instances.get(memory)) return;
  let threads = 1;
  try {
    threads = (backend as { wasm?: { tfjs?: { getThreadsCount?: () => number } } }).wasm?.tfjs?.getThreadsCount?.() ?? 1;
  } catch {
    threads = 1;
  }
  await prepareKernelThreads(memory, m.mod, m.names, threads);
}

/** Threads a kernel call on this backend splits over (1 without kernel threads). */
export function simdThreads(backend: unknown): number {
  return threadsFor(memoryOf(backend as WasmHeapBackend));
}

/** Runs slices of one export's work on the kernel threads (`runSlices`): slices[i] the arguments of slice i; counted as one call of the export. */
export function sliced(ex: Exports, backend: unknown, name: string, slices: number[][]): void {
  const fns = uncounted.get(ex) ?? (ex as unknown as Record<string, (...v: number[]) => void>);
  // one call of the kernel in `simdKernelsStatus().calls`, however many slices and threads run it
  if (uncounted.has(ex)) calls[name] = (calls[name] ?? 0) + 1;
  runSlices(
    memoryOf(backend as WasmHeapBackend),
    (n, a) => {
      const f = fns[n];
      if (!f) throw new Error(`forgetless's kernels' module has no export ${n}`);
      f(...a);
    },
    name,
    slices,
  );
}

/**
 * `sliced` for a kernel whose slices each write a sum of `len` floats (a filter gradient, per-example
 * sums over a range of examples): slice 0's into `out`, each other's into scratch, then added into
 * `out`. Each slice also gets `work` floats of scratch of its own. args(i, sum, scratch): slice i's
 * arguments, given where it writes its sum and its own scratch.
 */
export function slicedSums(
  ex: Exports,
  backend: unknown,
  name: string,
  out: number,
  len: number,
  slices: number,
  work: number,
  args: (i: number, sum: number, scratch: number) => number[],
): void {
  const b = backend as WasmHeapBackend;
  const scratch = b.wasm._malloc(4 * Math.max(1, (slices - 1) * len + slices * work));
  try {
    const sum = (i: number) => (i === 0 ? out : scratch + 4 * (i - 1) * len);
    const own = (i: number) => scratch + 4 * ((slices - 1) * len + i * work);
    sliced(
      ex,
      backend,
      name,
      Array.from({ length: slices }, (_, i) => args(i, sum(i), own(i))),
    );
    for (let i = 1; i < slices; i++) ex.add_into(sum(i), out, len);
  } finally {
    b.wasm._free(scratch);
  }
}

type Attrs = { strides: unknown; pad: unknown; dilations?: unknown; dimRoundingMode?: unknown; dataFormat?: unknown };

function convInfo(xShape: number[], filterShape: number[], a: Attrs): tf.backend_util.Conv2DInfo {
  if (a.dataFormat !== undefined && a.dataFormat !== 'NHWC') throw new Error(`depthwise convolution on wasm (forgetless): only NHWC is supported, got ${String(a.dataFormat)}`);
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides as number | [number, number],
    (a.dilations ?? 1) as number | [number, number],
    a.pad as 'same',
    a.dimRoundingMode as 'round' | undefined,
    true,
  );
}

/** The 17 geometry arguments of the C kernels (N, H, W, K = C·M, kh, kw, sh, sw, dh, dw, pt, pl, Ho, Wo) after the three pointers. */
function geometryArgs(info: tf.backend_util.Conv2DInfo, k: number): number[] {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    k,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.outHeight,
    info.outWidth,
  ];
}

/** A tensor's byte offset in tfjs-wasm's heap (where the SIMD kernels read and write it in place). */
export const heapOffset = (b: WasmHeapBackend, t: tf.TensorInfo) => b.dataIdMap.get(t.dataId).memoryOffset;
const size = (shape: readonly number[]) => shape.reduce((a, v) => a * v, 1);

/** y = depthwiseConv2d(x, filter) (DepthwiseConv2dNative's attributes). */
export function simdDepthwiseForward(ex: Exports, backend: unknown, x: tf.TensorInfo, filter: tf.TensorInfo, attrs: Attrs): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const info = convInfo(x.shape, filter.shape, attrs);
  const [c, m] = [info.inChannels, filter.shape[3] as number];
  const out = b.makeOutput(info.outShape, 'float32');
  if (size(info.outShape) === 0) return out;
  const g = geometryArgs(info, c * m);
  if (m === 1) {
    byImages(ex, b, 'dw_forward', heapOffset(b, x), heapOffset(b, filter), heapOffset(b, out), g, info.inHeight * info.inWidth * c, size(info.outShape.slice(1)));
    return out;
  }
  const pixels = info.batchSize * info.inHeight * info.inWidth;
  const xe = b.wasm._malloc(pixels * c * m * 4);
  try {
    ex.dw_expand(heapOffset(b, x), xe, pixels, c, m);
    ex.dw_forward(xe, heapOffset(b, filter), heapOffset(b, out), ...g);
  } finally {
    b.wasm._free(xe);
  }
  return out;
}

/**
 * A per-image depthwise kernel (forward, or ∂x) over the batch: the images split over the kernel
 * threads where the call is large enough, each slice the same kernel on its images (the same values,
 * bit for bit, as one call). inStep, outStep: floats of one image of the kernel's input and output.
 */
function byImages(
  ex: Exports,
  b: WasmHeapBackend,
  name: 'dw_forward' | 'dw_input_grad',
  input: number,
  w: number,
  output: number,
  g: number[],
  inStep: number,
  outStep: number,
): void {
  const n = g[0] as number;
  const t = Math.min(simdThreads(b), n);
  if (t < 2 || n * Math.max(inStep, outStep) < MIN_SPLIT_VALUES) {
    ex[name](input, w, output, ...g);
    return;
  }
  sliced(
    ex,
    b,
    name,
    splitRange(n, Math.min(n, MAX_SLICES)).map(([n0, k]) => [input + 4 * n0 * inStep, w, output + 4 * n0 * outStep, k, ...g.slice(1)]),
  );
}

/** dx of y = depthwiseConv2d(x, filter) for dy (DepthwiseConv2dNativeBackpropInput's attributes). */
export function simdDepthwiseInputGrad(ex: Exports, backend: unknown, dy: tf.TensorInfo, filter: tf.TensorInfo, attrs: Attrs & { inputShape: unknown }): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const inputShape = attrs.inputShape as number[];
  const info = convInfo(inputShape, filter.shape, attrs);
  checkDy(dy, info, 'DepthwiseConv2dNativeBackpropInput');
  const [c, m] = [info.inChannels, filter.shape[3] as number];
  const out = b.makeOutput(inputShape, 'float32');
  if (size(inputShape) === 0) return out;
  const g = geometryArgs(info, c * m);
  if (m === 1) {
    byImages(ex, b, 'dw_input_grad', heapOffset(b, dy), heapOffset(b, filter), heapOffset(b, out), g, size(info.outShape.slice(1)), info.inHeight * info.inWidth * c);
    return out;
  }
  const pixels = info.batchSize * info.inHeight * info.inWidth;
  const dxe = b.wasm._malloc(pixels * c * m * 4);
  try {
    ex.dw_input_grad(heapOffset(b, dy), heapOffset(b, filter), dxe, ...g);
    ex.dw_reduce(dxe, heapOffset(b, out), pixels, c, m);
  } finally {
    b.wasm._free(dxe);
  }
  return out;
}

/** dfilter of y = depthwiseConv2d(x, filter) for dy (DepthwiseConv2dNativeBackpropFilter's attributes). */
export function simdDepthwiseFilterGrad(ex: Exports, backend: unknown, x: tf.TensorInfo, dy: tf.TensorInfo, attrs: Attrs & { filterShape: unknown }): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const filterShape = attrs.filterShape as number[];
  const info = convInfo(x.shape, filterShape, attrs);
  checkDy(dy, info, 'DepthwiseConv2dNativeBackpropFilter');
  const [c, m] = [info.inChannels, filterShape[3] as number];
  const out = b.makeOutput(filterShape, 'float32');
  if (size(filterShape) === 0) return out;
  const g = geometryArgs(info, c * m);
  const pixels = info.batchSize * info.inHeight * info.inWidth;
  if (m === 1 || pixels === 0) {
    const t = Math.min(simdThreads(b), info.batchSize);
    if (t < 2 || pixels * c < MIN_SPLIT_VALUES) {
      ex.dw_filter_grad(heapOffset(b, x), heapOffset(b, dy), heapOffset(b, out), ...g);
      return out;
    }
    // images split over the threads, each slice's ∂W apart (the first into the output), then added
    const parts = splitRange(info.batchSize, Math.min(info.batchSize, slicesFor(t, 2)));
    const [xo, dyo, xs, dys] = [heapOffset(b, x), heapOffset(b, dy), info.inHeight * info.inWidth * c * 4, info.outHeight * info.outWidth * c * 4];
    slicedSums(ex, b, 'dw_filter_grad', heapOffset(b, out), size(filterShape), parts.length, 0, (i, sum) => {
      const [n0, n] = parts[i] as [number, number];
      return [xo + n0 * xs, dyo + n0 * dys, sum, n, ...g.slice(1)];
    });
    return out;
  }
  const xe = b.wasm._malloc(pixels * c * m * 4);
  try {
    ex.dw_expand(heapOffset(b, x), xe, pixels, c, m);
    ex.dw_filter_grad(xe, heapOffset(b, dy), heapOffset(b, out), ...g);
  } finally {
    b.wasm._free(xe);
  }
  return out;
}

function checkDy(dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, kernel: string): void {
  const want = info.outShape;
  if (dy.shape.length !== 4 || dy.shape.some((v, i) => v !== want[i]))
    throw new Error(`${kernel} on wasm (forgetless): dy has shape [${dy.shape}], the convolution's output is [${want}]`);
}

/**
 * Registers `name` (once) as a wasm kernel of forgetless's own that runs `fn` with the SIMD module's
 * exports for the backend's memory (an error naming the kernel where the module does not run there).
 */
export function ensureSimdKernel(
  name: string,
  fn: (ex: Exports, backend: unknown, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) => tf.TensorInfo | tf.TensorInfo[],
): void {
  if (tf.getKernel(name, 'wasm')) return;
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown }) => {
      const ex = depthwiseSimd(backend);
      if (!ex) throw new Error(`${name}: forgetless's SIMD kernels do not run here`);
      return fn(ex, backend, inputs, attrs);
    }) as unknown as tf.KernelFunc,
  });
}

/** The name of the wasm kernel behind `depthwisePerExampleSum` (forgetless's own, no tfjs op has it). */
const PER_EXAMPLE_SUM = 'ForgetlessDepthwisePerExampleFilterGradSum';

/**
 * Σ_n stat(g_n) over the examples n of a batch, g_n = ∂W of example n alone (the filter gradient
 * for x[n], dy[n]), stat = square ('square', the empirical Fisher's diagonal) or absolute value
 * ('abs'): per example the SIMD filter gradient into a scratch buffer, then accumulated (no per-example
 * tensors). x: [N,H,W,C], dy: [N,Ho,Wo,C·M] → [kh,kw,C,M]. On wasm under 'auto' where the module runs;
 * undefined elsewhere (the caller's own formulation then serves).
 */
export function depthwisePerExampleSum(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: readonly number[],
  strides: number | readonly number[],
  pad: 'same' | 'valid' | readonly (readonly number[])[],
  dilations: number | readonly number[],
  stat: 'square' | 'abs',
): tf.Tensor4D | undefined {
  if (tf.getBackend() !== 'wasm' || !simdKernelsFor(tf.backend(), x, dy)) return undefined;
  ensureSimdKernel(PER_EXAMPLE_SUM, (ex, backend, inputs, attrs) => perExampleSum(ex, backend, inputs.x as tf.TensorInfo, inputs.dy as tf.TensorInfo, attrs as never));
  return tf.engine().runKernel(PER_EXAMPLE_SUM, { x, dy }, { strides, pad, dilations, filterShape, stat } as never) as tf.Tensor4D;
}

function perExampleSum(ex: Exports, backend: unknown, x: tf.TensorInfo, dy: tf.TensorInfo, attrs: Attrs & { filterShape: unknown; stat: unknown }): tf.TensorInfo {
  const b = backend as WasmHeapBackend;
  const filterShape = attrs.filterShape as number[];
  const info = convInfo(x.shape, filterShape, attrs);
  checkDy(dy, info, PER_EXAMPLE_SUM);
  const [c, m] = [info.inChannels, filterShape[3] as number];
  const k = c * m;
  const out = b.makeOutput(filterShape, 'float32');
  const len = size(filterShape);
  if (len === 0) return out;
  const g = geometryArgs(info, k);
  g[0] = 1; // one example at a time
  const pixels = info.inHeight * info.inWidth;
  const xStep = pixels * c * 4;
  const dyStep = info.outHeight * info.outWidth * k * 4;
  const square = attrs.stat === 'square' ? 1 : 0;
  if (m === 1 && info.batchSize > 0) {
    // ranges of examples (`dw_example_sums`: the same loop in one call), split over the kernel threads where
    // the call is large enough, each range's sum apart (the first into the output), then added
    const n = info.batchSize;
    const t = Math.min(simdThreads(b), n);
    const parts = t < 2 || n * pixels * c < MIN_SPLIT_VALUES ? [[0, n] as [number, number]] : splitRange(n, t);
    const [xo, dyo] = [heapOffset(b, x), heapOffset(b, dy)];
    slicedSums(ex, b, 'dw_example_sums', heapOffset(b, out), len, parts.length, len, (i, sum, own) => {
      const [n0, count] = parts[i] as [number, number];
      return [xo + n0 * xStep, dyo + n0 * dyStep, sum, own, count, ...g.slice(1), square];
    });
    return out;
  }
  const scratch = b.wasm._malloc(len * 4 + (m > 1 ? pixels * k * 4 : 0));
  try {
    const xe = scratch + len * 4;
    if (info.batchSize === 0) ex.dw_filter_grad(0, 0, heapOffset(b, out), ...g.map((v, i) => (i === 0 ? 0 : v)));
    for (let n = 0; n < info.batchSize; n++) {
      let xn = heapOffset(b, x) + n * xStep;
      if (m > 1) {
        ex.dw_expand(xn, xe, pixels, c, m);
        xn = xe;
      }
      ex.dw_filter_grad(xn, heapOffset(b, dy) + n * dyStep, scratch, ...g);
      ex.dw_accumulate(scratch, heapOffset(b, out), len, square, n === 0 ? 1 : 0);
    }
  } finally {
    b.wasm._free(scratch);
  }
  return out;
}
