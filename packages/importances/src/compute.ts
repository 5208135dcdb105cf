/** One entry point for every importance method, by name. */
import type { DataSource, ParamMap, Model } from '@forgetless/core';
import { type FisherOptions, fisherDiagonal } from './fisher.js';
import { magnitude } from './magnitude.js';
import { type MasOptions, mas } from './mas.js';
import type { SiTracker } from './si.js';
import { type SigOptions, sig } from './sig.js';
import { type TaylorOptions, taylor } from './taylor.js';

export type ImportanceMethod = 'fisher' | 'mas' | 'si' | 'sig' | 'magnitude' | 'taylor';
export const IMPORTANCE_METHODS: readonly ImportanceMethod[] = ['fisher', 'mas', 'si', 'sig', 'magnitude', 'taylor'];

/** Options of every method (each reads its own); `tracker` is SI's source of ω. */
export interface ImportanceOptions extends Omit<FisherOptions, 'path'>, Omit<MasOptions, 'path'>, SigOptions, TaylorOptions {
  path?: 'fast' | 'loop';
  /** SI: the tracker that followed training (its `taskImportance()` is returned). */
  tracker?: SiTracker;
}

export function checkMethod(method: unknown, what = 'computeImportance'): ImportanceMethod {
  if (!IMPORTANCE_METHODS.includes(method as ImportanceMethod)) {
    throw new Error(`${what}: unknown method '${String(method)}' (expected one of ${IMPORTANCE_METHODS.join(', ')})`);
  }
  return method as ImportanceMethod;
}

/**
 * The importance of `model`'s parameters by `method`, on `source` (unused by `magnitude` and `si`).
 * `si` needs `options.tracker`, an `siTracker` that was a plugin of the training run.
 */
export async function computeImportance(method: ImportanceMethod, model: Model, source: DataSource | undefined, options: ImportanceOptions = {}): Promise<ParamMap> {
  const m = checkMethod(method);
  if (m === 'magnitude') return magnitude(model);
  if (m === 'si') {
    if (!options.tracker) throw new Error("computeImportance: method 'si' needs options.tracker (an siTracker registered as a training plugin)");
    return options.tracker.taskImportance();
  }
  if (!source) throw new Error(`computeImportance: method '${m}' needs a data source (the closing set)`);
  if (m === 'fisher') return fisherDiagonal(model, source, options);
  if (m === 'mas') return mas(model, source, options);
  if (m === 'taylor') return taylor(model, source, options);
  return sig(model, source, options);
}
