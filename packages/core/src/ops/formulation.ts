/**
 * How forgetless's registered conv gradients are formulated (see `gradients.ts`):
 * - `'auto'` (default): per op and shape, the fastest of the formulations below as measured on wasm
 *   (`gradients.ts` says which where), and on wasm forgetless's Identity, Sum, Mean and LeakyRelu
 *   kernels in place of the stock ones (`wasm-kernels.ts`) and its WebAssembly SIMD depthwise
 *   convolution kernels, forward and both gradients (`depthwise-simd.ts`).
 * - `'composed'`: 'auto' without the SIMD depthwise kernels: depthwise gradients composed of tfjs
 *   ops (`depthwise.ts`), tfjs-backend-wasm's own depthwise forward (XNNPACK). The previous 'auto',
 *   kept for comparison and as the fallback where the SIMD module cannot run.
 * - `'im2col'`: forgetless's previous default, kept for comparison: matrix products over patches (`im2col.ts`): ∂W = Xᵀ·δ, ∂x = col2im(δ·Wᵀ),
 *   1×1 kernels as plain matMuls; taps and pooling windows as rank-4 slices (`windows.ts`); on wasm,
 *   a Slice kernel that copies in place (`wasm-kernels.ts`).
 * - `'forward-conv'`: forgetless 0.1's formulation, gradients as forward convolutions
 *   (`conv2d.ts`), pooling windows by StridedSlice, tfjs-backend-wasm's own Slice kernel. Kept for
 *   comparison (the benchmark's "before" rows).
 */
export type ConvFormulation = 'auto' | 'composed' | 'im2col' | 'forward-conv';

/** 'auto' or 'composed': the per-op choices of 'auto' (they differ only in the depthwise kernels on wasm). */
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
