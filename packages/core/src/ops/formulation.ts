/**
 * How forgetless's registered conv gradients are formulated (see `gradients.ts`):
 * - `'auto'` (default): per op and shape, the fastest of the formulations below as measured on wasm
 *   (`gradients.ts` says which where), and on wasm forgetless's Identity, Sum, Mean and LeakyRelu
 *   kernels in place of the stock ones (`wasm-kernels.ts`) and its WebAssembly SIMD kernels:
 *   depthwise convolutions, forward and both gradients (`depthwise-simd.ts`); 1×1 unit-stride
 *   convolutions, forward and both gradients, the forward of convolutions with fewer than 8 input
 *   channels, and the filter gradient of every other convolution (`gemm-simd.ts`); training-mode batch
 *   norm, ReLU6 and its gradient (`norm-simd.ts`); and a PadV2 in place (`wasm-kernels.ts`).
 * - `'composed'`: 'auto' without those SIMD kernels and that PadV2: depthwise gradients composed of
 *   tfjs ops (`depthwise.ts`), 1×1 gradients as matMuls, other filter gradients by im2col (from forward
 *   convolutions at stride > 1 with fewer than 8 input channels), batch norm and ReLU6's gradient of tfjs ops,
 *   tfjs-backend-wasm's own depthwise, 1×1 and few-channel forward (XNNPACK), Relu6 and PadV2. Kept for
 *   comparison (the benchmark's "before") and as the fallback where the SIMD module cannot run.
 * - `'im2col'`: forgetless's previous default, kept for comparison: matrix products over patches (`im2col.ts`): ∂W = Xᵀ·δ, ∂x = col2im(δ·Wᵀ),
 *   1×1 kernels as plain matMuls; taps and pooling windows as rank-4 slices (`windows.ts`); on wasm,
 *   a Slice kernel that copies in place (`wasm-kernels.ts`).
 * - `'forward-conv'`: forgetless 0.1's formulation, gradients as forward convolutions
 *   (`conv2d.ts`), pooling windows by StridedSlice, tfjs-backend-wasm's own Slice kernel. Kept for
 *   comparison (the benchmark's "before" rows).
 */
export type ConvFormulation = 'auto' | 'composed' | 'im2col' | 'forward-conv';

/** 'auto' or 'composed': the per-op choices of 'auto' (they differ only in forgetless's SIMD kernels on wasm). */
export function isAutoFormulation(f: ConvFormulation = current): boolean {
  return f === 'auto' || f === 'composed';
}

let current: ConvFormulation = 'auto';

export function getConvFormulation(): ConvFormulation {
  return current;
}

/** Sets the formulation; wasm's kernels follow it (`ensureWasmKernels`). */
export function setConvFormulation(f: ConvFormulation): void {
  if (f !== 'auto' && f !== 'composed' && f !== 'im2col' && f !== 'forward-conv')
    throw new Error(`setConvFormulation: expected 'auto', 'composed', 'im2col' or 'forward-conv', got '${String(f)}'`);
  current = f;
  for (const listener of listeners) listener(f);
}

/** Runs fn under a formulation, restoring the previous one afterwards. */
export function withConvFormulation<T>(f: ConvFormulation, fn: () => T): T {
  const prev = current;
  setConvFormulation(f);
  try {
    return fn();
  } finally {
    setConvFormulation(prev);
  }
}

const listeners: Array<(f: ConvFormulation) => void> = [];

/** Called with the new formulation on every change (wasm's Slice kernel follows it). */
export function onConvFormulation(listener: (f: ConvFormulation) => void): void {
  listeners.push(listener);
}

let fusion = true;

/**
 * Runs `fn` with forgetless's layer fusions on or off (default on; restored after `fn`, also when it
 * throws or its promise settles). Under 'auto' on wasm with the SIMD kernels, graph and sequential
 * models run a batch norm whose only consumer is a ReLU6 as one kernel each way, and a graph folds a
 * ZeroPadding2D whose only consumer is a 'valid' depthwise convolution into the convolution's explicit
 * padding. Off, they run apart, as before (for comparison: tests, benchmarks).
 */
export function withLayerFusion<T>(on: boolean, fn: () => T): T {
  const before = fusion;
  fusion = on;
  let r: T;
  try {
    r = fn();
  } catch (e) {
    fusion = before;
    throw e;
  }
  if (r instanceof Promise) return r.finally(() => (fusion = before)) as T;
  fusion = before;
  return r;
}

/** Whether layer fusions are on (`withLayerFusion`). */
export function layerFusionOn(): boolean {
  return fusion;
}
