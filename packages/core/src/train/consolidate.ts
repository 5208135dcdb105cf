/**
 * Consolidating a model as it is, before any training: each plugin's `afterTask` runs on a task
 * the model already knows (a pretrained model's old data), exactly as if `trainContinual` had just
 * finished training it. EWC and stabilised EWC then anchor θ* at the loaded weights with the
 * importances computed there, WVA attenuates by them, and fine-tuning on new data with the same
 * plugins keeps the pretrained skill. (SI cannot: its importance is a path integral over training.)
 *
 *   const reg = ewc({ lambda: 100, importance: { method: 'fisher' } });
 *   await consolidate(model, { name: 'pretrained', train: oldData, test: oldTest }, [reg]);
 *   await trainContinual(model, [newTask], { optimizer, plugins: [reg] });
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../contract.js';
import type { Task } from '../data.js';
import { Rng } from '../rng.js';
import type { Plugin, TrainContext } from './plugin.js';

export interface ConsolidateOptions {
  /** The learning rate fine-tuning will use (stabilised EWC's η). */
  learningRate?: number;
  /** Seed of the context's generator (default 0). */
  seed?: number;
}

/** Runs every plugin's `afterTask` for `task` on `model` as it is (no step is taken); returns the time spent (ms). */
export async function consolidate(model: Model, task: Task, plugins: readonly Plugin[], options: ConsolidateOptions = {}): Promise<number> {
  if (!task?.train) throw new Error('consolidate: task needs at least a train source (the old data the model already knows)');
  // plugins read the context, none steps the optimizer at a task's end; an inert one stands in
  const optimizer = tf.train.sgd(0);
  const ctx: TrainContext = {
    model,
    optimizer,
    tasks: [task],
    taskIndex: 0,
    task,
    step: 0,
    taskStep: 0,
    epoch: 0,
    rng: new Rng(options.seed ?? 0).fork('consolidate'),
    ...(options.learningRate !== undefined ? { learningRate: options.learningRate } : {}),
  };
  const t0 = typeof performance !== 'undefined' ? performance.now() : Date.now();
  try {
    for (const p of plugins) await p.afterTask?.(ctx);
  } finally {
    optimizer.dispose();
  }
  return (typeof performance !== 'undefined' ? performance.now() : Date.now()) - t0;
}
