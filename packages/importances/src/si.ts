/**
 * Synaptic Intelligence (Zenke et al. 2017) as a `trainContinual` plugin. Each step
 *   ω ← ω − g ⊙ Δθ,
 * g the gradient of the full loss (penalties included, `StepInfo.rawGrads`) and Δθ the step the
 * optimizer actually took (`StepInfo.delta`, after every step transform). At task end
 *   I_task = ω / ((θ_end − θ_start)² + ξ),   ξ = 0.1 by default,
 * then ω is reset and θ_start ← θ_end. ω and θ_start live in tf.Variables (no per-step allocation
 * survives a step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Plugin, type Model, type StepInfo, type TrainContext, assertFiniteModel, disposeParams, findNonFinite } from '@forgetless/core';

export interface SiOptions {
  /** Damping ξ > 0 of the denominator (default 0.1). */
  xi?: number;
}

export interface SiTracker extends Plugin {
  readonly xi: number;
  /** The path integral ω accumulated since the task began (undefined before the first step). */
  readonly omega: ParamMap<tf.Variable> | undefined;
  /** I_task = ω / ((θ − θ_start)² + ξ) for the current task; then resets ω and θ_start ← θ. */
  taskImportance(): ParamMap;
  getState(): { tensors: ParamMap; meta: Record<string, unknown> };
  setState(state: { tensors: ParamMap; meta: Record<string, unknown> }): void;
  dispose(): void;
}

export function checkXi(xi: unknown): number {
  if (typeof xi !== 'number' || !(xi > 0) || !Number.isFinite(xi)) throw new Error(`siTracker: xi must be a finite number > 0, got ${String(xi)}`);
  return xi;
}

export function siTracker(options: SiOptions = {}): SiTracker {
  const xi = checkXi(options.xi ?? 0.1);
  let model: Model | undefined;
  let omega: ParamMap<tf.Variable> | undefined;
  let start: ParamMap<tf.Variable> | undefined;

  const release = () => {
    if (omega) tf.dispose(Object.values(omega));
    if (start) tf.dispose(Object.values(start));
    omega = undefined;
    start = undefined;
  };
  /** Fresh state: ω = 0 and θ_start = θ − `back` (the parameters before the step `back`, if given). */
  const init = (m: Model, back?: ParamMap) => {
    release();
    model = m;
    omega = {};
    start = {};
    for (const [name, v] of Object.entries(m.params)) {
      omega[name] = tf.tidy(() => tf.variable(tf.zerosLike(v), false));
      start[name] = tf.tidy(() => tf.variable(back?.[name] ? tf.sub(v, back[name] as tf.Tensor) : v.clone(), false));
    }
  };

  return {
    name: 'si',
    needsDelta: true,
    xi,
    get omega() {
      return omega;
    },
    beforeTask(ctx: TrainContext) {
      init(ctx.model);
    },
    afterStep(info: StepInfo, ctx: TrainContext) {
      const delta = info.delta;
      if (!delta) throw new Error("siTracker: the step's Δθ (StepInfo.delta) is missing; run it as a trainContinual plugin (needsDelta)");
      if (!omega || (model && model !== ctx.model)) init(ctx.model, delta);
      model = ctx.model;
      const om = omega as ParamMap<tf.Variable>;
      for (const [name, w] of Object.entries(om)) {
        const g = info.rawGrads[name];
        const d = delta[name];
        if (!g || !d) throw new Error(`siTracker: the step has no gradient or Δθ for parameter '${name}'`);
        tf.tidy(() => w.assign(tf.sub(w, tf.mul(g, d))));
      }
    },
    taskImportance(): ParamMap {
      if (!model || !omega || !start) throw new Error('siTracker: no training step was seen, so there is no task importance yet');
      const m = model;
      const om = omega;
      const st = start;
      // weights that diverged give no importance: say which, before anything is reset
      assertFiniteModel(m.params, 'siTracker');
      const out: ParamMap = {};
      for (const [name, v] of Object.entries(m.params)) {
        const w = om[name] as tf.Variable;
        const s = st[name] as tf.Variable;
        out[name] = tf.tidy(() => tf.div(w, tf.add(tf.square(tf.sub(v, s)), xi)));
      }
      const bad = findNonFinite(out);
      if (bad) {
        disposeParams(out);
        throw new Error(`siTracker: the path integral ω of parameter '${bad.name}' is ${String(bad.value)} (the gradients or steps overflowed): no importance is defined`);
      }
      for (const [name, v] of Object.entries(m.params)) {
        const w = om[name] as tf.Variable;
        const s = st[name] as tf.Variable;
        tf.tidy(() => {
          w.assign(tf.zerosLike(w));
          s.assign(v);
        });
      }
      return out;
    },
    getState() {
      const tensors: ParamMap = {};
      if (omega && start) {
        for (const [name, w] of Object.entries(omega)) tensors[`omega/${name}`] = w;
        for (const [name, s] of Object.entries(start)) tensors[`start/${name}`] = s;
      }
      return { tensors, meta: { xi } };
    },
    setState(state) {
      release();
      const names = Object.keys(state.tensors)
        .filter((k) => k.startsWith('omega/'))
        .map((k) => k.slice(6));
      if (names.length === 0) return;
      omega = {};
      start = {};
      for (const name of names) {
        const s = state.tensors[`start/${name}`];
        if (!s) throw new Error(`siTracker.setState: 'start/${name}' is missing`);
        omega[name] = tf.variable(state.tensors[`omega/${name}`] as tf.Tensor, false);
        start[name] = tf.variable(s, false);
      }
    },
    dispose: release,
  };
}
