/**
 * The consolidation plugin of `trainContinual`, shared by EWC, stabilised EWC and L2.
 *
 * At the end of each task it lets its importance tracker compute and accumulate the task's
 * importance on the closing set, snapshots the anchors θ* (the parameters at the task's end) and
 * computes the coefficients c once. During the next tasks its `penalty` hook adds
 *   Σ_terms Σ c ⊙ (θ − θ*)²   to the loss and   Σ_terms 2c ⊙ (θ − θ*)   to the gradient,
 * in closed form (no autodiff through the penalty). One term (online, decay) or one per task
 * (separate, Kirkpatrick et al. 2017).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Penalty, type Plugin, type StepInfo, type TrainContext, assertFinite, cloneParams, disposeParams } from '@forgetless/core';
import type { ImportanceTracker } from '@forgetless/importances';
import { type ConsolidationMode, type ImportanceSource, resolveTracker } from './importance-source.js';
import { type EwcConvention, ewcCoefficient, quadraticPenalty, stabilizedCoefficient } from './penalty.js';
import { type ConsolidationMeta, type ConsolidationState, checkStateMeta, pickPrefixed, termCount } from './state.js';

export type ConsolidationKind = 'ewc' | 'stabilized-ewc' | 'l2';

/** One quadratic term of the penalty. Its maps belong to the consolidation: read, never dispose. */
export interface ConsolidationTerm {
  /** I behind `coefficient`: the running importance (online, decay; the tracker's) or the task's (separate); undefined for L2. */
  readonly importance: Readonly<ParamMap> | undefined;
  /** c, per parameter (a scalar per parameter for L2). */
  readonly coefficient: Readonly<ParamMap>;
  /** θ*, the parameters at the end of the task (latest task for online and decay). */
  readonly anchor: Readonly<ParamMap>;
}

export interface Consolidation extends Plugin {
  readonly name: ConsolidationKind;
  readonly kind: ConsolidationKind;
  readonly mode: ConsolidationMode;
  readonly lambda: number;
  /** Tasks consolidated so far. */
  readonly taskCount: number;
  /** The importance tracker it drives (undefined for L2). */
  readonly tracker: ImportanceTracker | undefined;
  /** The penalty's terms, oldest first: none before the first task ends, then one (online, decay) or one per task (separate). */
  readonly terms: readonly ConsolidationTerm[];
  /** The learning rate η stabilised EWC computed its coefficients with (undefined before it is known, and for other kinds). */
  readonly learningRate: number | undefined;
  afterTask(ctx: TrainContext): Promise<void>;
  penalty(ctx: TrainContext): Penalty | undefined;
  getState(): ConsolidationState;
  /**
   * Replaces the state (tensors are copied). `meta` needs `taskCount`; the other fields, when
   * present, must match this plugin's configuration. Leaves the plugin unchanged if it throws.
   */
  setState(state: { tensors: ParamMap; meta: Partial<ConsolidationMeta> & Record<string, unknown> }): void;
  dispose(): void;
}

/** What `ewc`, `stabilizedEwc` and `l2` configure (validated by them). */
export interface ConsolidationConfig {
  kind: ConsolidationKind;
  mode: ConsolidationMode;
  lambda: number;
  convention?: EwcConvention;
  /** Stabilised EWC's η; when undefined it is taken from `TrainContext.learningRate`. */
  learningRate?: number;
  gamma?: number;
  /** Tracker (options) for EWC; 'uniform' (I = 1) for L2. */
  importance: ImportanceSource | 'uniform';
}

interface StoredTerm {
  /** Owned in separate mode only (online and decay read the tracker's running importance). */
  importance?: ParamMap;
  coefficient: ParamMap;
  anchor: ParamMap;
}

