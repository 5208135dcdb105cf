/**
 * Pruning masks from an importance map: the entries (or units) with the smallest importance are
 * removed, exactly round(s · n) of them, n counted over the chosen parameters: over all of them at
 * once (`scope: 'global'`) or layer by layer (`scope: 'layer'`, n per layer). Ties go by parameter
 * order, then flat index (`selectSmallest`). Masks are parameter maps of float32 0/1 (0 = pruned)
 * for the chosen parameters only; a parameter without a mask is unpruned.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, assertSameShape } from '@forgetless/core';
import { checkSparsity, removedCount } from './check.js';
import { selectSmallest } from './rank.js';
import { type PruneScopeOptions, groupByLayer, layerOf, localOf, prunableParams } from './scope.js';
import { type UnitScore, checkUnitScore, unitMasks, unitScores } from './structured.js';

export interface PruneOptions extends PruneScopeOptions {
  /** Fraction of the chosen entries (or units) removed, in [0, 1). */
  sparsity: number;
  /** Rank over all chosen parameters together (default) or within each layer. */
  scope?: 'global' | 'layer';
  /** Remove single weights (default) or whole units: dense neurons and conv filters (see `structured.ts`). */
  structure?: 'weights' | 'units';
  /** How a unit's importances reduce to its score (default 'l1'). */
  unitScore?: UnitScore;
  /** Masks already in force: what they prune is removed first, so pruned weights stay pruned. */
  previous?: ParamMap;
}

/** A host copy of a tensor: row-major values and shape. */
export interface HostArray {
  values: Float32Array;
  shape: number[];
}

interface Plan {
  sparsity: number;
  scope: 'global' | 'layer';
  structure: 'weights' | 'units';
  unitScore: UnitScore;
  /** Chosen parameters (weights), or the chosen layers' kernels (units). */
  chosen: string[];
  /** Every parameter whose importance is read. */
  read: string[];
}

function plan(available: readonly string[], options: Omit<PruneOptions, 'previous'>, what: string): Plan {
  if (!options || typeof options !== 'object') throw new Error(`${what}: options { sparsity } are required`);
  const sparsity = checkSparsity(options.sparsity, what);
  const scope = options.scope ?? 'global';
  if (scope !== 'global' && scope !== 'layer') throw new Error(`${what}: scope must be 'global' or 'layer', got '${String(scope)}'`);
  const structure = options.structure ?? 'weights';
  if (structure !== 'weights' && structure !== 'units') throw new Error(`${what}: structure must be 'weights' or 'units', got '${String(structure)}'`);
  const unitScore = checkUnitScore(options.unitScore ?? 'l1', what);
  if (structure === 'weights') {
    const chosen = prunableParams(available, options, what);
    return { sparsity, scope, structure, unitScore, chosen, read: chosen };
  }
  // units: the layers whose kernel is chosen; their bias (unless excluded by name) goes with each unit
  const kernels = prunableParams(available, { ...options, biases: false }, what).filter((n) => localOf(n) === 'kernel');
  const excluded = new Set(options.exclude ?? []);
  const read: string[] = [];
  for (const k of kernels) {
    read.push(k);
    const b = `${layerOf(k)}/bias`;
    if (available.includes(b) && !excluded.has(b)) read.push(b);
  }
  return { sparsity, scope, structure, unitScore, chosen: kernels, read };
}

/** 1 − flags as float32 (a loop: `Float32Array.from` with a map function is ~20× slower). */
function keepMask(removed: Uint8Array): Float32Array {
  const m = new Float32Array(removed.length);
  for (let i = 0; i < m.length; i++) m[i] = removed[i] ? 0 : 1;
  return m;
}

/** −∞ where a previous mask prunes, so those entries are removed first. */
function withPrevious(values: Float32Array, mask: Float32Array | undefined): Float32Array {
  if (!mask) return values;
  const out = Float32Array.from(values);
  for (let i = 0; i < out.length; i++) if (mask[i] === 0) out[i] = Number.NEGATIVE_INFINITY;
  return out;
}

function checkHost(name: string, a: HostArray | undefined, what: string, role: string): HostArray {
  if (!a) throw new Error(`${what}: ${role} of '${name}' is missing`);
  const size = a.shape.reduce((x, y) => x * y, 1);
  if (a.values.length !== size) throw new Error(`${what}: ${role} of '${name}' has ${a.values.length} values for shape [${a.shape}]`);
  return a;
}

/**
 * Masks from host arrays of importances (the engine under `pruningMasks`): keep-masks (1 kept,
 * 0 pruned) for the chosen parameters. `previous` masks, if given, are host arrays too.
 */
export function masksFromScores(
  scores: Readonly<Record<string, HostArray>>,
  options: Omit<PruneOptions, 'previous'> & { previous?: Readonly<Record<string, HostArray>> },
  what = 'pruningMasks',
): Record<string, HostArray> {
  return masksFromPlan(plan(Object.keys(scores), options, what), scores, options.previous, what);
}

