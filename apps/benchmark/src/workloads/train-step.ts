/**
 * Training-step workloads: one SGD step (lr 0.01, mean cross-entropy, training mode) of paper 2's
 * MLP (784-300-150-10, leaky ReLU 0.01, batch 100) and of its conv net, with forgetless's fast
 * gradients (`setGradientMode('auto')`) against tfjs's stock ones (`'stock'`), on the current backend.
 * The conv net's batch depends on the backend: tfjs's cpu backend runs convolutions in plain
 * JavaScript (about 4 s per example per step at full width), so it gets batch 1; every figure says
 * its batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Batch, type Sequential, type Task, type TrainContext, Rng, mlp, paper2ConvNet, setGradientMode, trainStep } from '@forgetless/core';
import { type Timing, timeIt } from '../harness.js';
import type { RunOptions, WorkloadResult } from '../workload.js';

export const MLP_STEP = 'MLP 784-300-150-10 step';
export const CONV_STEP = 'paper 2 conv net step';

export interface StepRow extends Record<string, string | number> {
  workload: string;
  model: 'MLP' | 'conv net';
  backend: string;
  gradients: 'forgetless' | 'tfjs stock';
  batch: number;
  median_ms: number;
  min_ms: number;
  max_ms: number;
  /** Stock time over forgetless time (on the forgetless row). */
  speedup_vs_stock: number | string;
}

/** A fixed random batch for `model`: inputs uniform in [0, 1), labels cycling through the classes. */
export function randomBatch(model: Sequential, batch: number, seed = 1): Batch {
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  return {
    x: tf.randomUniform([batch, per], 0, 1, 'float32', seed),
    y: tf.tensor1d(
      Array.from({ length: batch }, (_, i) => i % model.numClasses),
      'int32',
    ),
  };
}

/** A training context around `model` and `optimizer` for calling `trainStep` outside `trainContinual`. */
export function benchContext(model: Sequential, optimizer: tf.Optimizer): TrainContext {
  const task = { name: 'bench', classes: undefined } as unknown as Task;
  return { model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) };
}

/** Median/min/max of one SGD step (lr 0.01) of `model` on a fixed random batch. */
export async function timeTrainStep(model: Sequential, batch: number, options: { runs?: number; warmup?: number } = {}): Promise<Timing> {
  const { x, y } = randomBatch(model, batch);
  const optimizer = tf.train.sgd(0.01);
  const ctx = benchContext(model, optimizer);
  try {
    return await timeIt(() => trainStep({ x, y }, ctx, []), { runs: options.runs ?? 5, warmup: options.warmup ?? 2 });
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose();
  }
}

/** Shapes of the step workloads (the torch peer runs the same): MLP sizes, its batch, conv-net width. */
export function stepShapes(quick: boolean): { mlp: number[]; mlpBatch: number; convWidth: number } {
  return quick ? { mlp: [784, 30, 15, 10], mlpBatch: 100, convWidth: 0.0625 } : { mlp: [784, 300, 150, 10], mlpBatch: 100, convWidth: 1 };
}

/** Batch of the conv-net step on a target (the torch peer runs the same shapes). */
export function convStepBatch(backend: string, quick: boolean): number {
  if (quick) return 2;
  return backend === 'cpu' ? 1 : 32;
}

export async function benchTrainSteps(opts: RunOptions): Promise<WorkloadResult> {
  const rows: StepRow[] = [];
  const notes: string[] = [];
  const runs = opts.quick ? 2 : 5;
  const shapes = stepShapes(opts.quick);
  const mlpSizes = shapes.mlp;
  const add = (model: StepRow['model'], workload: string, batch: number, t: Record<string, Timing>) => {
    const f = t.forgetless;
    const s = t['tfjs stock'];
    for (const gradients of ['forgetless', 'tfjs stock'] as const) {
      const x = t[gradients];
      if (!x) continue;
      const speedup = gradients !== 'forgetless' ? '' : f && s ? s.median / f.median : 'stock fails';
      rows.push({ workload, model, backend: opts.backend, gradients, batch, median_ms: x.median, min_ms: x.min, max_ms: x.max, speedup_vs_stock: speedup });
    }
  };
  const mlpT: Record<string, Timing> = {};
  for (const gradients of ['forgetless', 'tfjs stock'] as const) {
    setGradientMode(gradients === 'forgetless' ? 'auto' : 'stock');
    const m = mlp(mlpSizes, { activation: { name: 'leakyRelu', alpha: 0.01 }, seed: 1 });
    try {
      mlpT[gradients] = await timeTrainStep(m, shapes.mlpBatch, { runs: opts.quick ? runs : 9 });
      process.stderr.write(`  MLP step, ${gradients}: ${mlpT[gradients]?.median.toFixed(2)} ms\n`);
    } finally {
      setGradientMode('auto');
      m.dispose();
    }
  }
  add('MLP', opts.quick ? `MLP ${mlpSizes.join('-')} step (quick)` : MLP_STEP, shapes.mlpBatch, mlpT);

  const convBatch = convStepBatch(opts.backend, opts.quick);
  const width = shapes.convWidth;
  const convT: Record<string, Timing> = {};
  for (const gradients of ['forgetless', 'tfjs stock'] as const) {
    const m = paper2ConvNet({ width, seed: 1 });
    setGradientMode(gradients === 'forgetless' ? 'auto' : 'stock');
    try {
      convT[gradients] = await timeTrainStep(m, convBatch, { runs, warmup: opts.quick || opts.backend === 'cpu' ? 1 : 2 });
      process.stderr.write(`  conv step, ${gradients}: ${convT[gradients]?.median.toFixed(1)} ms\n`);
    } catch (e) {
      notes.push(`paper 2 conv net, ${gradients} gradients on ${opts.backend}: fails: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      setGradientMode('auto');
      m.dispose();
    }
  }
  add('conv net', width !== 1 ? `${CONV_STEP} (width ×${width}, quick)` : CONV_STEP, convBatch, convT);
  notes.push(
    `SGD lr 0.01, mean cross-entropy, training mode (batch-norm on batch statistics), random inputs; median of ${opts.quick ? runs : 9} (MLP) and ${runs} (conv net) runs after a warm-up. ` +
      "speedup_vs_stock: the stock step's median over the forgetless step's. The conv net runs at batch 1 on cpu (plain-JavaScript convolutions: about 4 s per example per step) and 32 elsewhere.",
  );
  return { rows, notes };
}
