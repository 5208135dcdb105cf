// Small models, tasks and hand-made contexts shared by the package's tests.
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type Penalty, Rng, type Sequential, type Task, type TrainContext, mlp, syntheticPermutedTasks } from '@forgetless/core';

/** Three small synthetic permuted tasks (16 features, 4 classes). */
export const smallTasks = (numTasks = 3): Task[] => syntheticPermutedTasks({ numTasks, features: 16, numClasses: 4, trainPerClass: 20, testPerClass: 10, seed: 4 });

export const smallModel = (seed = 1): Sequential => mlp([16, 12, 4], { seed, activation: { name: 'leakyRelu', alpha: 0.01 } });

/** A TrainContext for calling hooks by hand. */
export function handContext(model: Sequential, optimizer: tf.Optimizer, extra: Partial<TrainContext> = {}): TrainContext {
  const task = { name: 'hand', train: undefined, test: undefined } as unknown as Task;
  return { model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0), ...extra };
}

/** Σ_terms Σ c ⊙ (θ − θ*)² as a tfjs expression (differentiable; the autodiff reference). */
export function penaltyExpression(params: ParamMap, terms: readonly { coefficient: ParamMap; anchor: ParamMap }[]): tf.Scalar {
  const parts: tf.Scalar[] = [];
  for (const t of terms) for (const [n, a] of Object.entries(t.anchor)) parts.push(tf.sum(tf.mul(t.coefficient[n] as tf.Tensor, tf.square(tf.sub(params[n] as tf.Tensor, a)))));
  return (parts.length ? tf.addN(parts) : tf.scalar(0)) as tf.Scalar;
}

/** Value and gradient of `penaltyExpression` at the model's parameters, by autodiff. Caller disposes. */
export function autodiffPenalty(model: Sequential, terms: readonly { coefficient: ParamMap; anchor: ParamMap }[]): Penalty {
  const names = Object.keys(model.params);
  const vars = names.map((n) => model.params[n] as tf.Variable);
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => penaltyExpression(model.params, terms), vars);
    const out: ParamMap = {};
    names.forEach((n, i) => {
      out[n] = grads[(vars[i] as tf.Variable).name] as tf.Tensor;
    });
    return { value, grads: out };
  });
}

/** Moves every parameter by seeded normal noise (so θ ≠ θ*). */
export function perturb(model: Sequential, scale: number, seed = 7): void {
  tf.tidy(() => Object.values(model.params).forEach((v, i) => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, scale, 'float32', seed + i)))));
}

export const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());
