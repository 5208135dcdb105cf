/** One training step with plugin hooks: the only place forgetless computes and applies gradients. */
import * as tf from '@tensorflow/tfjs-core';
import type { Batch } from '../data.js';
import { softmaxCrossEntropy } from '../loss.js';
import { ensureOwnGradients } from '../ops/own-gradients.js';
import { withLightSaves } from '../ops/light-saves.js';
import type { ParamMap } from '../params.js';
import { applyGradientsInOne } from './apply.js';
import type { Plugin, StepInfo, TrainContext } from './plugin.js';

/**
 * Takes one optimizer step on `batch` and returns the total loss (a kept scalar the caller disposes).
 * Leaves no other tensor behind. `batch` is the one to train on: plugins' `transformBatch` has
 * already run (`prepareBatch`).
 */
/**
 * Runs the plugins' `transformBatch` in order on a drawn batch. Returns the batch to train on and
 * every tensor the chain created beside the drawn batch's (the caller disposes both after the step).
 */
export function prepareBatch(batch: Batch, ctx: TrainContext, plugins: readonly Plugin[]): { batch: Batch; created: tf.Tensor[] } {
  const seen = new Set<tf.Tensor>(batchTensors(batch));
  const created: tf.Tensor[] = [];
  let current = batch;
  try {
    for (const p of plugins) {
      if (!p.transformBatch) continue;
      current = p.transformBatch(current, ctx);
      for (const t of batchTensors(current)) {
        if (!seen.has(t)) {
          seen.add(t);
          created.push(t);
        }
      }
    }
  } catch (e) {
    tf.dispose(created);
    throw e;
  }
  return { batch: current, created };
}

function batchTensors(b: Batch): tf.Tensor[] {
  return b.logitMask ? [b.x, b.y, b.logitMask] : [b.x, b.y];
}

export function trainStep(batch: Batch, ctx: TrainContext, plugins: readonly Plugin[]): tf.Scalar {
  const { model, optimizer } = ctx;
  ensureOwnGradients();
  for (const p of plugins) p.beforeStep?.(ctx);
  const vars = Object.values(model.params) as tf.Variable[];
  const names = Object.keys(model.params);
  const needsDelta = plugins.some((p) => p.needsDelta || p.transformStep);
  return tf.tidy(() => {
    let taskLoss: tf.Scalar | undefined;
    // tensors saved for the backward pass share memory instead of being cloned (`light-saves.ts`)
    const { value, grads: byId } = withLightSaves(() =>
      tf.variableGrads(() => {
        const logits = model.logits(batch.x, { training: true, rng: ctx.rng });
        // a batch's own per-example mask (replayed examples of other tasks) replaces the task's
        const ce = batch.logitMask ? softmaxCrossEntropy(tf.add(logits, batch.logitMask), batch.y) : softmaxCrossEntropy(logits, batch.y, ctx.task.classes);
        taskLoss = tf.keep(tf.clone(ce)); // reported; `ce` itself may become the returned value
        let total: tf.Scalar = ce;
        for (const p of plugins) {
          const term = p.lossTerm?.(ctx, { batch, logits });
          if (term) total = tf.add(total, term);
        }
        return total;
      }, vars),
    );
    // variableGrads keys gradients by tfjs's internal variable names; map back to ours.
    let grads: ParamMap = {};
    names.forEach((n, i) => {
      const g = byId[(vars[i] as tf.Variable).name];
      grads[n] = g ?? tf.zerosLike(vars[i] as tf.Variable);
    });
    let loss = value as tf.Scalar;
    for (const p of plugins) {
      const pen = p.penalty?.(ctx);
      if (!pen) continue;
      loss = tf.add(loss, pen.value);
      const next: ParamMap = { ...grads };
      for (const [n, g] of Object.entries(pen.grads)) {
        const base = grads[n];
        if (!base) throw new Error(`plugin '${p.name}': penalty gradient for unknown parameter '${n}'`);
        next[n] = tf.add(base, g);
      }
      grads = next;
    }
    const rawGrads = grads;
    for (const p of plugins) if (p.transformGradients) grads = p.transformGradients(grads, ctx);

    let before: ParamMap | undefined;
    if (needsDelta) {
      before = {};
      for (const n of names) before[n] = tf.clone(model.params[n] as tf.Variable);
    }
    // tfjs's plain SGD and Adam on wasm: the same arithmetic in one call (`apply.ts`); any other optimizer its own way
    const named: tf.NamedTensorMap = {};
    names.forEach((n, i) => {
      named[(vars[i] as tf.Variable).name] = grads[n] as tf.Tensor;
    });
    applyGradientsInOne(optimizer, named);

    let delta: ParamMap | undefined;
    if (before) {
      const b = before;
      let d: ParamMap = {};
      for (const n of names) d[n] = tf.sub(model.params[n] as tf.Variable, b[n] as tf.Tensor);
      const original = d;
      for (const p of plugins) if (p.transformStep) d = p.transformStep(d, ctx);
      if (d !== original) {
        for (const n of names) {
          if (d[n] !== original[n]) (model.params[n] as tf.Variable).assign(tf.add(b[n] as tf.Tensor, d[n] as tf.Tensor));
        }
      }
      delta = d;
    }
    const info: StepInfo = { batch, loss, taskLoss: taskLoss as tf.Scalar, grads, rawGrads, ...(delta ? { delta } : {}) };
    try {
      for (const p of plugins) p.afterStep?.(info, ctx);
    } finally {
      (taskLoss as tf.Scalar).dispose();
    }
    return loss;
  });
}
