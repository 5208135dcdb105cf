// The fast per-example Fisher (empirical) and MAS of MobileNetV2 α 0.35 96² on wasm with the batch norms' per-example γ/β sums taken inside their backward kernels (fused) against by their own kernel after the pass (apart), alternating in one process, beside one forward+backward pass; and the largest relative difference of the two Fishers. Needs the temporary switch in packages/importances/src/per-example.ts (see fused-ab.txt). Run from apps/benchmark: ROUNDS=10 NS=16,64,100 node results/2026-12-03_bn-sums-fused/fused-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { load, mobileNetV2Step, stats } from '../../scripts/ab-lib.mjs';
const core = await import('@forgetless/core');
const { fisherDiagonal, mas } = await import('@forgetless/importances');
const { randomImages } = await import('../../dist/data.js');
await core.useBackend('wasm');
const model = await mobileNetV2Step();
const vars = Object.values(model.params);
const rounds = Number(process.env.ROUNDS ?? 6);
console.log(`load ${load()}`);
for (const n of (process.env.NS ?? '16,64,100').split(',').map(Number)) {
  const source = randomImages(n, [96, 96, 3], 7);
  const [batch] = [...source.batches(n, { limit: n })];
  const fb = async () => {
    const { value, grads } = tf.variableGrads(() => core.softmaxCrossEntropy(model.apply(batch.x), batch.y), vars);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const run = (fn, fused) => async () => {
    globalThis.NO_FUSED = !fused;
    const r = await fn(model, source, { batchSize: n, limit: n, path: 'fast' });
    await Object.values(r)[0].data();
    return r;
  };
  const fns = { fb, fisFused: run(fisherDiagonal, true), fisApart: run(fisherDiagonal, false), masFused: run(mas, true), masApart: run(mas, false) };
  // the same values: fused against apart
  const a = await fns.fisFused(),
    b = await fns.fisApart();
  let worst = 0;
  for (const k of Object.keys(a)) {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a[k], b[k]))).dataSync()[0] / (tf.max(tf.abs(b[k])).dataSync()[0] || 1));
    worst = Math.max(worst, d);
  }
  core.disposeParams(a);
  core.disposeParams(b);
  const t = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  const before = tf.memory().numTensors;
  for (let r = 0; r < rounds; r++)
    for (const [k, f] of r % 2 ? Object.entries(fns).reverse() : Object.entries(fns)) {
      const t0 = performance.now();
      const out = await f();
      t[k].push(performance.now() - t0);
      if (out) core.disposeParams(out);
    }
  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, stats(v)]));
  const f = (k) => `${m[k].med.toFixed(0)} (${m[k].min.toFixed(0)}–${m[k].max.toFixed(0)}) ms, ${(m[k].med / m.fb.med).toFixed(2)} passes`;
  console.log(
    `batch ${n}: forward+backward ${f('fb')}; FIS fused ${f('fisFused')}, apart ${f('fisApart')}, fused/apart ${(m.fisFused.med / m.fisApart.med).toFixed(3)}; MAS fused ${f('masFused')}, apart ${f('masApart')}, fused/apart ${(m.masFused.med / m.masApart.med).toFixed(3)}; FIS fused vs apart max rel diff ${worst.toExponential(1)}; tensors ${before} → ${tf.memory().numTensors}`,
  );
  tf.dispose([batch.x, batch.y]);
}
console.log(`load ${load()}`);
