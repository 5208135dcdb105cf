/**
 * Structured pruning: whole units. A unit is a dense layer's output neuron j (kernel column W[:, j]
 * and bias b[j]) or a conv filter o (kernel W[:, :, :, o] and bias b[o]): the last axis of the kernel.
 * A unit's score reduces the importances I of all its entries (kernel slice and bias entry):
 *   l1: Σ |I|,   l2: √(Σ I²),   mean: Σ I / n   (n entries of the unit).
 * Removing a unit zeroes all its kernel and bias entries; the layers after it are untouched.
 */
export type UnitScore = 'l1' | 'l2' | 'mean';
export const UNIT_SCORES: readonly UnitScore[] = ['l1', 'l2', 'mean'];

export function checkUnitScore(value: unknown, what: string): UnitScore {
  if (!UNIT_SCORES.includes(value as UnitScore)) throw new Error(`${what}: unitScore must be one of ${UNIT_SCORES.join(', ')}, got '${String(value)}'`);
  return value as UnitScore;
}

/** Number of units of a kernel (its last axis). */
export function unitCount(kernelShape: readonly number[]): number {
  return kernelShape[kernelShape.length - 1] as number;
}

/**
 * One score per unit, in float64 arithmetic rounded to float32. `kernel` is row-major with the units
 * on the last axis; `bias` (if any) has one entry per unit.
 */
export function unitScores(kernel: Float32Array, kernelShape: readonly number[], bias: Float32Array | undefined, score: UnitScore): Float32Array {
  const units = unitCount(kernelShape);
  const sums = new Float64Array(units);
  const fan = kernel.length / units;
  for (let i = 0; i < kernel.length; i++) {
    const v = kernel[i] as number;
    const o = i % units;
    sums[o] = (sums[o] as number) + (score === 'l2' ? v * v : score === 'l1' ? Math.abs(v) : v);
  }
  if (bias) {
    if (bias.length !== units) throw new Error(`unitScores: bias has ${bias.length} entries for ${units} units`);
    for (let o = 0; o < units; o++) {
      const v = bias[o] as number;
      sums[o] = (sums[o] as number) + (score === 'l2' ? v * v : score === 'l1' ? Math.abs(v) : v);
    }
  }
  const n = fan + (bias ? 1 : 0);
  const out = new Float32Array(units);
  for (let o = 0; o < units; o++) {
    const s = sums[o] as number;
    out[o] = score === 'l2' ? Math.sqrt(s) : score === 'mean' ? s / n : s;
  }
  return out;
}

/** Keep-masks (1 kept, 0 removed) of a kernel and its bias from per-unit removal flags. */
export function unitMasks(removed: Uint8Array, kernelShape: readonly number[], hasBias: boolean): { kernel: Float32Array; bias?: Float32Array } {
  const units = unitCount(kernelShape);
  const size = kernelShape.reduce((a, b) => a * b, 1);
  const kernel = new Float32Array(size);
  for (let i = 0; i < size; i++) kernel[i] = removed[i % units] ? 0 : 1;
  if (!hasBias) return { kernel };
  const bias = new Float32Array(units);
  for (let o = 0; o < units; o++) bias[o] = removed[o] ? 0 : 1;
  return { kernel, bias };
}
