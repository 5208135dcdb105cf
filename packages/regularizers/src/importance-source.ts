/**
 * Where a consolidation's importances come from: an `importanceTracker` of `@forgetless/importances`
 * (made here from its options, or one the caller made), configured to match the consolidation mode:
 * `online` sums task importances (or takes the max or mean), `decay` is online EWC's I ← γ·I + I_task,
 * `separate` uses each task's own importance (`tracker.last`).
 */
import { type ImportanceTracker, type ImportanceTrackerOptions, importanceTracker } from '@forgetless/importances';
import { checkGamma } from './check.js';

export type ConsolidationMode = 'online' | 'separate' | 'decay';
export const CONSOLIDATION_MODES: readonly ConsolidationMode[] = ['online', 'separate', 'decay'];

/** Tracker options (the tracker is made and owned by the consolidation) or a tracker (driven by it, owned by the caller). */
export type ImportanceSource = ImportanceTrackerOptions | ImportanceTracker;

export function isTracker(x: unknown): x is ImportanceTracker {
  const t = x as Partial<ImportanceTracker> | null;
  return !!t && typeof t === 'object' && typeof t.afterTask === 'function' && typeof t.getState === 'function' && typeof t.onUpdate === 'function';
}

/**
 * The tracker for `mode`, and whether the consolidation owns it. `gamma` (decay mode) must agree
 * with the tracker's; errors name the option at fault.
 */
export function resolveTracker(
  source: ImportanceSource,
  mode: ConsolidationMode,
  gamma: number | undefined,
  what: string,
): { tracker: ImportanceTracker; owned: boolean; gamma: number | undefined } {
  if (gamma !== undefined) checkGamma(gamma, what);
  if (gamma !== undefined && mode !== 'decay') throw new Error(`${what}: gamma applies to mode 'decay' only (mode is '${mode}')`);
  if (isTracker(source)) {
    const meta = source.getState().meta;
    const acc = meta.accumulate;
    const g = typeof meta.gamma === 'number' ? meta.gamma : undefined;
    if (mode === 'decay') {
      if (acc !== 'decay') throw new Error(`${what}: mode 'decay' needs a tracker with accumulate 'decay', the given tracker accumulates by '${String(acc)}'`);
      if (gamma !== undefined && g !== gamma) throw new Error(`${what}: gamma ${gamma} differs from the given tracker's gamma ${String(g)}`);
      return { tracker: source, owned: false, gamma: g };
    }
    if (mode === 'online' && acc === 'decay') throw new Error(`${what}: the given tracker accumulates by 'decay': use mode 'decay' (online EWC with γ)`);
    return { tracker: source, owned: false, gamma: undefined };
  }
  if (!source || typeof source !== 'object') throw new Error(`${what}: importance must be importanceTracker options or a tracker, got ${String(source)}`);
  if (mode === 'decay') {
    if (source.accumulate !== undefined && source.accumulate !== 'decay') {
      throw new Error(`${what}: mode 'decay' accumulates importances by 'decay', but importance.accumulate is '${source.accumulate}'`);
    }
    const g = gamma ?? source.gamma;
    if (g === undefined) throw new Error(`${what}: mode 'decay' needs gamma (I ← γ·I + I_task), got undefined`);
    checkGamma(g, what);
    if (source.gamma !== undefined && source.gamma !== g) throw new Error(`${what}: gamma ${g} differs from importance.gamma ${source.gamma}`);
    return { tracker: importanceTracker({ ...source, accumulate: 'decay', gamma: g }), owned: true, gamma: g };
  }
  if (source.accumulate === 'decay') throw new Error(`${what}: importance.accumulate 'decay' needs mode 'decay' (online EWC with γ), mode is '${mode}'`);
  return { tracker: importanceTracker(source), owned: true, gamma: undefined };
}