export function consolidation(config: ConsolidationConfig): Consolidation {
  const { kind, mode, lambda } = config;
  const what = kind === 'stabilized-ewc' ? 'stabilizedEwc' : kind;
  const convention = config.convention ?? 'lambda';
  const source = config.importance === 'uniform' ? undefined : resolveTracker(config.importance, mode, config.gamma, what);
  const tracker = source?.tracker;
  const gamma = source?.gamma;
  let trackerCount = tracker?.taskCount ?? 0;
  let eta = config.learningRate;
  let stored: StoredTerm[] = [];
  let taskCount = 0;

  const coefficientOf = (importance: tf.Tensor | undefined): tf.Tensor =>
    kind === 'stabilized-ewc' ? stabilizedCoefficient(importance, lambda, eta as number) : ewcCoefficient(importance, lambda, convention);

  /** c for every parameter of `anchor`, from `importance` (undefined: I = 1). */
  const coefficients = (anchor: ParamMap, importance: ParamMap | undefined, origin: string): ParamMap => {
    if (importance) {
      for (const [name, a] of Object.entries(anchor)) {
        const imp = importance[name];
        if (!imp) throw new Error(`${what}: ${origin} has no importance for parameter '${name}'`);
        if (imp.shape.length !== a.shape.length || imp.shape.some((d, i) => d !== a.shape[i])) {
          throw new Error(`${what}: ${origin}: the importance of parameter '${name}' has shape [${imp.shape}], the parameter [${a.shape}]`);
        }
      }
    }
    const out: ParamMap = {};
    for (const name of Object.keys(anchor)) out[name] = coefficientOf(importance?.[name]);
    return out;
  };

  const useLearningRate = (ctx: TrainContext | undefined, origin: string): void => {
    if (kind !== 'stabilized-ewc' || config.learningRate !== undefined) return;
    const lr = ctx?.learningRate;
    if (lr === undefined) {
      if (eta === undefined) throw new Error(`${what}: the learning rate η is unknown at ${origin}: pass stabilizedEwc({ learningRate }) or trainContinual's learningRate option`);
      return;
    }
    if (!(typeof lr === 'number' && Number.isFinite(lr) && lr > 0)) throw new Error(`${what}: the run's learningRate must be a finite number > 0, got ${String(lr)}`);
    if (eta !== undefined && eta !== lr) throw new Error(`${what}: the run's learningRate ${lr} differs from the η ${eta} the coefficients were computed with`);
    eta = lr;
  };

  const release = (): void => {
    for (const t of stored) {
      disposeParams(t.importance);
      disposeParams(t.coefficient);
      disposeParams(t.anchor);
    }
    stored = [];
  };

  const plugin: Consolidation = {
    name: kind,
    kind,
    mode,
    lambda,
    needsDelta: tracker?.needsDelta ?? false,
    get taskCount() {
      return taskCount;
    },
    tracker,
    get learningRate() {
      return kind === 'stabilized-ewc' ? eta : undefined;
    },
    get terms() {
      return Object.freeze(
        stored.map((t) =>
          Object.freeze({
            importance: t.importance ? Object.freeze({ ...t.importance }) : tracker?.importances ? Object.freeze({ ...tracker.importances }) : undefined,
            coefficient: Object.freeze({ ...t.coefficient }),
            anchor: Object.freeze({ ...t.anchor }),
          }),
        ),
      );
    },
    async afterTask(ctx) {
      useLearningRate(ctx, `the end of task '${ctx.task.name}'`);
      if (tracker) {
        if (tracker.taskCount !== trackerCount) {
          throw new Error(
            `${what}: the importance tracker has ${tracker.taskCount} tasks but this consolidation drove it through ${trackerCount}: ` +
              'it was updated elsewhere (list only the consolidation in plugins, not its tracker too)',
          );
        }
        await tracker.afterTask(ctx);
        trackerCount = tracker.taskCount;
      }
      const origin = `task '${ctx.task.name}'`;
      const anchor = cloneParams(ctx.model.params);
      let importance: ParamMap | undefined;
      let coefficient: ParamMap | undefined;
      try {
        if (mode === 'separate' && tracker) importance = cloneParams(tracker.last as ParamMap);
        coefficient = tf.tidy(() => coefficients(anchor, mode === 'separate' ? importance : tracker?.importances, origin));
        await assertFinite(coefficient, `${what} (coefficients after ${origin})`);
      } catch (e) {
        disposeParams(anchor);
        disposeParams(importance);
        disposeParams(coefficient);
        throw e;
      }
      const term: StoredTerm = { coefficient, anchor, ...(importance ? { importance } : {}) };
      if (mode === 'separate') stored.push(term);
      else {
        release();
        stored = [term];
      }
      taskCount++;
    },
    penalty(ctx) {
      if (stored.length === 0) return undefined;
      return quadraticPenalty(ctx.model.params, stored, what);
    },
    getState() {
      const tensors: ParamMap = {};
      const put = (prefix: string, map: ParamMap | undefined) => {
        for (const [k, v] of Object.entries(map ?? {})) tensors[`${prefix}${k}`] = v;
      };
      if (mode === 'separate') {
        stored.forEach((t, k) => {
          put(`task${k}/importance/`, t.importance);
          put(`task${k}/anchor/`, t.anchor);
        });
      } else if (stored[0]) {
        put('importance/', tracker?.importances);
        put('anchor/', stored[0].anchor);
      }
      const trackerState = tracker?.getState();
      for (const [k, v] of Object.entries(trackerState?.tensors ?? {})) {
        // online and decay: the tracker's running importance is saved once, as 'importance/'
        if (mode !== 'separate' && k.startsWith('importances/')) continue;
        tensors[`tracker/${k}`] = v;
      }
      const meta: ConsolidationMeta = {
        kind,
        mode,
        lambda,
        ...(kind !== 'stabilized-ewc' ? { convention } : {}),
        ...(kind === 'stabilized-ewc' && eta !== undefined ? { learningRate: eta } : {}),
        ...(gamma !== undefined ? { gamma } : {}),
        method: tracker?.method ?? 'uniform',
        taskCount,
        ...(trackerState ? { tracker: trackerState.meta } : {}),
      };
      return { tensors, meta };
    },
    setState(state) {
      const expected = {
        kind,
        mode,
        lambda,
        ...(kind !== 'stabilized-ewc' ? { convention } : {}),
        ...(gamma !== undefined ? { gamma } : {}),
        method: tracker?.method ?? 'uniform',
      };
      const meta = checkStateMeta(state, expected, `${what}.setState`);
      if (kind === 'stabilized-ewc') {
        const saved = meta.learningRate;
        if (saved !== undefined && config.learningRate !== undefined && saved !== config.learningRate) {
          throw new Error(`${what}.setState: the state's learningRate ${saved} differs from this plugin's ${config.learningRate}`);
        }
        if (meta.taskCount > 0 && config.learningRate === undefined && saved === undefined) {
          throw new Error(`${what}.setState: the state has no learningRate and this plugin none either: pass stabilizedEwc({ learningRate })`);
        }
      }
      const n = mode === 'separate' ? termCount(state.tensors) : meta.taskCount > 0 ? 1 : 0;
      if (mode === 'separate' && n !== meta.taskCount) {
        throw new Error(`${what}.setState: meta.taskCount is ${meta.taskCount} but the state has anchors for ${n} tasks (task0/anchor/...)`);
      }
      // Read and check everything first, so a bad state leaves the plugin as it was.
      const running = tracker && mode !== 'separate' && n > 0 ? pickPrefixed(state.tensors, 'importance/') : undefined;
      if (tracker && mode !== 'separate' && n > 0 && !running) {
        throw new Error(`${what}.setState: the state has anchors but no importances ('importance/<parameter>')`);
      }
      const parts = Array.from({ length: n }, (_, k) => {
        const prefix = mode === 'separate' ? `task${k}/` : '';
        const anchor = pickPrefixed(state.tensors, `${prefix}anchor/`);
        if (!anchor) throw new Error(`${what}.setState: the state has no anchors ('${prefix}anchor/<parameter>')`);
        const importance = tracker && mode === 'separate' ? pickPrefixed(state.tensors, `${prefix}importance/`) : running;
        if (tracker && !importance) throw new Error(`${what}.setState: the state has no importances for task ${k} ('${prefix}importance/<parameter>')`);
        return { prefix, anchor, importance };
      });
      const next: StoredTerm[] = [];
      const previousEta = eta;
      if (kind === 'stabilized-ewc') eta = config.learningRate ?? meta.learningRate;
      try {
        for (const { prefix, anchor, importance } of parts) {
          const coefficient = tf.tidy(() => coefficients(anchor, importance, `the state${prefix ? ` (${prefix.slice(0, -1)})` : ''}`));
          next.push({ coefficient, anchor: cloneParams(anchor), ...(importance && mode === 'separate' ? { importance: cloneParams(importance) } : {}) });
        }
        if (tracker) {
          const tensors = pickPrefixed(state.tensors, 'tracker/') ?? {};
          for (const [k, v] of Object.entries(running ?? {})) tensors[`importances/${k}`] = v;
          tracker.setState({ tensors, meta: meta.tracker ?? { method: tracker.method, taskCount: meta.taskCount } });
          trackerCount = tracker.taskCount;
        }
      } catch (e) {
        for (const t of next) [t.importance, t.coefficient, t.anchor].forEach(disposeParams);
        eta = previousEta;
        throw e;
      }
      release();
      stored = next;
      taskCount = meta.taskCount;
    },
    dispose() {
      release();
      taskCount = 0;
      if (source?.owned) tracker?.dispose();
    },
  };
  if (tracker?.beforeTask) plugin.beforeTask = (ctx: TrainContext) => tracker.beforeTask?.(ctx);
  if (tracker?.afterStep) plugin.afterStep = (info: StepInfo, ctx: TrainContext) => tracker.afterStep?.(info, ctx);
  return plugin;
}