function masksFromPlan(p: Plan, scores: Readonly<Record<string, HostArray>>, previous: Readonly<Record<string, HostArray>> | undefined, what: string): Record<string, HostArray> {
  const prev = (name: string) => previous?.[name]?.values;
  for (const n of p.read) {
    const s = checkHost(n, scores[n], what, 'the importance');
    const m = previous?.[n];
    if (m && (m.shape.length !== s.shape.length || m.shape.some((d, i) => d !== s.shape[i]))) {
      throw new Error(`${what}: previous mask of '${n}' has shape [${m.shape}] but the importance has [${s.shape}]`);
    }
  }
  const out: Record<string, HostArray> = {};
  if (p.structure === 'weights') {
    const groups = p.scope === 'global' ? [p.chosen] : [...groupByLayer(p.chosen).values()];
    for (const names of groups) {
      const arrays = names.map((n) => withPrevious((scores[n] as HostArray).values, prev(n)));
      const total = arrays.reduce((a, v) => a + v.length, 0);
      const flags = selectSmallest(arrays, removedCount(p.sparsity, total), names);
      names.forEach((n, i) => {
        const f = flags[i] as Uint8Array;
        out[n] = { values: keepMask(f), shape: [...(scores[n] as HostArray).shape] };
      });
    }
    return out;
  }
  const layers = p.chosen.map((kernel) => {
    const bias = `${layerOf(kernel)}/bias`;
    const k = scores[kernel] as HostArray;
    if (k.shape.length < 2) throw new Error(`${what}: '${kernel}' has shape [${k.shape}]; unit pruning needs a dense or conv kernel (units on the last axis)`);
    const b = p.read.includes(bias) ? (scores[bias] as HostArray) : undefined;
    const s = unitScores(k.values, k.shape, b?.values, p.unitScore);
    const pk = prev(kernel);
    if (pk) {
      // a unit whose kernel slice the previous mask removed entirely is removed first
      const units = s.length;
      const alive = new Uint8Array(units);
      for (let i = 0; i < pk.length; i++) if (pk[i] !== 0) alive[i % units] = 1;
      for (let o = 0; o < units; o++) if (!alive[o]) s[o] = Number.NEGATIVE_INFINITY;
    }
    return { kernel, bias: b ? bias : undefined, shape: k.shape, scores: s };
  });
  const groups = p.scope === 'global' ? [layers] : layers.map((l) => [l]);
  for (const group of groups) {
    const arrays = group.map((l) => l.scores);
    const total = arrays.reduce((a, v) => a + v.length, 0);
    const flags = selectSmallest(
      arrays,
      removedCount(p.sparsity, total),
      group.map((l) => `${l.kernel} (units)`),
    );
    group.forEach((l, i) => {
      const m = unitMasks(flags[i] as Uint8Array, l.shape, l.bias !== undefined);
      out[l.kernel] = { values: m.kernel, shape: [...l.shape] };
      if (l.bias && m.bias) out[l.bias] = { values: m.bias, shape: [m.bias.length] };
    });
  }
  return out;
}

function toHost(t: tf.Tensor, values: ArrayLike<number>): HostArray {
  return { values: values instanceof Float32Array ? values : new Float32Array(values), shape: [...t.shape] };
}

function toTensors(host: Record<string, HostArray>): ParamMap {
  const out: ParamMap = {};
  for (const [n, a] of Object.entries(host)) out[n] = tf.tensor(a.values, a.shape, 'float32');
  return out;
}

function planFor(importances: ParamMap, options: Omit<PruneOptions, 'previous'>, what: string): Plan {
  if (!importances || typeof importances !== 'object') throw new Error(`${what}: importances must be a parameter map`);
  return plan(Object.keys(importances), options, what);
}

/**
 * Masks (float32 0/1 tensors, 0 = pruned) that remove the `sparsity` fraction of least important
 * entries or units. The caller owns the masks (`disposeParams`). Reads the importances once.
 */
export async function pruningMasks(importances: ParamMap, options: PruneOptions): Promise<ParamMap> {
  const what = 'pruningMasks';
  const p = planFor(importances, options, what);
  const host: Record<string, HostArray> = {};
  const prev: Record<string, HostArray> = {};
  for (const n of p.read) {
    const t = importances[n] as tf.Tensor;
    host[n] = toHost(t, await t.data());
    const m = options.previous?.[n];
    if (m) prev[n] = toHost(m, await m.data());
  }
  return toTensors(masksFromPlan(p, host, options.previous ? prev : undefined, what));
}

/** `pruningMasks`, reading the importances synchronously (cpu and wasm backends: no cost; webgl: a stall). */
export function pruningMasksSync(importances: ParamMap, options: PruneOptions): ParamMap {
  const what = 'pruningMasksSync';
  const p = planFor(importances, options, what);
  const host: Record<string, HostArray> = {};
  const prev: Record<string, HostArray> = {};
  for (const n of p.read) {
    const t = importances[n] as tf.Tensor;
    host[n] = toHost(t, t.dataSync());
    const m = options.previous?.[n];
    if (m) prev[n] = toHost(m, m.dataSync());
  }
  return toTensors(masksFromPlan(p, host, options.previous ? prev : undefined, what));
}

/**
 * θ ← m ⊙ θ (+0 where pruned) for every masked parameter, in place (e.g. `applyMasks(model.params, masks)`). Throws,
 * naming the parameter, if a mask names no parameter or its shape differs.
 */
export function applyMasks(params: ParamMap<tf.Variable>, masks: ParamMap): void {
  for (const [name, m] of Object.entries(masks)) {
    const v = params[name];
    if (!v) throw new Error(`applyMasks: mask given for '${name}', which is not a parameter (known: ${Object.keys(params).join(', ')})`);
    assertSameShape(v, m, name, 'applyMasks');
  }
  for (const [name, m] of Object.entries(masks)) {
    const v = params[name] as tf.Variable;
    const next = tf.tidy(() => tf.add(tf.mul(v, m), 0)); // + 0 turns −0 (a pruned negative weight) into +0
    v.assign(next);
    next.dispose();
  }
}
