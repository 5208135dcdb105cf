// The per-example importances with each batch norm and the ReLU6 after it as one kernel under the taps
// (2026-12-02), against them run apart, in one process, interleaved round by round: Keras MobileNetV2
// (α 0.35, 96², imported) on wasm ('auto'), one batch of N random images (NS, default 16 and 64). In
// inference under taps and captures the layer fusions change only this (the conv + batch norm op is for
// training; ZeroPadding2D is not folded into a conv under a capture), so `withLayerFusion(false)` is the
// "apart" side. Per batch size: one plain forward+backward pass (inference mode, all parameters), the
// fast Fisher (empirical), MAS (softmax) and SIG, each fused and apart; median (min–max) of ROUNDS rounds
// (5) after a warm-up, × the forward+backward pass, and the largest relative difference between the
// two sides' Fisher and SIG.
//
//   npx turbo run build --filter=@forgetless/benchmark...
//   node apps/benchmark/scripts/bn-relu6-taps-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { load, maxRelDiff, mobileNetV2Step, stats } from './ab-lib.mjs';

const core = await import('@forgetless/core');
const { fisherDiagonal, mas, sig } = await import('@forgetless/importances');
const { randomImages } = await import('../dist/data.js');
await core.useBackend('wasm');
const rounds = Number(process.env.ROUNDS ?? 5);
const model = await mobileNetV2Step();
const vars = Object.values(model.params);
console.log(`load ${load()}`);

const settle = async (p) => {
  const r = await p;
  await Object.values(r)[0].data();
  return r;
};
/** The largest `maxRelDiff` over the parameters of two importance maps (both disposed). */
const relDiff = (a, b) => Math.max(...Object.keys(a).map((k) => maxRelDiff(a[k], b[k])));

for (const n of (process.env.NS ?? '16,64').split(',').map(Number)) {
  const source = randomImages(n, [96, 96, 3], 7);
  const [batch] = [...source.batches(n, { limit: n })];
  const opts = { batchSize: n, limit: n };
  const fb = async () => {
    const { value, grads } = tf.variableGrads(() => core.softmaxCrossEntropy(model.apply(batch.x), batch.y), vars);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const methods = {
    'FIS fast': () => fisherDiagonal(model, source, { ...opts, path: 'fast' }),
    'MAS fast': () => mas(model, source, { ...opts, path: 'fast' }),
    SIG: () => sig(model, source, opts),
  };
  // the two sides' values
  for (const name of ['FIS fast', 'SIG']) {
    const fused = await settle(methods[name]());
    const apart = await settle(core.withLayerFusion(false, methods[name]));
    console.log(`batch ${n}: ${name} fused against apart, largest relative difference ${relDiff(apart, fused).toExponential(1)}`);
  }
  const entries = [{ name: 'forward+backward', f: fb, t: [] }];
  for (const [name, m] of Object.entries(methods)) {
    const run = async () => core.disposeParams(await settle(m()));
    entries.push({ name: `${name}, apart`, f: () => core.withLayerFusion(false, run), t: [] });
    entries.push({ name: `${name}, fused`, f: run, t: [] });
  }
  for (const e of entries) await e.f();
  const tensors = tf.memory().numTensors;
  for (let r = 0; r < rounds; r++) {
    for (const e of r % 2 ? [...entries].reverse() : entries) {
      const t0 = performance.now();
      await e.f();
      e.t.push(performance.now() - t0);
    }
  }
  if (tf.memory().numTensors !== tensors) throw new Error(`batch ${n}: ${tf.memory().numTensors - tensors} tensors left`);
  const pass = stats(entries[0].t).med;
  for (const e of entries) {
    const s = stats(e.t);
    console.log(`batch ${n}: ${e.name.padEnd(16)} ${s.med.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)}) ms, ${(s.med / pass).toFixed(2)} × the forward+backward pass`);
  }
  for (const name of Object.keys(methods)) {
    const [a, f] = [entries.find((e) => e.name === `${name}, apart`), entries.find((e) => e.name === `${name}, fused`)];
    console.log(`batch ${n}: ${name}: apart / fused ${(stats(a.t).med / stats(f.t).med).toFixed(2)}`);
  }
  tf.dispose([batch.x, batch.y]);
}
console.log(`load ${load()}`);
