/**
 * The methods an experiment can compare, by name, and the plugins each one becomes.
 *
 *   plain                 no consolidation
 *   l2                    c = λ, θ* the previous task's end (the uniform-importance baseline)
 *   ewc-<imp>             EWC, online: L = CE + Σ c ⊙ (θ − θ*)², c = λ·I (papers 2–4) or λ/2·I (`:half`, paper 1)
 *   sewc-<imp>            stabilised EWC (paper 2): c = λ·I / (2·(1 + η·λ·I))
 *   wva-<imp>             WVA (papers 1, 4): a = 1/(1 + λ·I) (`:hyperbolic`) or exp(−λ·I) (`:exp`),
 *                         on the gradients (`:grads`) or on the optimizer's steps (`:steps`)
 *
 *   lwf                   Learning without Forgetting: the model before the task as soft targets (λ, T = 2)
 *   replay-<n>            experience replay, a memory of n examples (reservoir; `:balanced`, `:herding`)
 *   packnet               PackNet: prune half the free weights per task, fine-tune, freeze
 *   joint                 joint training on every task seen so far (the upper bound)
 *
 * <imp> is an importance: fis (Fisher diagonal), mas, si, sig, magnitude. A variant is a method with
 * its modifiers, an optional replay memory added to it (`ewc-fis+replay-1000`) and an optional
 * optimizer override: `wva-sig:exp:steps@adam`.
 *
 * Browser-safe: no node:* imports.
 */
import type { Plugin } from '@forgetless/core';
import type { ImportanceMethod } from '@forgetless/importances';
import { ewc, l2, lwf, stabilizedEwc } from '@forgetless/regularizers';
import { wvaPlugin } from '@forgetless/optimizers';
import { packNet } from '@forgetless/pruning';
import { type Selection, replay } from '@forgetless/replay';

export type MethodFamily = 'plain' | 'l2' | 'ewc' | 'sewc' | 'wva' | 'lwf' | 'replay' | 'packnet' | 'joint';
export type OptimizerName = 'sgd' | 'adam';
export type AttenuationName = 'hyperbolic' | 'exponential';
export type ApplyTo = 'gradients' | 'steps';
export type Convention = 'lambda' | 'half-lambda';

export interface MethodDefinition {
  name: string;
  family: MethodFamily;
  importance?: ImportanceMethod;
  description: string;
}

/** Short importance names used in method names → @forgetless/importances method names. */
export const IMPORTANCE_NAMES: Readonly<Record<string, ImportanceMethod>> = { fis: 'fisher', mas: 'mas', si: 'si', sig: 'sig', magnitude: 'magnitude' };
export const IMPORTANCE_LABELS: Readonly<Record<ImportanceMethod, string>> = { fisher: 'FIS', mas: 'MAS', si: 'SI', sig: 'SIG', magnitude: '|w|', taylor: 'Taylor' };

function buildRegistry(): Record<string, MethodDefinition> {
  const out: Record<string, MethodDefinition> = {
    plain: { name: 'plain', family: 'plain', description: 'plain training, no consolidation' },
    l2: { name: 'l2', family: 'l2', description: 'L2 to the previous task’s weights, c = λ' },
  };
  for (const [short, importance] of Object.entries(IMPORTANCE_NAMES)) {
    const label = IMPORTANCE_LABELS[importance];
    out[`ewc-${short}`] = { name: `ewc-${short}`, family: 'ewc', importance, description: `EWC (online) with ${label} importances` };
    out[`sewc-${short}`] = { name: `sewc-${short}`, family: 'sewc', importance, description: `stabilised EWC (paper 2) with ${label} importances` };
    out[`wva-${short}`] = { name: `wva-${short}`, family: 'wva', importance, description: `WVA with ${label} importances` };
  }
  out.lwf = { name: 'lwf', family: 'lwf', description: 'Learning without Forgetting: the model before the task as soft targets (T = 2), weight λ' };
  out.packnet = { name: 'packnet', family: 'packnet', description: 'PackNet: per task, prune half the free weights by |θ|, fine-tune, freeze the rest' };
  out.joint = { name: 'joint', family: 'joint', description: 'joint training on every task seen so far (the upper bound)' };
  return out;
}

