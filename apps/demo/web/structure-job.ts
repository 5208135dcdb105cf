/**
 * Structural pruning of the fine-tuned model, in the worker (the fine-tune section's "remove
 * channels"): whole units, filters and channels removed through the model's dependency groups
 * (`pruneLayersModelStructure` of @forgetless/pruning) until the chosen fraction of its parameters
 * or FLOPs is gone, and what that bought, measured on the model before and after: parameters, FLOPs,
 * stored bytes (the model.json's shards as written), inference time (batch 32, median and min–max
 * of 5 runs after a warm-up, both models timed in the same job) and old and new test accuracy.
 * The smaller model is what the page then offers for download.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DataSource, type LoadedLayersModel, layersModelArtifacts } from '@forgetless/core';
import { type Timing, pruneLayersModelStructure, timeModel } from '@forgetless/pruning';
import type { validateFinetuneConfig } from '../src/finetune/config.js';
import { type FinetuneData, type FinetuneMetrics, measureFinetune } from '../src/finetune/run.js';
import type { FinetunePruning } from './protocol.js';

/** One model's size, speed and accuracy. */
export interface StructureMeasure {
  params: number;
  flops: number;
  /** Bytes of its weight shards as the page writes them (the file's quantization kept). */
  bytes: number;
  /** Inference of a batch of 32, milliseconds. */
  inference: { median: number; min: number; max: number; runs: number };
  /** One SGD training step on a batch of 32 (forward, loss, backward, update), milliseconds. */
  trainStep: { median: number; min: number; max: number; runs: number };
  metrics: FinetuneMetrics;
}

/** The fine-tuned model before and after its channels were removed. */
export interface StructurePruned {
  importance: FinetunePruning['importance'];
  target: 'params' | 'flops';
  /** The fraction of the target removed as asked, in [0, 1). */
  fraction: number;
  /** Channel groups removed, of the removable ones. */
  removed: number;
  removable: number;
  before: StructureMeasure;
  after: StructureMeasure;
}

/** Inference and one training step on a batch of 32 random inputs (5 timed runs of each after a warm-up); the weights are put back. */
async function timing(loaded: LoadedLayersModel): Promise<Pick<StructureMeasure, 'inference' | 'trainStep'>> {
  const t = await timeModel(loaded.model, { inference: { repeats: 5, warmup: 1 }, trainStep: { repeats: 5, warmup: 1 } });
  const summary = (x: Timing) => ({ median: x.median, min: x.min, max: x.max, runs: x.runs.length });
  return { inference: summary(t.inference), trainStep: summary(t.trainStep) };
}

const storedBytes = async (loaded: LoadedLayersModel) => (await layersModelArtifacts(loaded)).shards.reduce((n, s) => n + s.data.byteLength, 0);

/**
 * Removes channels of `working` (left unchanged) to `pruning.sparsity` of its parameters or FLOPs;
 * returns the smaller model (the caller disposes it) and the before/after report.
 */
export async function pruneChannels(
  working: LoadedLayersModel,
  data: FinetuneData,
  config: ReturnType<typeof validateFinetuneConfig>,
  pruning: FinetunePruning,
  before: FinetuneMetrics,
  calibration: () => DataSource,
): Promise<{ small: LoadedLayersModel; report: StructurePruned }> {
  const target = pruning.target ?? 'params';
  // batch norm frozen while fine-tuning (inference mode) is no reason to keep a channel: its four
  // vectors are sliced with the channel, the others keep their values; the smaller model is not frozen
  const bn = new Set(working.model.layers.filter((l) => l.kind === 'batchNorm').map((l) => l.name));
  const thawed = working.model.setTrainable(
    working.model.frozen.filter((n) => bn.has(n)),
    true,
  );
  let result: Awaited<ReturnType<typeof pruneLayersModelStructure>>;
  try {
    result = await pruneLayersModelStructure(working, {
      importance: pruning.importance,
      target: { [target]: pruning.sparsity },
      // Taylor: a group's first-order loss change |Σ θ·ḡ| (Molchanov 2019); the others: L2 of the group's importances
      reduce: pruning.importance === 'taylor' ? 'abs-sum' : 'l2',
      minWidth: 2,
      ...(pruning.importance === 'magnitude' ? {} : { calibration: calibration(), importanceOptions: { limit: 1000, batchSize: 50 } }),
    });
  } finally {
    working.model.setTrainable(thawed, false);
  }
  const small = result.model;
  try {
    const measured = async (l: LoadedLayersModel, counts: { params: number; flops: number }, metrics: FinetuneMetrics): Promise<StructureMeasure> => ({
      params: counts.params,
      flops: counts.flops,
      bytes: await storedBytes(l),
      ...(await timing(l)),
      metrics,
    });
    const removable = result.groups.groups.filter((g) => !g.protectedBy && g.channels.length > 0).length;
    const beforeMeasure = await measured(working, result.selection.before, before);
    const afterMeasure = await measured(small, result.selection.after, await measureFinetune(small.model, data, config));
    return {
      small,
      report: {
        importance: pruning.importance,
        target,
        fraction: pruning.sparsity,
        removed: result.selection.removed.length,
        removable,
        before: beforeMeasure,
        after: afterMeasure,
      },
    };
  } catch (e) {
    small.dispose();
    throw e;
  }
}
