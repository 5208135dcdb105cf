// The fast Fisher (empirical) of MobileNetV2 α 0.35 96² on wasm with each ZeroPadding2D folded into the conv after it (fold) and not (nofold: the temporary switch of fold-ab.txt, NO_FUSED), twice each, against the per-example loop: the largest relative difference over the parameters of each pair. Run from apps/benchmark: N=64 node results/2026-12-03_pad-fold/fold-diff.mjs
import * as tf from '@tensorflow/tfjs-core';
import { mobileNetV2Step } from '../../scripts/ab-lib.mjs';
const core = await import('@forgetless/core');
const { fisherDiagonal } = await import('@forgetless/importances');
const { randomImages } = await import('../../dist/data.js');
await core.useBackend('wasm');
const model = await mobileNetV2Step();
const n = Number(process.env.N ?? 64);
const source = randomImages(n, [96, 96, 3], 7);
const run = async (fold, path) => {
  globalThis.NO_FUSED = !fold;
  const t0 = performance.now();
  const r = await fisherDiagonal(model, source, { batchSize: n, limit: n, path });
  await Object.values(r)[0].data();
  console.log(`${path} fold ${fold}: ${(performance.now() - t0).toFixed(0)} ms`);
  return r;
};
const R = { fold: await run(true, 'fast'), nofold: await run(false, 'fast'), loop: await run(false, 'loop'), fold2: await run(true, 'fast'), nofold2: await run(false, 'fast') };
const rel = (x, y) => tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0] / (tf.max(tf.abs(y)).dataSync()[0] || 1));
const worst = (p, q) => Math.max(...Object.keys(R.loop).map((k) => rel(R[p][k], R[q][k])));
for (const [p, q] of [
  ['fold', 'loop'],
  ['nofold', 'loop'],
  ['fold', 'nofold'],
  ['fold', 'fold2'],
  ['nofold', 'nofold2'],
  ['fold2', 'loop'],
  ['nofold2', 'loop'],
])
  console.log(`${p} vs ${q}: ${worst(p, q).toExponential(2)}`);
