// What making a batch from uint8 images costs on wasm, with the batch's values in a new Float32Array each
// time or in one buffer the source keeps (@forgetless/core's ArraySource since 2026-12-02): one fresh
// process on wasm times (a) `ArraySource.batchAt` of N random 96×96×3 images (NS, default 16 and 32),
// median (min–max) of 30 after 5 warm-ups; (b) a training loop as `trainContinual` runs it, each step's
// batch made from the source: MobileNetV2 α 0.35 (Keras, imported), SGD, batch 8, median (min–max) ms
// per step over 40 steps after 10; (c) the fast per-example Fisher of 16 images from the source.
// To compare two builds, run it alternately with each build's packages/core/dist in place (TAG names the
// build in the output):
//   for r in 1 2 3; do for v in old new; do cp -r $v/core/dist packages/core/ && TAG=$v node apps/benchmark/scripts/batch-buffer-ab.mjs; done; done
import * as tf from '@tensorflow/tfjs-core';
import { load, mobileNetV2Step, stats, stepContext } from './ab-lib.mjs';

const core = await import('@forgetless/core');
const { fisherDiagonal } = await import('@forgetless/importances');
const { randomImages } = await import('../dist/data.js');
await core.useBackend('wasm');
const tag = process.env.TAG ?? '';
const fmt = (s) => `${s.med.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
const timed = async (n, warm, f) => {
  for (let i = 0; i < warm; i++) await f();
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return stats(t);
};
const out = [];
for (const n of (process.env.NS ?? '16,32').split(',').map(Number)) {
  const source = randomImages(n, [96, 96, 3], 7);
  const positions = Int32Array.from({ length: n }, (_, i) => i);
  const s = await timed(30, 5, () => {
    const b = source.batchAt(positions);
    tf.dispose([b.x, b.y]);
  });
  out.push(`batchAt ${n}: ${fmt(s)} ms`);
}
const model = await mobileNetV2Step();
const ctx = await stepContext(model, tf.train.sgd(0.01));
const train = randomImages(8 * 60, [96, 96, 3], 9);
const it = train.batches(8)[Symbol.iterator]();
const step = await timed(40, 10, () => {
  const { x, y } = it.next().value;
  const l = core.trainStep({ x, y }, ctx, []);
  const v = l.dataSync()[0];
  tf.dispose([l, x, y]);
  if (!Number.isFinite(v)) throw new Error(`loss ${v}: diverged`);
});
out.push(`SGD step with its batch made from uint8 images, batch 8: ${fmt(step)} ms`);
const images = randomImages(16, [96, 96, 3], 11);
const fis = await timed(5, 2, async () => {
  const r = await fisherDiagonal(model, images, { batchSize: 16, path: 'fast' });
  await Object.values(r)[0].data();
  core.disposeParams(r);
});
out.push(`fast Fisher of 16 images from the source: ${fmt(fis)} ms`);
console.log(`${tag} ${out.join(' | ')} | load ${load()}`);
