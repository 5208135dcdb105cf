/**
 * The plugin contract of `trainContinual` (after Avalanche's strategy plugins and optax's gradient
 * transformations). EWC, WVA, SI tracking and pruning masks are plugins; none keeps its own loop.
 *
 * Order within one step:
 *   `transformBatch` (plugin order: each sees the previous one's batch) → beforeStep → loss and
 *   autodiff gradients (task loss + every `lossTerm`) → analytic `penalty` gradients added →
 *   `transformGradients` (plugin order) → optimizer step → `transformStep` (plugin order, on
 *   Δθ = θ_after − θ_before) → afterStep.
 * Around each evaluation of task j: `beforeEvaluate(j)` → accuracy on task j → `afterEvaluate(j)`.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Batch, Task } from '../data.js';
import type { Model } from '../contract.js';
import type { ParamMap } from '../params.js';
import type { Rng } from '../rng.js';

export interface TrainContext {
  model: Model;
  optimizer: tf.Optimizer;
  tasks: readonly Task[];
  /** Index of the task being trained (or just finished, in afterTask). */
  taskIndex: number;
  task: Task;
  /** Steps taken so far over the whole run, and within this task. */
  step: number;
  taskStep: number;
  epoch: number;
  /** The run's seeded generator. */
  rng: Rng;
  /** Learning rate the run was configured with, if known (stabilised EWC needs it). */
  learningRate?: number;
}

/** An extra loss term whose gradient is known in closed form. */
export interface Penalty {
  /** Its value, reported in the loss (a scalar). */
  value: tf.Scalar;
  /** ∂value/∂θ for the parameters it touches (others are taken as zero). */
  grads: ParamMap;
}

export interface StepInfo {
  batch: Batch;
  /** Total loss: task loss + loss terms + penalties. */
  loss: tf.Scalar;
  /** Task loss alone. */
  taskLoss: tf.Scalar;
  /** The gradient the optimizer received (after every transform). */
  grads: ParamMap;
  /** The full-loss gradient before transforms (task loss plus penalties), as SI needs it. */
  rawGrads: ParamMap;
  /** The step actually taken, θ_after − θ_before, if any plugin asked for it (`needsDelta`). */
  delta?: ParamMap;
}

export interface Plugin {
  readonly name: string;
  /** Ask the loop to compute Δθ each step (SI, WVA steps mode, masks). */
  readonly needsDelta?: boolean;
  beforeTask?(ctx: TrainContext): void | Promise<void>;
  /** Called after a task's training, before its evaluation. Importances are computed here. */
  afterTask?(ctx: TrainContext): void | Promise<void>;
  /**
   * Changes the batch before the step (replay mixes stored examples in; distillation records the
   * old model's outputs on it). Returns the batch to train on: its input, or a new one. Disposal:
   * the loop disposes, after the step, every tensor of the batch it drew and of every batch a
   * plugin returned; a plugin never disposes its input, and copies (`tf.keep(tf.clone(...))`) what
   * it keeps past the step.
   */
  transformBatch?(batch: Batch, ctx: TrainContext): Batch;
  beforeStep?(ctx: TrainContext): void;
  /**
   * A differentiable loss term, added to the task loss and differentiated by autodiff. `step`: the
   * batch trained on and the model's logits on it (inside the gradient tape: build on them).
   */
  lossTerm?(ctx: TrainContext, step: { batch: Batch; logits: tf.Tensor }): tf.Scalar | undefined;
  /** A loss term with an analytic gradient, added to the gradient directly. */
  penalty?(ctx: TrainContext): Penalty | undefined;
  /** Returns the gradient to pass on (may return its input). Tensors are freed at the step's end. */
  transformGradients?(grads: ParamMap, ctx: TrainContext): ParamMap;
  /** Returns the step to keep, given the optimizer's step Δθ (may return its input). */
  transformStep?(delta: ParamMap, ctx: TrainContext): ParamMap;
  /** Sees the step's tensors; they are freed afterwards (copy or assign to variables to keep them). */
  afterStep?(info: StepInfo, ctx: TrainContext): void;
  /**
   * Called before and after the model is evaluated on task `taskIndex` (every evaluation: after each
   * task, every `evaluateEvery` steps, the untrained baseline). PackNet puts the task's own weights
   * in force here and restores the rest afterwards.
   */
  beforeEvaluate?(taskIndex: number, task: Task): void;
  afterEvaluate?(taskIndex: number, task: Task): void;
  /** State to checkpoint (tensors are copied by the caller). */
  getState?(): { tensors: ParamMap; meta: Record<string, unknown> };
  setState?(state: { tensors: ParamMap; meta: Record<string, unknown> }): void;
  /** Frees the plugin's tensors. */
  dispose?(): void;
}
