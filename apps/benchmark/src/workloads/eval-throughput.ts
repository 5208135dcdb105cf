/**
 * Evaluation throughput: `evaluate` (core's batched inference, accuracy and loss, reading both back)
 * of paper 2's MLP and conv net on random uint8 images, in examples per second. The batch is the
 * one `evaluate` defaults to for the MLP (1000) and 100 for the conv net; on the cpu backend, whose
 * convolutions run in plain JavaScript (over a second per example), the conv net evaluates 4 examples
 * in one batch of 4.
 */
import { type Sequential, evaluate, mlp, paper2ConvNet } from '@forgetless/core';
import { timeIt } from '../harness.js';
import { randomImages } from '../data.js';
import type { Row, RunOptions, WorkloadResult } from '../workload.js';

export async function benchEvalThroughput(opts: RunOptions): Promise<WorkloadResult> {
  const q = opts.quick;
  const cpu = opts.backend === 'cpu';
  const runs = q ? 2 : 5;
  const lrelu = { name: 'leakyRelu' as const, alpha: 0.01 };
  const configs: { name: string; make: () => Sequential; shape: number[]; samples: number; batch: number }[] = [
    {
      name: q ? 'MLP 784-30-15-10 (quick)' : 'MLP 784-300-150-10',
      make: () => mlp(q ? [784, 30, 15, 10] : [784, 300, 150, 10], { activation: lrelu, seed: 1 }),
      shape: [784],
      samples: q ? 500 : cpu ? 5000 : 10000,
      batch: 1000,
    },
    {
      name: q ? 'paper 2 conv net (width ×0.0625, quick)' : 'paper 2 conv net',
      make: () => paper2ConvNet({ seed: 1, width: q ? 0.0625 : 1 }),
      shape: [28, 28, 1],
      samples: q ? 10 : cpu ? 4 : 500,
      batch: q ? 10 : cpu ? 4 : 100,
    },
  ];
  const rows: Row[] = [];
  for (const c of configs) {
    const model = c.make();
    const source = randomImages(c.samples, c.shape, 3);
    try {
      const t = await timeIt(() => evaluate(model, source, { batchSize: c.batch }), { warmup: 1, runs });
      process.stderr.write(`  evaluate ${c.name}: ${((1000 * c.samples) / t.median).toFixed(0)} examples/s\n`);
      rows.push({
        model: c.name,
        backend: opts.backend,
        samples: c.samples,
        batch: c.batch,
        median_ms: t.median,
        min_ms: t.min,
        max_ms: t.max,
        examples_per_s: Math.round((1000 * c.samples) / t.median),
        examples_per_s_range: `${Math.round((1000 * c.samples) / t.max)}–${Math.round((1000 * c.samples) / t.min)}`,
      });
    } finally {
      model.dispose();
    }
  }
  return {
    rows,
    notes: [
      `evaluate(): inference forward, accuracy and loss per batch (read back), uint8 → float batches included; median of ${runs} runs after a warm-up; examples_per_s from the median (range from max and min).`,
    ],
  };
}
