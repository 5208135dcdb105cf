/**
 * JSON for results and checkpoints (browser-safe). JSON has no NaN: accuracies not evaluated (R[i][j], j > i) and
 * undefined metrics are written as null and read back as NaN for the numeric fields listed here.
 */
const NUMERIC_ARRAYS = new Set(['accuracy', 'averageAccuracy', 'baseline', 'values', 'matrix']);
const NUMERIC_FIELDS = new Set(['finalAverage', 'forgetting', 'bwt', 'pearson', 'spearman', 'mean', 'std', 'old', 'new', 'oldOwn', 'newOwn', 'oldLoss', 'newLoss']);

const nanDeep = (v: unknown): unknown => (Array.isArray(v) ? v.map(nanDeep) : v === null ? Number.NaN : v);

export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1);
}

export function fromJson(text: string): unknown {
  return JSON.parse(text, (k, v) => {
    if (NUMERIC_ARRAYS.has(k) && Array.isArray(v)) return nanDeep(v);
    if (NUMERIC_FIELDS.has(k) && v === null) return Number.NaN;
    return v;
  });
}
