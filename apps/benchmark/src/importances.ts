/**
 * Importances benchmark: the fast per-example Fisher (FIS, empirical) and MAS (softmax) against the
 * per-example autograd loop, and against one plain forward+backward pass over the same samples, on
 * the papers' 784-300-150-10 MLP (leaky ReLU) and paper 2's conv net (full width), 1000 samples in
 * batches of 100. Assumes the backend is set; prints nothing.
 *
 * Every workload is warmed up on one batch first. MLP figures are medians of 3 runs; the conv net's
 * (tens of seconds to minutes per run) and the loops' are single runs. The loop on the conv net over
 * 1000 samples would take many minutes, so it is timed on a subset and its per-sample time
 * extrapolated; those rows say so.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ArraySource, Rng, type Sequential, mlp, paper2ConvNet, softmaxCrossEntropy } from '@forgetless/core';
import { fisherDiagonal, mas } from '@forgetless/importances';
import { type Timing, formatTiming, timeIt } from './harness.js';

export interface BenchImportancesOptions {
  backend: string;
  /** Fewer samples and runs: a smoke test, not figures to quote. */
  quick: boolean;
  /** Which models (default both). */
  models?: ('mlp' | 'conv')[];
}

type Row = Record<string, string | number>;
type Workload = (limit: number) => Promise<void>;

const BATCH = 100;

function randomImages(n: number, shape: number[], seed: number): ArraySource {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Uint8Array.from({ length: n * size }, () => rng.int(256));
  const y = Int32Array.from({ length: n }, () => rng.int(10));
  return new ArraySource({ x, y, exampleShape: shape, numClasses: 10 });
}

/** One plain forward + backward pass (inference mode, mean cross-entropy, all parameters) per batch. */
function forwardBackward(model: Sequential, source: ArraySource): Workload {
  const vars = Object.values(model.params);
  return async (limit) => {
    for (const { x, y } of source.batches(BATCH, { limit })) {
      const { value, grads } = tf.variableGrads(() => softmaxCrossEntropy(model.apply(x), y), vars);
      await value.data();
      tf.dispose([value, x, y, ...Object.values(grads)]);
    }
  };
}

/** Runs an importance and frees its result (after reading one value, so async backends finish). */
function importance(run: (limit: number) => Promise<Record<string, tf.Tensor>>): Workload {
  return async (limit) => {
    const map = await run(limit);
    await Object.values(map)[0]?.data();
    tf.dispose(Object.values(map));
  };
}

/** Warm-up on `warm` samples, then `runs` timed runs on `samples`. */
async function measure(w: Workload, samples: number, warm: number, runs: number): Promise<Timing> {
  await w(warm);
  return timeIt(() => w(samples), { warmup: 0, runs });
}

export async function benchImportances(opts: BenchImportancesOptions): Promise<{ rows: Row[]; notes: string[] }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const q = opts.quick;
  const configs = [
    {
      key: 'mlp',
      name: 'mlp 784-300-150-10',
      make: () => mlp([784, 300, 150, 10], { activation: { name: 'leakyRelu', alpha: 0.01 }, seed: 1 }),
      shape: [784],
      samples: q ? 200 : 1000,
      loopSamples: q ? 50 : 1000,
      runs: q ? 1 : 3,
    },
    { key: 'conv', name: 'paper2 conv net', make: () => paper2ConvNet({ seed: 1 }), shape: [28, 28, 1], samples: q ? 100 : 1000, loopSamples: q ? 5 : 50, runs: 1 },
  ];
  for (const c of configs) {
    if (opts.models && !opts.models.includes(c.key as 'mlp' | 'conv')) continue;
    const model = c.make();
    const source = randomImages(c.samples, c.shape, 7);
    const warm = Math.min(BATCH, c.samples);
    const plain = await measure(forwardBackward(model, source), c.samples, warm, c.runs);
    const fisher = (path: 'fast' | 'loop') => importance((limit) => fisherDiagonal(model, source, { batchSize: BATCH, limit, path }));
    const masSoftmax = (path: 'fast' | 'loop') => importance((limit) => mas(model, source, { batchSize: BATCH, limit, path }));
    rows.push({
      model: c.name,
      backend: opts.backend,
      method: 'plain forward+backward',
      path: '-',
      samples: c.samples,
      time: formatTiming(plain),
      msPerSample: plain.median / c.samples,
      speedupVsLoop: '-',
      xForwardBackward: 1,
    });
    for (const [method, make] of [
      ['FIS empirical', fisher],
      ['MAS softmax', masSoftmax],
    ] as const) {
      const fast = await measure(make('fast'), c.samples, warm, c.runs);
      const loop = await measure(make('loop'), c.loopSamples, Math.min(5, c.loopSamples), 1);
      const fastPer = fast.median / c.samples;
      const loopPer = loop.median / c.loopSamples;
      const extrapolated = c.loopSamples !== c.samples;
      rows.push({
        model: c.name,
        backend: opts.backend,
        method,
        path: 'fast',
        samples: c.samples,
        time: formatTiming(fast),
        msPerSample: fastPer,
        speedupVsLoop: loopPer / fastPer,
        xForwardBackward: fast.median / plain.median,
      });
      rows.push({
        model: c.name,
        backend: opts.backend,
        method,
        path: extrapolated ? `loop, timed on ${c.loopSamples} (extrapolated)` : 'loop',
        samples: c.samples,
        time: extrapolated ? `≈${(loopPer * c.samples).toFixed(0)} ms (extrapolated)` : formatTiming(loop),
        msPerSample: loopPer,
        speedupVsLoop: 1,
        xForwardBackward: (loopPer * c.samples) / plain.median,
      });
    }
    if (c.loopSamples !== c.samples)
      notes.push(`${c.name}: the per-example loop was timed on ${c.loopSamples} samples; its ${c.samples}-sample time is that per-sample time × ${c.samples}.`);
    model.dispose();
  }
  notes.push('speedupVsLoop: per-sample time of the per-example autograd loop over that of the fast path (same method).');
  notes.push('xForwardBackward: time over that of one plain forward+backward pass (mean cross-entropy, all parameters, batch 100) over the same samples.');
  notes.push(
    'Inference mode, batch 100, random 28×28 images (the timing does not depend on the data). MLP: median of 3 runs after a one-batch warm-up; conv net and loops: one run after a warm-up.',
  );
  return { rows, notes };
}
