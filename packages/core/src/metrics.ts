/**
 * Continual-learning metrics on an accuracy matrix R, where R[i][j] is the test accuracy on task j
 * after training task i (0-based; entries not measured are NaN).
 */

function check(R: readonly (readonly number[])[]): number {
  const T = R.length;
  R.forEach((row, i) => {
    if (row.length < T) throw new Error(`accuracy matrix: row ${i} has ${row.length} entries, expected at least ${T}`);
  });
  return T;
}

/** Average accuracy after each task i: mean over j ≤ i of R[i][j] (the curve every paper plots). */
export function averageAccuracy(R: readonly (readonly number[])[]): number[] {
  check(R);
  return R.map((row, i) => {
    let s = 0;
    for (let j = 0; j <= i; j++) s += row[j] as number;
    return s / (i + 1);
  });
}

/**
 * Average forgetting after the last task T (Chaudhry et al. 2018):
 * mean over j < T of max_{l<T} R[l][j] − R[T][j]. Zero for a single task.
 */
export function averageForgetting(R: readonly (readonly number[])[]): number {
  const T = check(R) - 1;
  if (T < 1) return 0;
  let s = 0;
  for (let j = 0; j < T; j++) {
    let best = -Infinity;
    for (let l = j; l < T; l++) best = Math.max(best, R[l]?.[j] as number);
    s += best - (R[T]?.[j] as number);
  }
  return s / T;
}

/** Backward transfer (Lopez-Paz & Ranzato 2017): mean over j < T of R[T][j] − R[j][j]. */
export function backwardTransfer(R: readonly (readonly number[])[]): number {
  const T = check(R) - 1;
  if (T < 1) return 0;
  let s = 0;
  for (let j = 0; j < T; j++) s += (R[T]?.[j] as number) - (R[j]?.[j] as number);
  return s / T;
}

/**
 * Forward transfer (Lopez-Paz & Ranzato 2017): mean over j ≥ 1 of R[j−1][j] − b[j], where b[j] is the
 * accuracy on task j of the model before any training. Needs the matrix's entries above the diagonal.
 */
export function forwardTransfer(R: readonly (readonly number[])[], baseline: readonly number[]): number {
  const T = check(R);
  if (T < 2) return 0;
  if (baseline.length < T) throw new Error(`forwardTransfer: baseline has ${baseline.length} entries, expected ${T}`);
  let s = 0;
  for (let j = 1; j < T; j++) {
    const v = R[j - 1]?.[j] as number;
    if (Number.isNaN(v)) throw new Error(`forwardTransfer: R[${j - 1}][${j}] was not measured (evaluate on all tasks)`);
    s += v - (baseline[j] as number);
  }
  return s / (T - 1);
}
