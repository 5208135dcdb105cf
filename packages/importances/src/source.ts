/**
 * Checks a closing set against a model and walks it in batches, so memory stays bounded by the
 * batch size whatever the set's size. The batching itself is core's `DataSource.batches`.
 */
import type { Batch, DataSource, Model } from '@forgetless/core';
import { ensureOwnGradients, exampleShapeProblem, yieldToEventLoop } from '@forgetless/core';
import { checkMaxBatchElements } from './sub-batches.js';

export interface BatchingOptions {
  /** Examples per batch (default 100). */
  batchSize?: number;
  /** Use at most this many examples, the first ones (default: all). */
  limit?: number;
  /**
   * Bound on the layer outputs one forward and backward pass holds, in float32 values: a batch whose
   * examples' input and layer outputs exceed it runs as sub-batches, their sums added (every
   * importance here is a sum over examples). Default 2²⁷ (512 MB): Keras MobileNetV2 at 224² (21.8 M
   * values per example) takes 6 examples a pass, at 96² and α 0.35 (1.76 M) 76 (`sub-batches.ts`).
   */
  maxBatchElements?: number;
}

/** Throws a clear error if `source` cannot feed `model` (wrong shape, too many classes, empty). */
export function checkSource(what: string, model: Model, source: DataSource, options: { labels?: boolean } = {}): void {
  if (!source || typeof source.batches !== 'function') throw new Error(`${what}: source must be a DataSource (with a batches() method)`);
  if (source.size === 0) throw new Error(`${what}: the data source is empty`);
  const problem = exampleShapeProblem(model.inputShape, source.exampleShape);
  if (problem) throw new Error(`${what}: the source has ${problem}`);
  if (options.labels && source.numClasses > model.numClasses) {
    throw new Error(`${what}: the source has ${source.numClasses} classes but the model outputs ${model.numClasses}`);
  }
}

export function checkBatching(what: string, options: BatchingOptions): { batchSize: number; limit: number | undefined } {
  const batchSize = options.batchSize ?? 100;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`${what}: batchSize must be a positive integer, got ${batchSize}`);
  const limit = options.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new Error(`${what}: limit must be a positive integer, got ${limit}`);
  checkMaxBatchElements(what, options.maxBatchElements);
  return { batchSize, limit };
}

/**
 * Calls `fn` on every batch (then disposes the batch) and returns the number of examples seen.
 * Yields to the event loop between batches so a page stays responsive.
 */
export async function forEachBatch(what: string, source: DataSource, options: BatchingOptions, fn: (batch: Batch) => void | Promise<void>): Promise<number> {
  const { batchSize, limit } = checkBatching(what, options);
  ensureOwnGradients();
  let count = 0;
  for (const batch of source.batches(batchSize, limit !== undefined ? { limit } : {})) {
    const n = batch.y.shape[0];
    try {
      await fn(batch);
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
    count += n;
    await yieldToEventLoop();
  }
  if (count === 0) throw new Error(`${what}: the data source is empty`);
  return count;
}
