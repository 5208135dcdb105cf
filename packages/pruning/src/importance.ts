/**
 * The importance a pruning run ranks by: a method of `@forgetless/importances` computed on a
 * calibration set (`sig`, `fisher`, `mas`, `taylor`; `magnitude` needs none; `si` needs the siTracker that
 * followed training), or a map the caller computed.
 */
import type { DataSource, ParamMap, Model } from '@forgetless/core';
import { type ImportanceMethod, type ImportanceOptions, IMPORTANCE_METHODS, computeImportance } from '@forgetless/importances';

export type ImportanceSpec = ImportanceMethod | ParamMap;

export interface ImportanceSource {
  /** The calibration set data-driven importances are computed on (paper 2: 10 000 training samples). */
  calibration?: DataSource;
  /** Options of the method (`limit`, `batchSize`, Fisher's `variant`, SI's `tracker`, ...). */
  importanceOptions?: ImportanceOptions;
}

/** The importance map and whether the caller of this function owns it (true when it was computed here). */
export async function resolveImportance(model: Model, spec: ImportanceSpec, source: ImportanceSource, what: string): Promise<{ importances: ParamMap; owned: boolean }> {
  if (typeof spec === 'string') {
    if (!IMPORTANCE_METHODS.includes(spec)) throw new Error(`${what}: unknown importance '${spec}' (expected one of ${IMPORTANCE_METHODS.join(', ')}, or a parameter map)`);
    if (spec !== 'magnitude' && spec !== 'si' && !source.calibration) {
      throw new Error(`${what}: importance '${spec}' needs a calibration set (options.calibration, a DataSource)`);
    }
    return { importances: await computeImportance(spec, model, source.calibration, source.importanceOptions ?? {}), owned: true };
  }
  if (!spec || typeof spec !== 'object') throw new Error(`${what}: importance must be a method name or a parameter map, got ${String(spec)}`);
  return { importances: spec, owned: false };
}