/** Every method by name. */
export const METHODS: Readonly<Record<string, MethodDefinition>> = buildRegistry();
export const METHOD_NAMES: readonly string[] = Object.keys(METHODS);

/** One method with its modifiers, as an experiment runs it. */
export interface VariantSpec {
  method: string;
  /** WVA: default hyperbolic. */
  attenuation?: AttenuationName;
  /** WVA: default gradients under SGD, steps under Adam (the one that works there). */
  applyTo?: ApplyTo;
  /** EWC: c = λ·I (default) or λ/2·I (paper 1). */
  convention?: Convention;
  /**
   * EWC: `online` (default: one summed importance, the latest anchor; the papers'), `separate` (one
   * penalty per task: Kirkpatrick's EWC, `:separate`), `decay` (online EWC, I ← γ·I + I_task with
   * γ = 1 and the latest anchor, Schwarz et al.; `:decay`).
   */
  mode?: 'online' | 'separate' | 'decay';
  /** Overrides the experiment's optimizer and learning rate for this variant (paper 4). */
  optimizer?: OptimizerName;
  learningRate?: number;
  /** A replay memory added to the method (`+replay-<n>`; the `replay-<n>` method alone has it too). */
  replay?: ReplaySpec;
}

/** A replay memory: n examples in total, chosen by `selection` (default reservoir). */
export interface ReplaySpec {
  budget: number;
  selection?: Selection;
}

const SELECTION_ALIASES: Record<string, Selection> = { reservoir: 'reservoir', balanced: 'class-balanced', 'class-balanced': 'class-balanced', herding: 'herding' };

/** `replay-1000`, `replay-200:herding` → its spec. */
function parseReplay(text: string, whole: string): ReplaySpec {
  const [name = '', ...mods] = text.split(':');
  const budget = replayBudget(name.toLowerCase());
  if (budget === undefined) throw new MethodError(`method '${whole}': '${text}' is not a replay memory (replay-<n>, n ≥ 1)`);
  const spec: ReplaySpec = { budget };
  for (const raw of mods) {
    const sel = SELECTION_ALIASES[raw.toLowerCase()];
    if (!sel) throw new MethodError(`method '${whole}': unknown modifier '${raw}' for replay (allowed: reservoir, balanced, herding)`);
    spec.selection = sel;
  }
  return spec;
}

const ATTENUATION_ALIASES: Record<string, AttenuationName> = { hyp: 'hyperbolic', hyperbolic: 'hyperbolic', exp: 'exponential', exponential: 'exponential' };
const APPLY_ALIASES: Record<string, ApplyTo> = { grads: 'gradients', gradients: 'gradients', steps: 'steps' };
const CONVENTION_ALIASES: Record<string, Convention> = { half: 'half-lambda', 'half-lambda': 'half-lambda', lambda: 'lambda' };

/** Thrown for a bad method name or modifier; the message names it. */
export class MethodError extends Error {}

/** `replay-<n>`: the memory's budget, or undefined for another name. */
export function replayBudget(name: string): number | undefined {
  const m = /^replay-(\d+)$/.exec(name);
  const n = m ? Number(m[1]) : Number.NaN;
  return Number.isInteger(n) && n >= 1 ? n : undefined;
}

/** Finds a method by name (`replay-<n>` for any n ≥ 1), or throws listing the known ones. */
export function methodDefinition(name: string): MethodDefinition {
  const def = METHODS[name];
  if (def) return def;
  const budget = replayBudget(name);
  if (budget !== undefined) return { name, family: 'replay', description: `experience replay, a memory of ${budget} examples` };
  throw new MethodError(`unknown method '${name}' (known: ${METHOD_NAMES.join(', ')}, replay-<n>)`);
}

/**
 * Parses `<method>[:modifier...][@sgd|@adam]`, e.g. `ewc-fis`, `ewc-sig:half`, `wva-sig:exp:steps@adam`.
 * Modifiers: hyperbolic|hyp, exponential|exp, gradients|grads, steps (WVA); half (EWC, λ/2·I).
 */
