/**
 * Learning without Forgetting (Li & Hoiem 2016, as van de Ven & Tolias 2019 run it): the outputs of
 * the model as it was before the current task are soft targets for the outputs it has now, on the
 * current batch. No old data is needed, so it also protects a pretrained model whose data is gone
 * (`consolidate(model, task, [lwf()])` snapshots it).
 *
 *   L = CE + λ · T² · (1/G) Σ_g mean_n Σ_{k∈g} −softmax(z_old/T)_k · log softmax(z/T)_k
 *
 * over the groups g of outputs the earlier tasks used: each earlier task's `classes` (the
 * task-incremental scenario: one softmax per old head), or all outputs when the tasks carry no mask
 * (domain- and class-incremental). T is the temperature (2 in Li & Hoiem and van de Ven), T²
 * keeps the gradient's scale independent of T (Hinton et al. 2015): ∂L/∂z_k = λ·T·(q_k − p_k)/(N·G)
 * for q = softmax(z/T), p = softmax(z_old/T) within the group.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Batch, type Model, type ParamMap, type Plugin, type TrainContext, disposeParams } from '@forgetless/core';

export interface LwfOptions {
  /** Weight of the distillation term (default 1). */
  lambda?: number;
  /** Softmax temperature of both outputs (default 2). */
  temperature?: number;
}

export interface LwfPlugin extends Plugin {
  readonly lambda: number;
  readonly temperature: number;
  /** The output groups distilled (one per earlier task; `null`: all outputs). */
  readonly groups: readonly (readonly number[] | null)[];
  transformBatch(batch: Batch, ctx: TrainContext): Batch;
  getState(): { tensors: ParamMap; meta: Record<string, unknown> };
  setState(state: { tensors: ParamMap; meta: Record<string, unknown> }): void;
  dispose(): void;
}

/**
 * The distillation term alone: λ·T²·(1/G) Σ_g mean_n CE(softmax(old_g/T), softmax(logits_g/T)).
 * `groups`: output indices per group, `null` for all outputs.
 */
export function distillationLoss(logits: tf.Tensor, oldLogits: tf.Tensor, groups: readonly (readonly number[] | null)[], lambda: number, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const terms = groups.map((g) => {
      const pick = (t: tf.Tensor) => (g ? tf.gather(t, tf.tensor1d(g as number[], 'int32'), 1) : t);
      const p = tf.softmax(tf.div(pick(oldLogits), temperature));
      const logq = tf.logSoftmax(tf.div(pick(logits), temperature));
      return tf.mean(tf.neg(tf.sum(tf.mul(p, logq), -1)));
    });
    return tf.mul(tf.div(tf.addN(terms), terms.length), lambda * temperature * temperature) as tf.Scalar;
  });
}

export function lwf(options: LwfOptions = {}): LwfPlugin {
  const lambda = options.lambda ?? 1;
  const temperature = options.temperature ?? 2;
  if (!(Number.isFinite(lambda) && lambda >= 0)) throw new Error(`lwf: lambda must be a finite number ≥ 0, got ${lambda}`);
  if (!(Number.isFinite(temperature) && temperature > 0)) throw new Error(`lwf: temperature must be a positive number, got ${temperature}`);
  let old: ParamMap = {};
  let groups: (readonly number[] | null)[] = [];
  let targets: tf.Tensor | undefined;

  const distinct = () => {
    const seen = new Set<string>();
    return groups.filter((g) => {
      const key = g ? g.join(',') : 'all';
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  };

  const plugin: LwfPlugin = {
    name: 'lwf',
    lambda,
    temperature,
    get groups() {
      return groups;
    },
    transformBatch(batch, ctx) {
      targets?.dispose();
      targets = undefined;
      if (groups.length === 0 || lambda === 0) return batch;
      targets = outputsWith(ctx.model, old, batch.x);
      return batch;
    },
    lossTerm(_ctx, step) {
      if (!targets) return undefined;
      return distillationLoss(step.logits, targets, distinct(), lambda, temperature);
    },
    afterStep() {
      targets?.dispose();
      targets = undefined;
    },
    afterTask(ctx) {
      disposeParams(old);
      old = Object.fromEntries(Object.entries(ctx.model.params).map(([n, v]) => [n, tf.keep(tf.clone(v))]));
      groups.push(ctx.task.classes ? [...ctx.task.classes] : null);
    },
    getState() {
      return { tensors: { ...old }, meta: { kind: 'lwf', lambda, temperature, groups } };
    },
    setState(state) {
      const meta = state.meta as { lambda?: number; temperature?: number; groups?: (number[] | null)[] };
      if (meta.lambda !== lambda || meta.temperature !== temperature) {
        throw new Error(`lwf: the saved λ ${meta.lambda} and T ${meta.temperature} differ from the plugin's (${lambda}, ${temperature})`);
      }
      disposeParams(old);
      old = Object.fromEntries(Object.entries(state.tensors).map(([n, t]) => [n, tf.keep(tf.clone(t))]));
      groups = (meta.groups ?? []).map((g) => (g ? [...g] : null));
    },
    dispose() {
      targets?.dispose();
      targets = undefined;
      disposeParams(old);
      old = {};
    },
  };
  return plugin;
}

/** The model's logits on x (inference mode) with `weights` in force; its own weights are restored. */
function outputsWith(model: Model, weights: ParamMap, x: tf.Tensor): tf.Tensor {
  const names = Object.keys(weights);
  const saved = names.map((n) => tf.clone(model.params[n] as tf.Variable));
  try {
    names.forEach((n) => (model.params[n] as tf.Variable).assign(weights[n] as tf.Tensor));
    return tf.tidy(() => model.logits(x));
  } finally {
    names.forEach((n, i) => (model.params[n] as tf.Variable).assign(saved[i] as tf.Tensor));
    tf.dispose(saved);
  }
}
