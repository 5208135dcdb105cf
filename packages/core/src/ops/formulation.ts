/**
 * How forgetless's registered conv gradients are formulated (see `gradients.ts`):
 * - `'im2col'` (default): matrix products over patches (`im2col.ts`): ∂W = Xᵀ·δ, ∂x = col2im(δ·Wᵀ),
 *   1×1 kernels as plain matMuls; taps and pooling windows as rank-4 slices (`windows.ts`); on wasm,
 *   a Slice kernel that copies in place (`wasm-kernels.ts`).
 * - `'forward-conv'`: forgetless 0.1's formulation, gradients as forward convolutions
 *   (`conv2d.ts`), pooling windows by StridedSlice, tfjs-backend-wasm's own Slice kernel. Kept for
 *   comparison (the benchmark's "before" rows).
 */
export type ConvFormulation = 'im2col' | 'forward-conv';

let current: ConvFormulation = 'im2col';

export function getConvFormulation(): ConvFormulation {
  return current;
}

/** Sets the formulation; wasm's Slice kernel follows it (forgetless's for 'im2col', tfjs's own otherwise). */
export function setConvFormulation(f: ConvFormulation): void {
  if (f !== 'im2col' && f !== 'forward-conv') throw new Error(`setConvFormulation: expected 'im2col' or 'forward-conv', got '${String(f)}'`);
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
