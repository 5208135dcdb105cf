/**
 * importanceTracker: the plugin that keeps a model's running importance over a continual run.
 * After each task it computes the task's importance I_task on the task's closing set (SI: from the
 * path integral it tracked during training) and accumulates it into the running I (sum by default,
 * as the papers do). EWC, WVA and pruning build on it; it owns `importances` and `last`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DataSource, type ParamMap, type Plugin, type StepInfo, type Task, type TrainContext, assertFinite, disposeParams } from '@forgetless/core';
import { type AccumulateMode, accumulate, checkAccumulate } from './accumulate.js';
import { type ImportanceMethod, type ImportanceOptions, checkMethod, computeImportance } from './compute.js';
import { type SiTracker, siTracker } from './si.js';

export interface ImportanceTrackerOptions {
  method: ImportanceMethod;
  /** Options of the method (variant, output, batchSize, ...; SI: `xi`). */
  methodOptions?: Omit<ImportanceOptions, 'tracker'> & { xi?: number };
  /** How task importances combine (default 'sum'). */
  accumulate?: AccumulateMode;
  /** γ of `accumulate: 'decay'`. */
  gamma?: number;
  /** The closing set of a task (default: `task.validation`, else `task.train`). */
  closingSet?: (task: Task, ctx: TrainContext) => DataSource | undefined;
  /** At most this many closing-set examples (default `methodOptions.limit`, else 5000 as the papers). */
  limit?: number;
}

export interface ImportanceUpdate {
  taskIndex: number;
  task: string;
  /** This task's importance. */
  last: ParamMap;
  /** The running importance after accumulating it. */
  importances: ParamMap;
  taskCount: number;
}

export interface ImportanceTracker extends Plugin {
  readonly method: ImportanceMethod;
  /** Running importance I (undefined before the first task ends). Replaced (and disposed) at each update. */
  readonly importances: ParamMap | undefined;
  /** The latest task's importance. Replaced (and disposed) at each update. */
  readonly last: ParamMap | undefined;
  /** Tasks accumulated so far. */
  readonly taskCount: number;
  /** Calls `cb` after every update (awaited); returns an unsubscribe function. */
  onUpdate(cb: (update: ImportanceUpdate) => void | Promise<void>): () => void;
  afterTask(ctx: TrainContext): Promise<void>;
  getState(): { tensors: ParamMap; meta: Record<string, unknown> };
  setState(state: { tensors: ParamMap; meta: Record<string, unknown> }): void;
  dispose(): void;
}

function pick(tensors: ParamMap, prefix: string): ParamMap | undefined {
  const out: ParamMap = {};
  for (const [k, v] of Object.entries(tensors)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return Object.keys(out).length ? out : undefined;
}

export function importanceTracker(options: ImportanceTrackerOptions): ImportanceTracker {
  const what = 'importanceTracker';
  const method = checkMethod(options.method, what);
  const mode = checkAccumulate({ mode: options.accumulate ?? 'sum', ...(options.gamma !== undefined ? { gamma: options.gamma } : {}) }, what);
  const limit = options.limit ?? options.methodOptions?.limit ?? 5000;
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`${what}: limit must be a positive integer, got ${limit}`);
  const { xi, ...methodOptions } = options.methodOptions ?? {};
  const si: SiTracker | undefined = method === 'si' ? siTracker(xi !== undefined ? { xi } : {}) : undefined;
  const listeners = new Set<(u: ImportanceUpdate) => void | Promise<void>>();
  let importances: ParamMap | undefined;
  let last: ParamMap | undefined;
  let taskCount = 0;

  const tracker: ImportanceTracker = {
    name: `importances:${method}`,
    needsDelta: si !== undefined,
    method,
    get importances() {
      return importances;
    },
    get last() {
      return last;
    },
    get taskCount() {
      return taskCount;
    },
    onUpdate(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    async afterTask(ctx: TrainContext) {
      const task = ctx.task;
      let imp: ParamMap;
      try {
        if (si) {
          imp = si.taskImportance();
        } else {
          const source = options.closingSet?.(task, ctx) ?? task.validation ?? task.train;
          const classes = task.classes ?? methodOptions.classes;
          imp = await computeImportance(method, ctx.model, source, { ...methodOptions, limit, ...(classes ? { classes } : {}) });
        }
      } catch (e) {
        // which tracker and task (magnitude and SI refuse weights that diverged, naming the parameter)
        throw new Error(`${what} (${method}, task '${task.name}'): ${(e as Error).message}`);
      }
      try {
        await assertFinite(imp, `${what} (${method}, task '${task.name}')`);
      } catch (e) {
        disposeParams(imp);
        throw e;
      }
      disposeParams(last);
      last = imp;
      importances = accumulate(importances, imp, { mode, ...(options.gamma !== undefined ? { gamma: options.gamma } : {}), taskCount });
      taskCount++;
      const update: ImportanceUpdate = { taskIndex: ctx.taskIndex, task: task.name, last, importances, taskCount };
      for (const cb of listeners) await cb(update);
    },
    getState() {
      const tensors: ParamMap = {};
      for (const [k, v] of Object.entries(importances ?? {})) tensors[`importances/${k}`] = v;
      for (const [k, v] of Object.entries(last ?? {})) tensors[`last/${k}`] = v;
      if (si) for (const [k, v] of Object.entries(si.getState().tensors)) tensors[`si/${k}`] = v;
      return { tensors, meta: { method, accumulate: mode, ...(options.gamma !== undefined ? { gamma: options.gamma } : {}), taskCount } };
    },
    setState(state) {
      if (state.meta.method !== method) throw new Error(`${what}.setState: the state is of method '${String(state.meta.method)}', this tracker's is '${method}'`);
      const count = state.meta.taskCount;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 0)
        throw new Error(`${what}.setState: meta.taskCount must be a non-negative integer, got ${String(count)}`);
      const clone = (m: ParamMap | undefined) => (m ? (Object.fromEntries(Object.entries(m).map(([k, v]) => [k, tf.clone(v)])) as ParamMap) : undefined);
      disposeParams(importances);
      disposeParams(last);
      importances = clone(pick(state.tensors, 'importances/'));
      last = clone(pick(state.tensors, 'last/'));
      taskCount = count;
      si?.setState({ tensors: pick(state.tensors, 'si/') ?? {}, meta: {} });
    },
    dispose() {
      disposeParams(importances);
      disposeParams(last);
      importances = undefined;
      last = undefined;
      si?.dispose();
      listeners.clear();
    },
  };
  if (si) {
    tracker.beforeTask = (ctx: TrainContext) => si.beforeTask?.(ctx);
    tracker.afterStep = (info: StepInfo, ctx: TrainContext) => si.afterStep?.(info, ctx);
  }
  return tracker;
}
