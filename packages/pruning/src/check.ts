/** Argument checks shared by the pruning functions: each error names the function and the value at fault. */

/** A sparsity is a fraction of entries removed, in [0, 1). */
export function checkSparsity(value: unknown, what: string, label = 'sparsity'): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new Error(`${what}: ${label} must be a number in [0, 1), got ${String(value)}`);
  if (value < 0 || value >= 1) throw new Error(`${what}: ${label} must be in [0, 1) (a fraction of entries removed), got ${value}`);
  return value;
}

/** A non-negative integer step count. */
export function checkStep(value: unknown, what: string, label: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new Error(`${what}: ${label} must be an integer ≥ 0, got ${String(value)}`);
  return value;
}

/** Number of entries removed from n at sparsity s: round(s · n), the count tfmot keeps being n − round(n·(1 − s)). */
export function removedCount(sparsity: number, n: number): number {
  return Math.min(n, Math.round(sparsity * n));
}
