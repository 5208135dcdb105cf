/** Accuracy and loss of a model on a data source, in batches, inference mode. */
import * as tf from '@tensorflow/tfjs-core';
import type { DataSource } from '../data.js';
import { countCorrect, softmaxCrossEntropy } from '../loss.js';
import type { Model } from '../contract.js';

export interface EvaluateOptions {
  batchSize?: number;
  /** Evaluate on at most this many examples (the first ones). */
  limit?: number;
  /** Task-incremental class mask. */
  classes?: readonly number[];
}

export async function evaluate(model: Model, source: DataSource, options: EvaluateOptions = {}): Promise<{ accuracy: number; loss: number; count: number }> {
  let correct = 0;
  let lossSum = 0;
  let count = 0;
  const bs = options.batchSize ?? 1000;
  for (const batch of source.batches(bs, options.limit !== undefined ? { limit: options.limit } : {})) {
    const [c, l] = tf.tidy(() => {
      const logits = model.logits(batch.x);
      return [countCorrect(logits, batch.y, options.classes), softmaxCrossEntropy(logits, batch.y, options.classes)];
    }) as [tf.Scalar, tf.Scalar];
    const n = batch.y.shape[0];
    correct += (await c.data())[0] as number;
    lossSum += ((await l.data())[0] as number) * n;
    count += n;
    tf.dispose([c, l, batch.x, batch.y]);
  }
  if (count === 0) throw new Error('evaluate: the data source is empty');
  return { accuracy: correct / count, loss: lossSum / count, count };
}
