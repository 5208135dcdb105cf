/**
 * PackNet (Mallya & Lazebnik 2018) as a `trainContinual` plugin: one network holds every task in
 * disjoint sets of weights.
 * - While task t trains, only the free weights (owned by no earlier task) move: the weights of
 *   earlier tasks are frozen through the masked transform (gradient and step masks, so momentum and
 *   Adam's moments cannot move them: they stay bitwise unchanged). Biases and the other parameters
 *   that are not kernels train with the first task and are frozen after it (PackNet's convention).
 * - At the end of task t, in every kernel, the fraction `prune` of its free weights with the smallest
 *   importance (|θ| by default) is set to zero and left free for later tasks; the rest become task t's.
 *   Then `fineTuneSteps` steps on task t's training data retrain task t's own weights alone.
 * - At test time in the task-incremental scenario (the evaluated task has `classes`, so its identity
 *   is given), the weights of later tasks are zeroed while task j is evaluated (`beforeEvaluate`)
 *   and restored afterwards: task j sees exactly the network it was trained with. Without a task
 *   label (domain-, class-incremental) the whole network is used.
 * Ownership is a map of float32 tensors per kernel: 0 free, t + 1 owned by task t; part of the
 * checkpoint state.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Model, type ParamMap, type Plugin, type Task, type TrainContext, disposeParams, trainStep } from '@forgetless/core';
import { masked } from '@forgetless/optimizers';
import { selectSmallest } from './rank.js';
import { KERNEL_NAMES, localOf } from './scope.js';

export interface PackNetOptions {
  /** Fraction of each kernel's free weights released at a task's end (default 0.5). */
  prune?: number;
  /** Fine-tuning steps after pruning, on the task's training data (default 0). */
  fineTuneSteps?: number;
  /** Batch size of the fine-tuning steps (default 100). */
  batchSize?: number;
  /** What to rank by (default |θ|, PackNet's); the returned map is disposed by the plugin. */
  importance?: (model: Model, ctx: TrainContext) => ParamMap | Promise<ParamMap>;
}

export interface PackNetPlugin extends Plugin {
  /** Ownership per kernel: 0 free, t + 1 owned by task t (owned by the plugin). */
  readonly owners: ParamMap;
  beforeTask(ctx: TrainContext): void;
  afterTask(ctx: TrainContext): Promise<void>;
  getState(): { tensors: ParamMap; meta: Record<string, unknown> };
  setState(state: { tensors: ParamMap; meta: Record<string, unknown> }): void;
  dispose(): void;
}

