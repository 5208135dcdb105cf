/**
 * What structural pruning buys, measured: inference and training-step wall time of a model on one
 * batch (median, min and max of `repeats` runs after `warmup` runs, each read back to the host so
 * the backend has finished), on whatever backend is active.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Model, ensureOwnGradients, softmaxCrossEntropy } from '@forgetless/core';

export interface Timing {
  median: number;
  min: number;
  max: number;
  /** Every run, in milliseconds. */
  runs: number[];
}

export interface TimeOptions {
  /** Timed runs (default 10) after untimed warm-up runs (default 2). */
  repeats?: number;
  warmup?: number;
}

export function summarizeTimes(runs: number[]): Timing {
  const s = [...runs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s.at(-1) as number, runs };
}

async function time(run: () => Promise<void>, options: TimeOptions): Promise<Timing> {
  const repeats = options.repeats ?? 10;
  for (let i = 0; i < (options.warmup ?? 2); i++) await run();
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await run();
    runs.push(performance.now() - t0);
  }
  return summarizeTimes(runs);
}

/** Milliseconds of one forward pass (`predict`) on `x`. */
export function timeInference(model: Model, x: tf.Tensor, options: TimeOptions = {}): Promise<Timing> {
  return time(async () => {
    const y = model.predict(x);
    await y.data();
    y.dispose();
  }, options);
}

/**
 * Milliseconds of one SGD step (forward, softmax cross-entropy, backward, update) on `x`, labels `y`.
 * The model's weights move: time a copy, or a model about to be discarded.
 */
export function timeTrainStep(model: Model, x: tf.Tensor, y: tf.Tensor1D, options: TimeOptions & { learningRate?: number } = {}): Promise<Timing> {
  ensureOwnGradients(); // the gradients the wasm backend lacks (Conv2DBackpropFilter, ...), as trainStep registers them
  const optimizer = tf.train.sgd(options.learningRate ?? 1e-3);
  const vars = Object.values(model.params);
  return time(async () => {
    const loss = optimizer.minimize(() => softmaxCrossEntropy(model.logits(x, { training: true }), y), true, vars);
    await (loss as tf.Scalar).data();
    loss?.dispose();
  }, options).finally(() => optimizer.dispose());
}
