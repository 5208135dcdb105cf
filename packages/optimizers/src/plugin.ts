/**
 * wvaPlugin: WVA for trainContinual (paper 1, arXiv 2005.07107; paper 4, arXiv 2208.05791). An
 * importanceTracker computes each task's importance on its closing set at task end and accumulates
 * it (I ← I + I_task by default); on each update the plugin recomputes the factors a = f(λ·I) once,
 * and until the next update attenuates either the gradients (a ⊙ g) or the loop's step
 * Δθ = θ_after − θ_before (θ ← θ_before + a ⊙ Δθ). No copy of θ is kept between steps.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Plugin, type StepInfo, type TrainContext, disposeParams, keepParams } from '@forgetless/core';
import { type ImportanceTracker, type ImportanceTrackerOptions, importanceTracker } from '@forgetless/importances';
import { attenuateGradients, attenuateSteps } from './attenuate.js';
import { type Attenuation, attenuationFactors, attenuationLabel, checkAttenuation, checkLambda } from './attenuation.js';
import { type ApplyTo, checkApplyTo, defaultApplyTo } from './wva.js';

export interface WvaPluginOptions {
  /** λ ≥ 0 (units of 1/importance). */
  lambda: number;
  /** `hyperbolic` (default) a = 1/(1 + λI), `exponential` a = exp(−λI), or a function of λI. */
  attenuation?: Attenuation;
  /** Default: `defaultApplyTo(ctx.optimizer)`, resolved at the start of every task. */
  applyTo?: ApplyTo;
  /**
   * The importance: tracker options (the plugin makes and owns the tracker), or a tracker, which the
   * plugin then drives (its beforeTask/afterStep/afterTask): do not also list it in `plugins`.
   */
  importance: ImportanceTrackerOptions | ImportanceTracker;
}

export interface WvaPlugin extends Plugin {
  readonly tracker: ImportanceTracker;
  /** The factors a in use by parameter name (attenuated parameters only); owned by the plugin. */
  readonly factors: ParamMap;
  /** The mode in use (undefined until the first task starts unless `applyTo` was given). */
  readonly applyTo: ApplyTo | undefined;
  readonly lambda: number;
  readonly attenuation: Attenuation;
  beforeTask(ctx: TrainContext): Promise<void>;
  afterTask(ctx: TrainContext): Promise<void>;
  /** The tracker's state (prefixed `importance/`) and the WVA settings; the factors are derived. */
  getState(): { tensors: ParamMap; meta: Record<string, unknown> };
  setState(state: { tensors: ParamMap; meta: Record<string, unknown> }): void;
  /** Frees the factors, and the tracker if the plugin made it. */
  dispose(): void;
}

function isTracker(x: unknown): x is ImportanceTracker {
  return typeof x === 'object' && x !== null && typeof (x as ImportanceTracker).onUpdate === 'function' && typeof (x as ImportanceTracker).afterTask === 'function';
}

function pick(tensors: ParamMap, prefix: string): ParamMap {
  const out: ParamMap = {};
  for (const [k, v] of Object.entries(tensors)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

export function wvaPlugin(options: WvaPluginOptions): WvaPlugin {
  const what = 'wvaPlugin';
  const lambda = checkLambda(options.lambda, what);
  const attenuation = checkAttenuation(options.attenuation, what);
  const fixedMode = checkApplyTo(options.applyTo, what);
  if (options.importance === undefined) throw new Error(`${what}: importance is required (tracker options such as { method: 'sig' }, or an importanceTracker)`);
  const owned = !isTracker(options.importance);
  const tracker = isTracker(options.importance) ? options.importance : importanceTracker(options.importance);
  let factors: ParamMap = {};
  let mode: ApplyTo | undefined = fixedMode;
  let params: ParamMap<tf.Variable> | undefined;

  const plugin: WvaPlugin = {
    name: `wva:${tracker.method}`,
    get needsDelta() {
      return tracker.needsDelta ?? false;
    },
    tracker,
    get factors() {
      return factors;
    },
    get applyTo() {
      return mode;
    },
    lambda,
    attenuation,
    async beforeTask(ctx) {
      params = ctx.model.params;
      mode = fixedMode ?? defaultApplyTo(ctx.optimizer);
      install();
      await tracker.beforeTask?.(ctx);
    },
    async afterTask(ctx) {
      params = ctx.model.params;
      await tracker.afterTask(ctx); // its onUpdate recomputes the factors
    },
    getState() {
      const state = tracker.getState();
      const tensors: ParamMap = {};
      for (const [k, v] of Object.entries(state.tensors)) tensors[`importance/${k}`] = v;
      return { tensors, meta: { lambda, attenuation: attenuationLabel(attenuation), applyTo: fixedMode ?? 'auto', importance: state.meta } };
    },
    setState(state) {
      const { meta } = state;
      if (meta.lambda !== lambda) throw new Error(`${what}.setState: the state is for lambda ${String(meta.lambda)}, this plugin's is ${lambda}`);
      if (meta.attenuation !== attenuationLabel(attenuation)) {
        throw new Error(`${what}.setState: the state is for attenuation '${String(meta.attenuation)}', this plugin's is '${attenuationLabel(attenuation)}'`);
      }
      tracker.setState({ tensors: pick(state.tensors, 'importance/'), meta: (meta.importance ?? {}) as Record<string, unknown> });
      refresh(tracker.importances);
    },
    dispose() {
      unsubscribe();
      disposeParams(factors);
      factors = {};
      install();
      if (owned) tracker.dispose();
    },
  };
  if (tracker.afterStep) {
    const afterStep = tracker.afterStep.bind(tracker);
    plugin.afterStep = (info: StepInfo, ctx: TrainContext) => afterStep(info, ctx);
  }

  /** Installs the transform of the current mode over the current factors (none while a ≡ 1). */
  function install(): void {
    delete plugin.transformGradients;
    delete plugin.transformStep;
    if (!mode || Object.keys(factors).length === 0) return;
    if (mode === 'gradients') plugin.transformGradients = attenuateGradients(factors).transformGradients as NonNullable<Plugin['transformGradients']>;
    else plugin.transformStep = attenuateSteps(factors).transformStep as NonNullable<Plugin['transformStep']>;
  }

  function refresh(importances: ParamMap | undefined): void {
    const next = importances ? keepParams(attenuationFactors(importances, { lambda, attenuation, ...(params ? { params } : {}) })) : {};
    disposeParams(factors);
    factors = next;
    install();
  }

  const unsubscribe = tracker.onUpdate((u) => refresh(u.importances));
  return plugin;
}
