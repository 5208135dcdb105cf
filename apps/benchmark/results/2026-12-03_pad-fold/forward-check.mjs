// The model's logits at batches 16 and 64 on wasm: plain (ZeroPadding2D folded), under a capture (not folded), under a capture with capturePads (folded), and example by example; and the first layer whose captured output differs by more than 1e-5 between the two captures. Run from apps/benchmark: node results/2026-12-03_pad-fold/forward-check.mjs
import * as tf from '@tensorflow/tfjs-core';
import { mobileNetV2Step } from '../../scripts/ab-lib.mjs';
const core = await import('@forgetless/core');
const { randomImages } = await import('../../dist/data.js');
await core.useBackend('wasm');
const model = await mobileNetV2Step();
const diff = (a, b) => {
  let m = 0,
    s = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return m / s;
};
for (const n of [16, 64]) {
  const [batch] = [...randomImages(n, [96, 96, 3], 7).batches(n, { limit: n })];
  const plain = model.logits(batch.x).dataSync().slice();
  const cap = {};
  const withCap = model.logits(batch.x, { capture: cap }).dataSync().slice();
  const cap2 = {};
  const withCapPads = model.logits(batch.x, { capture: cap2, capturePads: true }).dataSync().slice();
  const one = [];
  for (let i = 0; i < n; i++) one.push(...tf.tidy(() => model.logits(tf.slice(batch.x, i, 1)).dataSync()));
  console.log(
    `n ${n}: capture vs plain ${diff(withCap, plain).toExponential(1)}, capturePads vs plain ${diff(withCapPads, plain).toExponential(1)}, per-example vs plain ${diff(one, plain).toExponential(1)}, capture vs per-example ${diff(withCap, one).toExponential(1)}`,
  );
  const names = Object.keys(cap);
  let worst = ['', 0];
  for (const k of names) {
    const d = diff(cap[k].output.dataSync(), cap2[k].output.dataSync());
    if (d > worst[1]) worst = [k, d];
  }
  // ReLU6 masks (0 < y ≤ 6 at the batch norms' fused outputs) that differ between the two captures
  let flips = 0;
  let total = 0;
  for (const k of names) {
    if (cap[k].fusedActivation !== 'relu6') continue;
    const [u, v] = [cap[k].output.dataSync(), cap2[k].output.dataSync()];
    total += u.length;
    for (let i = 0; i < u.length; i++) if ((u[i] > 0 && u[i] < 6) !== (v[i] > 0 && v[i] < 6)) flips++;
  }
  console.log(`  ReLU6 mask values that differ between the captures: ${flips} of ${total}`);
  console.log(
    `  worst layer output, capture vs capturePads: ${worst[0]} ${worst[1].toExponential(1)}; first differing:`,
    names.find((k) => diff(cap[k].output.dataSync(), cap2[k].output.dataSync()) > 1e-5),
  );
}
