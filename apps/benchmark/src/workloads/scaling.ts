/**
 * Scaling: how a training step (SGD, forgetless gradients) and the fast exact per-example Fisher
 * (empirical, over one batch of the same size) grow with the batch size and with the width of
 * paper 2's MLP (hidden sizes 300·w and 150·w) and conv net (channels 64·w, 128·w, 256·w), on the
 * current backend. A small sweep, charted by `charts.ts` (time per batch and per example).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Sequential, mlp, paper2ConvNet, trainStep } from '@forgetless/core';
import { fisherDiagonal } from '@forgetless/importances';
import { type Timing, timeIt } from '../harness.js';
import { randomImages } from '../data.js';
import type { Row, RunOptions, WorkloadResult } from '../workload.js';
import { benchContext, randomBatch } from './train-step.js';

export interface ScalingPoint {
  model: 'MLP' | 'conv net';
  sweep: 'batch' | 'width';
  batch: number;
  width: number;
}

/**
 * The sweep on a target: MLP batch 16…512 (width 1) and width ×0.25…×4 (batch 100); conv net batch
 * 4…32 (width ×0.5) and width ×0.125…×1 (batch 16), on cpu batch 1…4 (width ×0.125) and width
 * ×0.0625…×0.25 (batch 2).
 */
export function scalingPoints(backend: string, quick: boolean): ScalingPoint[] {
  const pts: ScalingPoint[] = [];
  const mlpBatches = quick ? [16, 32] : [16, 32, 64, 128, 256, 512];
  const mlpWidths = quick ? [0.125, 0.25] : [0.25, 0.5, 1, 2, 4];
  for (const batch of mlpBatches) pts.push({ model: 'MLP', sweep: 'batch', batch, width: quick ? 0.125 : 1 });
  for (const width of mlpWidths) pts.push({ model: 'MLP', sweep: 'width', batch: quick ? 16 : 100, width });
  // Convolutions on the cpu backend run in plain JavaScript: a smaller conv sweep there.
  const cpu = backend === 'cpu';
  const convBatches = quick ? [1, 2] : cpu ? [1, 2, 4] : [4, 8, 16, 32];
  const convWidths = quick ? [0.03125, 0.0625] : cpu ? [0.0625, 0.125, 0.25] : [0.125, 0.25, 0.5, 1];
  for (const batch of convBatches) pts.push({ model: 'conv net', sweep: 'batch', batch, width: quick ? 0.0625 : cpu ? 0.125 : 0.5 });
  for (const width of convWidths) pts.push({ model: 'conv net', sweep: 'width', batch: quick ? 1 : cpu ? 2 : 16, width });
  return pts;
}

function build(p: ScalingPoint): Sequential {
  const lrelu = { name: 'leakyRelu' as const, alpha: 0.01 };
  if (p.model === 'MLP') return mlp([784, Math.round(300 * p.width), Math.round(150 * p.width), 10], { activation: lrelu, seed: 1 });
  return paper2ConvNet({ width: p.width, seed: 1 });
}

export async function benchScaling(opts: RunOptions): Promise<WorkloadResult> {
  const runs = opts.quick ? 2 : 5;
  const rows: Row[] = [];
  for (const p of scalingPoints(opts.backend, opts.quick)) {
    const model = build(p);
    const params = Object.values(model.params).reduce((n, v) => n + v.size, 0);
    const { x, y } = randomBatch(model, p.batch);
    const optimizer = tf.train.sgd(0.01);
    const ctx = benchContext(model, optimizer);
    const source = randomImages(p.batch, model.inputShape, 5);
    const warmup = p.model === 'conv net' ? 1 : 2;
    try {
      const timings: [string, Timing][] = [
        ['train step', await timeIt(() => trainStep({ x, y }, ctx, []), { warmup, runs })],
        [
          'FIS fast (one batch)',
          await timeIt(
            async () => {
              const f = await fisherDiagonal(model, source, { batchSize: p.batch, path: 'fast' });
              await Object.values(f)[0]?.data();
              tf.dispose(Object.values(f));
            },
            { warmup, runs },
          ),
        ],
      ];
      for (const [quantity, t] of timings) {
        rows.push({
          model: p.model,
          sweep: p.sweep,
          backend: opts.backend,
          quantity,
          batch: p.batch,
          width: p.width,
          params,
          median_ms: t.median,
          min_ms: t.min,
          max_ms: t.max,
          ms_per_example: t.median / p.batch,
        });
      }
      process.stderr.write(`  ${p.model} batch ${p.batch} width ×${p.width}: step ${timings[0]?.[1].median.toFixed(1)} ms, FIS ${timings[1]?.[1].median.toFixed(1)} ms\n`);
    } finally {
      tf.dispose([x, y]);
      optimizer.dispose();
      model.dispose();
    }
  }
  return {
    rows,
    notes: [
      `Train step: SGD lr 0.01, forgetless gradients, training mode. FIS fast: the exact per-example empirical Fisher over one batch of that size, inference mode. Median of ${runs} runs after a warm-up. MLP width w: 784-(300w)-(150w)-10; conv net width w: channels 64w, 128w, 256w. See scaling-*.svg.`,
    ],
  };
}
