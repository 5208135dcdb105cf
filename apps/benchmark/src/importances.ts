/**
 * Importances benchmark: the fast per-example Fisher (FIS, empirical) and MAS (softmax) against
 * the per-example autograd loop and against one plain forward+backward pass over the same samples,
 * on the papers' 784-300-150-10 MLP and paper 2's conv net (full width). Assumes the backend is set.
 *
 * The loop on the full conv net over 1000 samples takes minutes on cpu, so it is timed on a subset
 * and its per-sample time extrapolated to the full count (rows say so).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ArraySource, type Sequential, Rng, mlp, paper2ConvNet, softmaxCrossEntropy } from '@forgetless/core';
import { fisherDiagonal, mas } from '@forgetless/importances';
import { type Timing, formatTiming, timeIt } from './harness.js';

export interface BenchImportancesOptions {
  backend: string;
  /** Fewer samples and runs (a smoke test, not figures to quote). */
  quick: boolean;
}

type Row = Record<string, string | number>;

function randomImages(n: number, shape: number[], seed: number): ArraySource {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Uint8Array.from({ length: n * size }, () => rng.int(256));
  const y = Int32Array.from({ length: n }, () => rng.int(10));
  return new ArraySource({ x, y, exampleShape: shape, numClasses: 10 });
}

/** One plain forward + backward pass (inference mode, mean cross-entropy) over every batch. */
async function forwardBackward(model: Sequential, source: ArraySource, batchSize: number, limit: number): Promise<void> {
  const vars = Object.values(model.params);
  for (const { x, y } of source.batches(batchSize, { limit })) {
    const { value, grads } = tf.variableGrads(() => softmaxCrossEntropy(model.apply(x), y), vars);
    await value.data();
    tf.dispose([value, x, y, ...Object.values(grads)]);
  }
}

async function disposeAfter(p: Promise<Record<string, tf.Tensor>>): Promise<void> {
  const map = await p;
  const first = Object.values(map)[0];
  if (first) await first.data();
  tf.dispose(Object.values(map));
}

export async function benchImportances(opts: BenchImportancesOptions): Promise<{ rows: Row[]; notes: string[] }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const batchSize = 100;
  const runs = opts.quick ? { warmup: 0, runs: 1 } : { warmup: 1, runs: 3 };
  const configs = [
    { name: 'mlp 784-300-150-10', make: () => mlp([784, 300, 150, 10], { activation: { name: 'leakyRelu', alpha: 0.01 }, seed: 1 }), shape: [784], samples: opts.quick ? 200 : 1000, loopSamples: opts.quick ? 50 : 1000 },
    { name: 'paper2 conv net', make: () => paper2ConvNet({ seed: 1 }), shape: [28, 28, 1], samples: opts.quick ? 50 : 1000, loopSamples: opts.quick ? 5 : 50 },
  ];
  for (const c of configs) {
    const model = c.make();
    const source = randomImages(c.samples, c.shape, 7);
    const slow = c.name.startsWith('paper2') && opts.backend === 'cpu' ? { warmup: 0, runs: 1 } : runs;
    const plain = await timeIt(() => forwardBackward(model, source, batchSize, c.samples), slow);
    const measured: { what: string; path: string; samples: number; t: Timing; perSample: number }[] = [];
    const add = (what: string, path: string, samples: number, t: Timing) => measured.push({ what, path, samples, t, perSample: t.median / samples });
    add('FIS empirical', 'fast', c.samples, await timeIt(() => disposeAfter(fisherDiagonal(model, source, { batchSize, limit: c.samples })), slow));
    add('MAS softmax', 'fast', c.samples, await timeIt(() => disposeAfter(mas(model, source, { batchSize, limit: c.samples })), slow));
    const loopRuns = c.loopSamples === c.samples ? slow : { warmup: 0, runs: 1 };
    add('FIS empirical', 'loop', c.loopSamples, await timeIt(() => disposeAfter(fisherDiagonal(model, source, { batchSize, limit: c.loopSamples, path: 'loop' })), loopRuns));
    add('MAS softmax', 'loop', c.loopSamples, await timeIt(() => disposeAfter(mas(model, source, { batchSize, limit: c.loopSamples, path: 'loop' })), loopRuns));
    rows.push({ model: c.name, backend: opts.backend, method: 'plain forward+backward', path: '-', samples: c.samples, time: formatTiming(plain), msPerSample: +(plain.median / c.samples).toFixed(4), vsLoop: '-', vsForwardBackward: 1 });
    for (const m of measured) {
      const loop = measured.find((o) => o.what === m.what && o.path === 'loop') as (typeof measured)[number];
      const extrapolated = m.path === 'loop' && m.samples !== c.samples;
      rows.push({
        model: c.name,
        backend: opts.backend,
        method: m.what,
        path: extrapolated ? `loop (timed on ${m.samples}, ×${c.samples / m.samples} extrapolated)` : m.path,
        samples: c.samples,
        time: extrapolated ? `${(m.perSample * c.samples).toFixed(0)} ms (extrapolated)` : formatTiming(m.t),
        msPerSample: +m.perSample.toFixed(4),
        vsLoop: m.path === 'fast' ? `${(loop.perSample / m.perSample).toFixed(1)}x faster` : '1',
        vsForwardBackward: +((m.perSample * c.samples) / plain.median).toFixed(2),
      });
    }
    if (c.loopSamples !== c.samples) notes.push(`${c.name}: the per-example loop was timed on ${c.loopSamples} samples and extrapolated per sample to ${c.samples}.`);
    model.dispose();
  }
  notes.push('vsForwardBackward: time over the time of one plain forward+backward pass (mean cross-entropy, batch 100) over the same samples.');
  notes.push('Importances in inference mode, batch 100; random 28×28 images (timing does not depend on the data).');
  return { rows, notes };
}
