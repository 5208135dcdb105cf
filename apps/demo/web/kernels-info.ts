/**
 * The page's words for forgetless's WebAssembly SIMD kernels in the worker (the 'kernels' message,
 * `simdKernelsStatus()` there): whether they served the ops of the run that just finished.
 */
import type { SimdKernelsStatus } from '@forgetless/core';

/**
 * 'SIMD kernels: on (single-thread, 1234 calls)'; 'SIMD kernels: ready (single-thread), unused by this
 * model' (bound, but the model has none of the ops they serve: an MLP); 'SIMD kernels: off (simd-off)';
 * '' on a backend other than wasm.
 */
export function kernelsText(status: SimdKernelsStatus): string {
  if (status.state === 'not-wasm') return '';
  const calls = Object.values(status.calls).reduce((a, b) => a + b, 0);
  if (status.active && calls === 0) return `SIMD kernels: ready (${status.variant ?? 'unknown variant'}), unused by this model`;
  if (status.active) return `SIMD kernels: on (${status.variant ?? 'unknown variant'}, ${calls} calls)`;
  return `SIMD kernels: off (${status.state}${status.reason ? `: ${status.reason}` : ''})`;
}
