/**
 * SIG and SI on the current backend.
 * - SIG (paper 1's total absolute signal) over a set of samples against one plain inference forward
 *   pass over the same samples: SIG needs the forward pass only, plus a few reductions per layer.
 * - SI tracking overhead: a training step with `siTracker` (ω −= g ⊙ Δθ every step, Zenke et al.)
 *   against the plain step, SGD and Adam, timed in paired interleaved rounds.
 * Paper 2's MLP (784-300-150-10, leaky ReLU) at batch 100, and its conv net for SIG.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ArraySource, type Sequential, mlp, paper2ConvNet, trainStep } from '@forgetless/core';
import { sig, siTracker } from '@forgetless/importances';
import { formatTiming, pairedRounds, timeIt } from '../harness.js';
import { randomImages } from '../data.js';
import type { Row, RunOptions, WorkloadResult } from '../workload.js';
import { benchContext, randomBatch } from './train-step.js';

const BATCH = 100;

/** One inference forward pass per batch, reading the logits (what SIG's own forward costs). */
async function forwardOnly(model: Sequential, source: ArraySource): Promise<void> {
  for (const { x, y } of source.batches(BATCH)) {
    const logits = tf.tidy(() => model.apply(x));
    await logits.data();
    tf.dispose([logits, x, y]);
  }
}

async function sigOnce(model: Sequential, source: ArraySource): Promise<void> {
  const map = await sig(model, source, { batchSize: BATCH });
  await Object.values(map)[0]?.data();
  tf.dispose(Object.values(map));
}

export async function benchSigSi(opts: RunOptions): Promise<WorkloadResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const q = opts.quick;
  const cpu = opts.backend === 'cpu';
  const runs = q ? 2 : 5;
  const lrelu = { name: 'leakyRelu' as const, alpha: 0.01 };
  const sigConfigs = [
    {
      name: q ? 'MLP 784-30-15-10 (quick)' : 'MLP 784-300-150-10',
      make: () => mlp(q ? [784, 30, 15, 10] : [784, 300, 150, 10], { activation: lrelu, seed: 1 }),
      shape: [784],
      samples: q ? 200 : 1000,
    },
    // tfjs's cpu backend runs convolutions in plain JavaScript (over a second per example at full
    // width): a quarter-width conv net there, named as such.
    {
      name: q ? 'paper 2 conv net (width ×0.0625, quick)' : cpu ? 'paper 2 conv net (width ×0.25 on cpu)' : 'paper 2 conv net',
      make: () => paper2ConvNet({ seed: 1, width: q ? 0.0625 : cpu ? 0.25 : 1 }),
      shape: [28, 28, 1],
      samples: q ? 8 : cpu ? 20 : 200,
    },
  ];
  for (const c of sigConfigs) {
    const model = c.make();
    const source = randomImages(c.samples, c.shape, 7);
    try {
      const plain = await timeIt(() => forwardOnly(model, source), { warmup: 1, runs });
      const s = await timeIt(() => sigOnce(model, source), { warmup: 1, runs });
      process.stderr.write(`  SIG ${c.name}: ${s.median.toFixed(1)} ms (forward ${plain.median.toFixed(1)} ms)\n`);
      const row = (method: string, t: typeof s): Row => ({
        model: c.name,
        backend: opts.backend,
        method,
        samples: c.samples,
        median_ms: t.median,
        min_ms: t.min,
        max_ms: t.max,
        ms_per_sample: t.median / c.samples,
        x_forward: t.median / plain.median,
      });
      rows.push(row('plain inference forward', plain), row('SIG', s));
    } finally {
      model.dispose();
    }
  }

  // SI tracking: paired rounds of plain and tracked steps, per optimizer.
  const rounds = q ? 2 : cpu ? 15 : 40;
  const model = mlp(q ? [784, 30, 15, 10] : [784, 300, 150, 10], { activation: lrelu, seed: 1 });
  const { x, y } = randomBatch(model, BATCH);
  try {
    for (const name of ['sgd', 'adam'] as const) {
      const make = () => (name === 'sgd' ? tf.train.sgd(0.01) : tf.train.adam(1e-3));
      const plainCtx = benchContext(model, make());
      const siCtx = benchContext(model, make());
      const si = siTracker();
      si.beforeTask?.(siCtx);
      try {
        const [plain, tracked] = (await pairedRounds([() => trainStep({ x, y }, plainCtx, []), () => trainStep({ x, y }, siCtx, [si])], { rounds, warmup: 2 })) as [
          Awaited<ReturnType<typeof pairedRounds>>[number],
          Awaited<ReturnType<typeof pairedRounds>>[number],
        ];
        process.stderr.write(`  SI tracking, ${name}: ${formatTiming(tracked.timing)} vs plain ${formatTiming(plain.timing)}\n`);
        for (const [variant, p] of [
          ['plain step', plain],
          ['step + SI tracking', tracked],
        ] as const) {
          rows.push({
            model: q ? 'MLP 784-30-15-10 (quick)' : 'MLP 784-300-150-10',
            backend: opts.backend,
            method: `${name}: ${variant}`,
            samples: BATCH,
            median_ms: p.timing.median,
            min_ms: p.timing.min,
            max_ms: p.timing.max,
            ms_per_sample: p.timing.median / BATCH,
            overhead_pct: variant === 'plain step' ? '' : +p.overheadPct.toFixed(1),
          });
        }
      } finally {
        si.dispose();
        plainCtx.optimizer.dispose();
        siCtx.optimizer.dispose();
      }
    }
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
  notes.push(
    `SIG: inference mode, batch ${BATCH}, random images; x_forward is SIG's time over one plain inference forward pass over the same samples (median of ${runs} runs after a warm-up each). The conv net's SIG runs on ${sigConfigs[1]?.samples} samples on ${opts.backend}.`,
    `SI tracking: one step with siTracker (ω −= g ⊙ Δθ; the loop also keeps θ before the step to form Δθ) against the plain step, ${rounds} paired rounds after 2 warm-up steps; overhead_pct is the median over rounds of the paired difference over the plain median.`,
  );
  return { rows, notes };
}
