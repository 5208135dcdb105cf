/**
 * Training-step workloads: one optimizer step of paper 2's MLP (784-300-150-10) and conv net, with
 * forgetless's fast gradients against tfjs's stock ones, on the current backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Sequential, type Task, type TrainContext, Rng, mlp, paper2ConvNet, setGradientMode, trainStep } from '@forgetless/core';
import { type Timing, timeIt } from '../harness.js';

export interface StepRow extends Record<string, string | number> {
  workload: string;
  backend: string;
  gradients: 'forgetless' | 'tfjs stock';
  batch: number;
  median_ms: number;
  min_ms: number;
  max_ms: number;
}

/** Median/min/max of one SGD step of `model` on a fixed random batch. */
export async function timeTrainStep(model: Sequential, batch: number, options: { runs?: number; warmup?: number } = {}): Promise<Timing> {
  const per = model.inputShape.reduce((a, b) => a * b, 1);
  const x = tf.randomUniform([batch, per], 0, 1, 'float32', 1);
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % model.numClasses), 'int32');
  const optimizer = tf.train.sgd(0.01);
  const task = { name: 'bench', classes: undefined } as unknown as Task;
  const ctx: TrainContext = { model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) };
  try {
    return await timeIt(() => trainStep({ x, y }, ctx, []), { runs: options.runs ?? 7, warmup: options.warmup ?? 2 });
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose();
  }
}

export async function benchTrainSteps(opts: { backend: string; quick: boolean }): Promise<{ rows: StepRow[]; notes: string[] }> {
  const rows: StepRow[] = [];
  const notes: string[] = [];
  const runs = opts.quick ? 3 : 7;
  const batch = 128;
  for (const gradients of ['forgetless', 'tfjs stock'] as const) {
    setGradientMode(gradients === 'forgetless' ? 'auto' : 'stock');
    const m = mlp([784, 300, 150, 10], { activation: { name: 'leakyRelu', alpha: 0.01 } });
    const t = await timeTrainStep(m, batch, { runs }).finally(() => setGradientMode('auto'));
    process.stderr.write(`  MLP ${gradients}: ${t.median.toFixed(1)} ms\n`);
    rows.push({ workload: 'MLP 784-300-150-10 step', backend: opts.backend, gradients, batch, median_ms: t.median, min_ms: t.min, max_ms: t.max });
    m.dispose();
  }
  // tfjs's cpu backend runs convolutions in plain JavaScript: keep its conv batch small.
  const convBatch = opts.quick ? 4 : opts.backend === 'cpu' ? 8 : 32;
  const width = opts.quick ? 0.25 : 1;
  for (const gradients of ['forgetless', 'tfjs stock'] as const) {
    const m = paper2ConvNet({ width });
    setGradientMode(gradients === 'forgetless' ? 'auto' : 'stock');
    try {
      const t = await timeTrainStep(m, convBatch, { runs: opts.quick ? 2 : 5, warmup: 1 });
      process.stderr.write(`  conv ${gradients}: ${t.median.toFixed(1)} ms\n`);
      rows.push({ workload: `paper 2 conv net step${width !== 1 ? ` (width ×${width})` : ''}`, backend: opts.backend, gradients, batch: convBatch, median_ms: t.median, min_ms: t.min, max_ms: t.max });
    } catch (e) {
      notes.push(`paper 2 conv net, ${gradients} gradients on ${opts.backend}: fails: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      setGradientMode('auto');
      m.dispose();
    }
  }
  return { rows, notes };
}
