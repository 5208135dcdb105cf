/**
 * What structural pruning buys, measured: inference and training-step wall time of a model on one
 * batch (median, min and max of `repeats` runs after `warmup` runs, each read back to the host so
 * the backend has finished), on whatever backend is active.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Model, Rng, disposeParams, ensureOwnGradients, softmaxCrossEntropy } from '@forgetless/core';

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

export interface SpeedOptions {
  /** Examples per batch (default 32); unknown input sizes other than the batch are taken as 8. */
  batch?: number;
  /** Seed of the random inputs and labels (default 1). */
  seed?: number;
  /** Timed runs and warm-ups of the forward pass (default 10 after 2). */
  inference?: TimeOptions;
  /** Timed runs and warm-ups of the training step (default 5 after 2). */
  trainStep?: TimeOptions & { learningRate?: number };
}

/**
 * Inference and SGD training-step times of `model` on one batch of random inputs and labels, as a
 * before/after comparison wants them: the same batch for both models. The timed steps move the
 * weights; they (and their state, e.g. batch norm's moving statistics) are put back afterwards, so
 * the model is left as it was.
 */
export async function timeModel(model: Model, options: SpeedOptions = {}): Promise<{ inference: Timing; trainStep: Timing }> {
  const batch = options.batch ?? 32;
  const shape = model.inputShape.map((d) => d ?? 8) as number[];
  const rng = new Rng(options.seed ?? 1);
  const x = tf.tensor(
    Float32Array.from({ length: batch * shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    [batch, ...shape],
  );
  const y = tf.tensor1d(
    Int32Array.from({ length: batch }, () => rng.int(model.numClasses)),
    'int32',
  );
  try {
    const inference = await timeInference(model, x, { repeats: 10, ...options.inference });
    const saved = model.getWeights({ state: true });
    try {
      const trainStep = await timeTrainStep(model, x, y, { repeats: 5, ...options.trainStep });
      model.setWeights(saved);
      return { inference, trainStep };
    } finally {
      disposeParams(saved);
    }
  } finally {
    tf.dispose([x, y]);
  }
}
