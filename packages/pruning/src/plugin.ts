/**
 * pruningPlugin: pruning during `trainContinual` on a schedule (one-shot, constant, polynomial decay
 * as tfmot's, iterative). At each step the schedule marks, the plugin ranks the importances, makes
 * masks that keep every weight already pruned pruned, zeroes the pruned weights, and from then on
 * holds them at zero through the optimizers package's `masked` transform (gradient and step masks),
 * so momentum and Adam's moments cannot revive them.
 *
 * A pruning step at the start of a task may use an asynchronous importance (SIG, Fisher, MAS on a
 * calibration set: `beforeTask` is awaited); a pruning step inside a task needs a synchronous one
 * (`magnitude`, a fixed map, or a function returning a map).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Plugin, type Model, type TrainContext, disposeParams } from '@forgetless/core';
import { type MaskedTransform, masked } from '@forgetless/optimizers';
import { type PruneOptions, applyMasks, pruningMasksSync } from './masks.js';
import type { PruningSchedule } from './schedule.js';

export type PluginImportance = 'magnitude' | ParamMap | ((model: Model, ctx: TrainContext) => ParamMap | Promise<ParamMap>);

export interface PruningPluginOptions extends Omit<PruneOptions, 'sparsity' | 'previous'> {
  schedule: PruningSchedule;
  /**
   * What to rank by at each pruning step: `magnitude` (|θ| at that step, the default, tfmot's), a
   * fixed map (owned by the caller), or a function whose returned map the plugin disposes.
   */
  importance?: PluginImportance;
  /** Called after each mask update. */
  onPrune?: (event: PruneEvent) => void;
}

export interface PruneEvent {
  step: number;
  sparsity: number;
  /** Entries pruned, over the masked parameters. */
  pruned: number;
  size: number;
}

export interface PruningPlugin extends Plugin {
  readonly schedule: PruningSchedule;
  /** The masks in force (owned by the plugin; copy them to keep them past `dispose`). */
  readonly masks: ParamMap;
  /** Every mask update so far. */
  readonly history: readonly PruneEvent[];
  beforeTask(ctx: TrainContext): Promise<void>;
  beforeStep(ctx: TrainContext): void;
  dispose(): void;
}

export function pruningPlugin(options: PruningPluginOptions): PruningPlugin {
  const what = 'pruningPlugin';
  const { schedule, importance = 'magnitude', onPrune, ...rankOptions } = options;
  if (!schedule || typeof schedule.at !== 'function') throw new Error(`${what}: schedule is required (oneShot, constantSparsity, polynomialDecay or iterative)`);
  if (typeof importance === 'string' && importance !== 'magnitude') {
    throw new Error(`${what}: importance '${importance}' must be computed outside the plugin (pass a map or a function); only 'magnitude' is built in`);
  }
  let masks: ParamMap = {};
  let transform: MaskedTransform | undefined;
  let lastStep = -1;
  const history: PruneEvent[] = [];

  const plugin: PruningPlugin = {
    name: 'pruning',
    schedule,
    get masks() {
      return masks;
    },
    history,
    async beforeTask(ctx) {
      transform?.beforeTask(ctx);
      const d = schedule.at(ctx.step);
      if (!d.prune || lastStep === ctx.step) return;
      const got = typeof importance === 'function' ? await importance(ctx.model, ctx) : undefined;
      update(ctx, d.sparsity, got);
    },
    beforeStep(ctx) {
      const d = schedule.at(ctx.step);
      if (!d.prune || lastStep === ctx.step) return;
      let got: ParamMap | undefined;
      if (typeof importance === 'function') {
        const r = importance(ctx.model, ctx);
        if (r instanceof Promise) {
          throw new Error(
            `${what}: the schedule prunes at step ${ctx.step}, inside a task, where the importance must be synchronous; it returned a Promise (use pruneIteratively, or prune at task starts)`,
          );
        }
        got = r;
      }
      update(ctx, d.sparsity, got);
    },
    dispose() {
      uninstall();
      disposeParams(masks);
      masks = {};
    },
  };

  function uninstall(): void {
    transform?.dispose();
    transform = undefined;
    delete plugin.transformGradients;
    delete plugin.transformStep;
  }

  /** New masks at `sparsity` (previous ones kept), applied to the weights and installed. */
  function update(ctx: TrainContext, sparsity: number, computed: ParamMap | undefined): void {
    const model = ctx.model;
    const map =
      computed ?? (importance === 'magnitude' ? tf.tidy(() => Object.fromEntries(Object.entries(model.params).map(([n, v]) => [n, tf.abs(v)]))) : (importance as ParamMap));
    let next: ParamMap;
    try {
      next = pruningMasksSync(map, { ...rankOptions, sparsity, ...(Object.keys(masks).length ? { previous: masks } : {}) });
    } finally {
      if (map !== importance) disposeParams(map);
    }
    applyMasks(model.params, next);
    uninstall();
    disposeParams(masks);
    masks = next;
    transform = masked(masks);
    transform.beforeTask(ctx);
    const t = transform;
    plugin.transformGradients = (grads) => t.transformGradients(grads);
    plugin.transformStep = (delta) => t.transformStep(delta);
    lastStep = ctx.step;
    let pruned = 0;
    let size = 0;
    for (const m of Object.values(masks)) {
      const v = m.dataSync();
      size += v.length;
      for (let i = 0; i < v.length; i++) if (v[i] === 0) pruned++;
    }
    const event = { step: ctx.step, sparsity, pruned, size };
    history.push(event);
    onPrune?.(event);
  }

  return plugin;
}