export function packNet(options: PackNetOptions = {}): PackNetPlugin {
  const prune = options.prune ?? 0.5;
  const fineTuneSteps = options.fineTuneSteps ?? 0;
  const batchSize = options.batchSize ?? 100;
  if (!(prune >= 0 && prune < 1)) throw new Error(`packNet: prune must be in [0, 1), got ${prune}`);
  if (!Number.isInteger(fineTuneSteps) || fineTuneSteps < 0) throw new Error(`packNet: fineTuneSteps must be a whole number ≥ 0, got ${fineTuneSteps}`);
  let owners: ParamMap = {};
  let trainable: ParamMap = {};
  let model: Model | undefined;
  let current = 0;
  let saved: ParamMap | undefined;

  const kernels = (m: Model) => Object.keys(m.params).filter((n) => KERNEL_NAMES.has(localOf(n)));

  /** Installs step masks: 1 where `keep(owner)` (kernels), `others` on every other parameter. */
  const install = (m: Model, keep: (o: tf.Tensor) => tf.Tensor, others: 0 | 1) => {
    disposeParams(trainable);
    trainable = {};
    for (const [n, p] of Object.entries(m.params)) {
      const o = owners[n];
      trainable[n] = o ? tf.tidy(() => tf.cast(keep(o), 'float32')) : others ? tf.onesLike(p) : tf.zerosLike(p);
    }
    const t = masked(trainable);
    plugin.transformGradients = (g) => t.transformGradients(g);
    plugin.transformStep = (d) => t.transformStep(d);
    return t;
  };

  const plugin: PackNetPlugin = {
    name: 'packnet',
    needsDelta: true,
    get owners() {
      return owners;
    },
    beforeTask(ctx) {
      model = ctx.model;
      current = ctx.taskIndex;
      for (const n of kernels(ctx.model)) owners[n] ??= tf.zerosLike(ctx.model.params[n] as tf.Variable);
      install(ctx.model, (o) => tf.equal(o, 0), ctx.taskIndex === 0 ? 1 : 0);
    },
    async afterTask(ctx) {
      const m = ctx.model;
      const t = ctx.taskIndex + 1;
      const scores = options.importance ? await options.importance(m, ctx) : undefined;
      try {
        for (const n of kernels(m)) {
          const p = m.params[n] as tf.Variable;
          const owner = owners[n] as tf.Tensor;
          const o = owner.dataSync();
          const abs = scores?.[n] ? undefined : tf.abs(p);
          const s = Float32Array.from(((scores?.[n] ?? abs) as tf.Tensor).dataSync());
          abs?.dispose();
          let free = 0;
          for (let i = 0; i < o.length; i++) {
            if (o[i] === 0) free++;
            else s[i] = Number.POSITIVE_INFINITY;
          }
          const [released] = selectSmallest([s], Math.round(prune * free), [n]);
          const next = Float32Array.from(o);
          const values = Float32Array.from(p.dataSync());
          for (let i = 0; i < o.length; i++) {
            if (o[i] !== 0) continue;
            if (released?.[i]) values[i] = 0;
            else next[i] = t;
          }
          const kept = tf.tensor(values, p.shape, 'float32');
          p.assign(kept);
          kept.dispose();
          owner.dispose();
          owners[n] = tf.tensor(next, p.shape, 'float32');
        }
      } finally {
        if (scores) disposeParams(scores);
      }
      if (fineTuneSteps > 0) {
        // only task t's own weights (and, on the first task, the shared non-kernel ones) retrain
        install(m, (o) => tf.equal(o, t), ctx.taskIndex === 0 ? 1 : 0);
        let steps = 0;
        for (let epoch = 0; steps < fineTuneSteps; epoch++) {
          for (const batch of ctx.task.train.batches(batchSize, { shuffle: true, seed: ctx.rng.fork(`packnet/${ctx.taskIndex}/${epoch}`).seedInt() })) {
            try {
              trainStep(batch, ctx, [{ name: 'packnet-fine-tune', transformGradients: plugin.transformGradients, transformStep: plugin.transformStep }]).dispose();
            } finally {
              tf.dispose([batch.x, batch.y]);
            }
            if (++steps >= fineTuneSteps) break;
          }
        }
      }
      delete plugin.transformGradients;
      delete plugin.transformStep;
      disposeParams(trainable);
      trainable = {};
    },
    beforeEvaluate(j: number, task: Task) {
      if (!model || !task.classes) return;
      const m = model;
      // zeroed: weights of later tasks, and the free ones while an earlier task is evaluated
      const later = (o: tf.Tensor) => (j < current ? tf.logicalOr(tf.greater(o, j + 1), tf.equal(o, 0)) : tf.greater(o, j + 1));
      saved = {};
      for (const [n, o] of Object.entries(owners)) {
        const p = m.params[n] as tf.Variable;
        saved[n] = tf.clone(p);
        tf.tidy(() => p.assign(tf.where(later(o), tf.zerosLike(p), p)));
      }
    },
    afterEvaluate() {
      if (!model || !saved) return;
      for (const [n, v] of Object.entries(saved)) (model.params[n] as tf.Variable).assign(v);
      disposeParams(saved);
      saved = undefined;
    },
    getState() {
      return { tensors: { ...owners }, meta: { kind: 'packnet', prune, fineTuneSteps } };
    },
    setState(state) {
      disposeParams(owners);
      owners = Object.fromEntries(Object.entries(state.tensors).map(([n, t]) => [n, tf.keep(tf.clone(t))]));
    },
    dispose() {
      disposeParams(owners);
      disposeParams(trainable);
      if (saved) disposeParams(saved);
      owners = {};
      trainable = {};
      saved = undefined;
    },
  };
  return plugin;
}