export function parseVariant(text: string): VariantSpec {
  const trimmed = text.trim();
  const [head, opt, ...rest] = trimmed.split('@');
  if (rest.length) throw new MethodError(`method '${trimmed}': at most one '@optimizer'`);
  const [main = '', added, ...more] = (head ?? '').split('+');
  if (more.length) throw new MethodError(`method '${trimmed}': at most one '+replay-<n>'`);
  const [name = '', ...mods] = main.split(':');
  const def = methodDefinition(name.toLowerCase());
  const spec: VariantSpec = { method: def.name };
  if (def.family === 'replay') {
    if (added !== undefined) throw new MethodError(`method '${trimmed}': replay is already the method`);
    spec.replay = parseReplay(main, trimmed);
    mods.length = 0;
  } else if (added !== undefined) {
    if (def.family === 'joint') throw new MethodError(`method '${trimmed}': joint training sees every example already; it takes no replay`);
    spec.replay = parseReplay(added, trimmed);
  }
  for (const raw of mods) {
    const m = raw.toLowerCase();
    if (def.family === 'wva' && m in ATTENUATION_ALIASES) spec.attenuation = ATTENUATION_ALIASES[m] as AttenuationName;
    else if (def.family === 'wva' && m in APPLY_ALIASES) spec.applyTo = APPLY_ALIASES[m] as ApplyTo;
    else if ((def.family === 'ewc' || def.family === 'l2') && m in CONVENTION_ALIASES) spec.convention = CONVENTION_ALIASES[m] as Convention;
    else if (def.family === 'ewc' && (m === 'separate' || m === 'decay' || m === 'online')) spec.mode = m;
    else {
      const allowed = def.family === 'wva' ? 'hyperbolic, exp, grads, steps' : def.family === 'ewc' ? 'half, separate, decay' : def.family === 'l2' ? 'half' : 'none';
      throw new MethodError(`method '${trimmed}': unknown modifier '${raw}' for ${def.name} (allowed: ${allowed})`);
    }
  }
  if (opt !== undefined) {
    const o = opt.toLowerCase();
    if (o !== 'sgd' && o !== 'adam') throw new MethodError(`method '${trimmed}': unknown optimizer '${opt}' (expected sgd or adam)`);
    spec.optimizer = o;
  }
  return spec;
}

/** The variant's name as reports show it: `wva-sig:exp:steps@adam` (defaults left out). */
export function variantLabel(v: VariantSpec): string {
  let s = v.method;
  if (v.attenuation === 'exponential') s += ':exp';
  if (v.applyTo) s += v.applyTo === 'steps' ? ':steps' : ':grads';
  if (v.convention === 'half-lambda') s += ':half';
  if (v.mode && v.mode !== 'online') s += `:${v.mode}`;
  const sel = (r: ReplaySpec) => (r.selection === 'class-balanced' ? ':balanced' : r.selection === 'herding' ? ':herding' : '');
  if (v.replay && methodDefinition(v.method).family === 'replay') s += sel(v.replay);
  else if (v.replay) s += `+replay-${v.replay.budget}${sel(v.replay)}`;
  if (v.optimizer) s += `@${v.optimizer}`;
  return s;
}

/**
 * λ used when the user names a method but no λ: the papers' best values (papers 1, 2 and 4 on
 * MNIST: EWC c = λ·I with paper 2's λ; WVA with paper 1's); the others picked on the same scale.
 * Importance scales depend on the data and the model: sweep with `--lambda a,b,c` to tune.
 */
export const DEFAULT_LAMBDAS: Readonly<Record<string, number>> = {
  l2: 0.01,
  'ewc-fis': 41,
  'ewc-mas': 4.5,
  'ewc-si': 0.25,
  'ewc-sig': 0.1,
  'ewc-magnitude': 1,
  'sewc-fis': 85,
  'sewc-mas': 8.5,
  'sewc-si': 0.64,
  'sewc-sig': 0.2,
  'sewc-magnitude': 2,
  'wva-fis': 5250,
  'wva-mas': 1000,
  'wva-si': 100,
  'wva-sig': 250,
  'wva-magnitude': 100,
  lwf: 1,
};

