/**
 * A consolidation's state, so a run can resume: its importances and anchors (parameter maps), the
 * importance tracker's own tensors (SI's path integral, the latest task importance), and a small
 * metadata object (kind, mode, λ, convention or η, γ, importance method, task count).
 *
 * Tensor names in `getState().tensors`:
 *   online, decay:  `importance/<parameter>` (running I), `anchor/<parameter>` (θ* of the latest task)
 *   separate:       `task<k>/importance/<parameter>`, `task<k>/anchor/<parameter>`, k = 0 … taskCount − 1
 *   L2:             `anchor/<parameter>` only (I = 1)
 *   any:            `tracker/<key>`: the tracker's other tensors (`last/…`, `si/omega/…`, `si/start/…`)
 */
import type { ParamMap } from '@forgetless/core';
import type { ConsolidationKind } from './consolidation.js';
import { CONSOLIDATION_MODES, type ConsolidationMode } from './importance-source.js';
import type { EwcConvention } from './penalty.js';

export type ConsolidationMeta = {
  kind: ConsolidationKind;
  mode: ConsolidationMode;
  lambda: number;
  /** EWC and L2. */
  convention?: EwcConvention;
  /** Stabilised EWC's η. */
  learningRate?: number;
  /** Decay mode's γ. */
  gamma?: number;
  /** The importance method (`fisher`, `mas`, `si`, `sig`, `magnitude`), or `uniform` for L2. */
  method: string;
  taskCount: number;
  /** The tracker's own metadata (method, accumulation, task count). */
  tracker?: Record<string, unknown>;
};

export type ConsolidationState = { tensors: ParamMap; meta: ConsolidationMeta };

export const KINDS: readonly ConsolidationKind[] = ['ewc', 'stabilized-ewc', 'l2'];

/** The entries whose name starts with `prefix`, with the prefix removed (undefined if none). */
export function pickPrefixed(tensors: ParamMap, prefix: string): ParamMap | undefined {
  const out: ParamMap = {};
  for (const [k, v] of Object.entries(tensors)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return Object.keys(out).length ? out : undefined;
}

/** Number of separate-mode terms: consecutive `task<k>/anchor/` groups from k = 0. */
export function termCount(tensors: ParamMap): number {
  let k = 0;
  const names = Object.keys(tensors);
  while (names.some((n) => n.startsWith(`task${k}/anchor/`))) k++;
  return k;
}

/**
 * Checks a state's metadata against the plugin's configuration (`expected`); fields the state
 * leaves out are not checked, except `taskCount`, which is required.
 */
export function checkStateMeta(state: { tensors: ParamMap; meta: Record<string, unknown> } | undefined, expected: Partial<ConsolidationMeta>, what: string): ConsolidationMeta {
  if (!state || typeof state !== 'object' || !state.tensors || typeof state.tensors !== 'object' || !state.meta || typeof state.meta !== 'object') {
    throw new Error(`${what}: a state is { tensors, meta }, got ${String(state)}`);
  }
  const meta = state.meta as Partial<ConsolidationMeta>;
  const count = meta.taskCount;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
    throw new Error(`${what}: meta.taskCount must be a non-negative integer, got ${String(count)}`);
  }
  for (const [key, want] of Object.entries(expected)) {
    const have = (meta as Record<string, unknown>)[key];
    if (have !== undefined && have !== want) throw new Error(`${what}: the state's ${key} is ${JSON.stringify(have)}, this plugin's is ${JSON.stringify(want)}`);
  }
  if (meta.mode !== undefined && !CONSOLIDATION_MODES.includes(meta.mode)) throw new Error(`${what}: unknown mode '${String(meta.mode)}' in the state`);
  if (meta.learningRate !== undefined && !(typeof meta.learningRate === 'number' && meta.learningRate > 0 && Number.isFinite(meta.learningRate))) {
    throw new Error(`${what}: the state's learningRate must be a finite number > 0, got ${String(meta.learningRate)}`);
  }
  if (meta.tracker !== undefined && (typeof meta.tracker !== 'object' || meta.tracker === null)) {
    throw new Error(`${what}: the state's meta.tracker must be an object`);
  }
  return { ...(expected as ConsolidationMeta), ...(meta as ConsolidationMeta) };
}

/**
 * The state as files: one parameter map per group (`importances`, `anchors`, or `importances-<k>`,
 * `anchors-<k>` per task in separate mode; `tracker` for the tracker's tensors) and the metadata.
 * Groups named `importances*` and `anchors*` are parameter maps of the model.
 */
export function stateGroups(state: ConsolidationState): Record<string, ParamMap> {
  const groups: Record<string, ParamMap> = {};
  const add = (group: string, key: string, t: ParamMap[string]) => {
    (groups[group] ??= {})[key] = t;
  };
  for (const [name, t] of Object.entries(state.tensors)) {
    const m = /^task(\d+)\/(importance|anchor)\/(.+)$/.exec(name);
    if (m) add(`${m[2] === 'importance' ? 'importances' : 'anchors'}-${m[1]}`, m[3] as string, t);
    else if (name.startsWith('importance/')) add('importances', name.slice('importance/'.length), t);
    else if (name.startsWith('anchor/')) add('anchors', name.slice('anchor/'.length), t);
    else if (name.startsWith('tracker/')) add('tracker', name.slice('tracker/'.length), t);
    else throw new Error(`consolidation state: unexpected tensor '${name}'`);
  }
  return groups;
}

/** The inverse of `stateGroups`: tensor names from group names. */
export function tensorsFromGroups(groups: Record<string, ParamMap>): ParamMap {
  const tensors: ParamMap = {};
  for (const [group, map] of Object.entries(groups)) {
    const m = /^(importances|anchors)(?:-(\d+))?$/.exec(group);
    let prefix: string;
    if (m) prefix = `${m[2] !== undefined ? `task${m[2]}/` : ''}${m[1] === 'importances' ? 'importance' : 'anchor'}/`;
    else if (group === 'tracker') prefix = 'tracker/';
    else throw new Error(`consolidation state: unknown group '${group}'`);
    for (const [k, v] of Object.entries(map)) tensors[`${prefix}${k}`] = v;
  }
  return tensors;
}
