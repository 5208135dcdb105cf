/**
 * Histograms as TensorBoard stores them (HistogramProto): min, max, count, sum, sum of squares, and
 * per bucket its right edge (`bucketLimit`) and count. Buckets here are a fixed number of equal
 * widths between min and max (30 by default, as `tf.summary.histogram` in TensorFlow 2 makes them),
 * not TensorFlow 1's ~1500 exponential edges: importances are not centred on zero, and TensorBoard
 * draws bucket i from `bucketLimit[i − 1]` (`min` for the first) to `bucketLimit[i]`.
 */

export interface Histogram {
  min: number;
  max: number;
  /** How many values were counted (non-finite values are left out). */
  num: number;
  sum: number;
  sumSquares: number;
  /** Right edge of each bucket; the last is `max`. */
  bucketLimit: number[];
  /** Values per bucket: bucket i holds bucketLimit[i − 1] < v ≤ bucketLimit[i] (v ≥ min for i = 0). */
  bucket: number[];
}

export const DEFAULT_BUCKETS = 30;

/** The histogram of the finite entries of `values` over `buckets` equal-width buckets. */
export function histogram(values: ArrayLike<number>, buckets = DEFAULT_BUCKETS): Histogram {
  if (!Number.isInteger(buckets) || buckets < 1) throw new Error(`histogram: buckets must be a positive integer, got ${buckets}`);
  let min = Infinity;
  let max = -Infinity;
  let num = 0;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    num++;
    sum += v;
    sumSquares += v * v;
  }
  if (num === 0) return { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [0], bucket: [0] };
  if (min === max) return { min, max, num, sum, sumSquares, bucketLimit: [max], bucket: [num] };
  const width = (max - min) / buckets;
  const bucketLimit = Array.from({ length: buckets }, (_, i) => (i === buckets - 1 ? max : min + (i + 1) * width));
  const bucket = new Array<number>(buckets).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    // the bucket whose right edge is the first ≥ v (edges computed as above, so v on an edge goes left)
    let k = Math.min(buckets - 1, Math.max(0, Math.ceil((v - min) / width) - 1));
    while (k > 0 && v <= (bucketLimit[k - 1] as number)) k--;
    while (k < buckets - 1 && v > (bucketLimit[k] as number)) k++;
    bucket[k] = (bucket[k] as number) + 1;
  }
  return { min, max, num, sum, sumSquares, bucketLimit, bucket };
}