/**
 * λ under SGD where DEFAULT_LAMBDAS (paper 2's, for Adam) diverges: plain EWC's penalty step
 * η·λ·I·(θ − θ*) overshoots once η·λ·I > 2 (paper 2's instability; the stabilised sewc-* forms do
 * not). On the default run's setting (embedded Fashion-MNIST, 784-100-10, SGD lr 0.1, 3 epochs,
 * 5 permuted tasks) ewc-fis diverged from λ 15 and ewc-si at 0.25; these ran all 3 seeds without
 * diverging, at the best final average of the grids tried (ewc-fis 1–10, ewc-si 0.02–0.1): README.
 */
export const SGD_LAMBDAS: Readonly<Record<string, number>> = {
  'ewc-fis': 5,
  'ewc-si': 0.1,
};

/** The λ of a method named without one, under `optimizer`. */
export function defaultLambda(method: string, optimizer: OptimizerName): number {
  return (optimizer === 'sgd' ? SGD_LAMBDAS[method] : undefined) ?? DEFAULT_LAMBDAS[method] ?? 1;
}

/** True when the method has a λ (all but plain, replay, packnet and joint). */
export function hasLambda(method: string): boolean {
  const family = methodDefinition(method).family;
  return family !== 'plain' && family !== 'replay' && family !== 'packnet' && family !== 'joint';
}

export interface PluginContext {
  /** The run's learning rate (stabilised EWC's η). */
  learningRate: number;
  /** Closing-set examples per task for the importances (the papers: 5000). */
  importanceLimit: number;
  /** Importance batch size (default 100). */
  importanceBatchSize?: number;
  /** The run's seed (the replay memory's generator). */
  seed?: number;
  /** PackNet's fine-tuning steps after pruning (default 50). */
  packnetFineTuneSteps?: number;
}

/**
 * The plugins of one variant at one λ (none for plain). The caller owns them and disposes them
 * after the run (`plugin.dispose?.()`).
 */
export function createPlugins(variant: VariantSpec, lambda: number, ctx: PluginContext): Plugin[] {
  const own = methodPlugins(variant, lambda, ctx);
  const budget = replayBudget(variant.method);
  const memory = variant.replay ?? (budget !== undefined ? { budget } : undefined);
  // replay first: the plugins after it (LwF's soft targets, penalties) see the mixed batch
  return memory ? [replay({ budget: memory.budget, selection: memory.selection ?? 'reservoir', seed: ctx.seed ?? 0 }), ...own] : own;
}

function methodPlugins(variant: VariantSpec, lambda: number, ctx: PluginContext): Plugin[] {
  const def = methodDefinition(variant.method);
  const importance = def.importance ? { method: def.importance, limit: ctx.importanceLimit, methodOptions: { batchSize: ctx.importanceBatchSize ?? 100 } } : undefined;
  switch (def.family) {
    case 'plain':
    case 'replay':
    case 'joint':
      return [];
    case 'lwf':
      return [lwf({ lambda })];
    case 'packnet':
      return [packNet({ prune: 0.5, fineTuneSteps: ctx.packnetFineTuneSteps ?? 50 })];
    case 'l2':
      return [l2({ lambda, ...(variant.convention ? { convention: variant.convention } : {}) })];
    case 'ewc':
      return [
        ewc({
          lambda,
          importance: importance as NonNullable<typeof importance>,
          ...(variant.convention ? { convention: variant.convention } : {}),
          ...(variant.mode ? { mode: variant.mode, ...(variant.mode === 'decay' ? { gamma: 1 } : {}) } : {}),
        }),
      ];
    case 'sewc':
      return [stabilizedEwc({ lambda, learningRate: ctx.learningRate, importance: importance as NonNullable<typeof importance> })];
    case 'wva':
      return [
        wvaPlugin({
          lambda,
          attenuation: variant.attenuation ?? 'hyperbolic',
          ...(variant.applyTo ? { applyTo: variant.applyTo } : {}),
          importance: importance as NonNullable<typeof importance>,
        }),
      ];
  }
}
