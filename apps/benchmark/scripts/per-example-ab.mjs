// Per-example importances and inference before/after the SIMD per-example sums (a conv's filter
// gradient per example, a batch norm's γ/β sums, SIG's tap sums), light taps and the inference-mode batch norm kernels, in one
// process, interleaved round by round: `setSimdPerExampleSums`, `setLightTaps` and `setSimdBatchNormInference` off
// (before) and on (after), everything else the same ('auto', wasm). Per model: one forward+backward
// pass over the batch (inference mode, all parameters), the fast per-example Fisher (empirical) and
// MAS (softmax), the per-example loop (on fewer examples, scaled to the batch), SIG (its tap sums:
// `tapAbsSums`) and a forward pass (`predict`); the Fisher of both sides compared.
//
//   npx turbo run build --filter=@forgetless/benchmark...
//   node apps/benchmark/scripts/per-example-ab.mjs          ROUNDS=5 by default
import * as tf from '@tensorflow/tfjs-core';
import { load, mobileNetV2Step, stats } from './ab-lib.mjs';

const core = await import('@forgetless/core');
const { fisherDiagonal, mas, sig } = await import('@forgetless/importances');
const { randomImages } = await import('../dist/data.js');
await core.useBackend('wasm');
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const set = (on) => {
  core.setSimdBatchNormInference(on);
  core.setSimdPerExampleSums(on);
  core.setLightTaps(on);
};

const settle = async (p) => {
  const r = await p;
  const v = Object.values(r);
  await v[0].data();
  return r;
};
const dispose = (r) => tf.dispose(Object.values(r));

async function measure(label, model, shape, n, loopN) {
  const source = randomImages(n, shape, 7);
  const [batch] = [...source.batches(n, { limit: n })];
  const vars = Object.values(model.params);
  const fb = async () => {
    const { value, grads } = tf.variableGrads(() => core.softmaxCrossEntropy(model.apply(batch.x), batch.y), vars);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const predict = async () => {
    const y = model.predict(batch.x);
    await y.data();
    y.dispose();
  };
  const fis = (path) => async () => dispose(await settle(fisherDiagonal(model, source, { batchSize: n, limit: path === 'fast' ? n : loopN, path })));
  const masFast = async () => dispose(await settle(mas(model, source, { batchSize: n, limit: n, path: 'fast' })));
  const sigOf = async () => dispose(await settle(sig(model, source, { batchSize: n, limit: n })));
  const what = { 'forward+backward': fb, 'FIS fast': fis('fast'), 'MAS fast': masFast, 'FIS loop': fis('loop'), SIG: sigOf, predict };
  const entries = [];
  for (const on of [false, true]) for (const [name, f] of Object.entries(what)) entries.push({ on, name, f, t: [] });
  // the same importances both ways
  const values = [];
  for (const on of [false, true]) {
    set(on);
    const r = await settle(fisherDiagonal(model, source, { batchSize: n, limit: n, path: 'fast' }));
    values.push(r);
  }
  let worst = 0;
  for (const k of Object.keys(values[0])) {
    const [a, b] = [values[0][k].dataSync(), values[1][k].dataSync()];
    let num = 0;
    let den = 1e-30;
    for (let i = 0; i < a.length; i++) {
      num = Math.max(num, Math.abs(a[i] - b[i]));
      den = Math.max(den, Math.abs(a[i]));
    }
    worst = Math.max(worst, num / den);
  }
  values.forEach(dispose);
  const tensors = tf.memory().numTensors;
  for (const e of entries) {
    set(e.on);
    await e.f(); // warm-up
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const e of r % 2 ? [...entries].reverse() : entries) {
      set(e.on);
      const t0 = performance.now();
      await e.f();
      e.t.push(performance.now() - t0);
    }
  }
  set(true);
  if (tf.memory().numTensors !== tensors) throw new Error(`${label}: ${tf.memory().numTensors - tensors} tensors left`);
  tf.dispose([batch.x, batch.y]);
  console.log(`\n${label}, batch ${n} (loop timed on ${loopN}, scaled ×${n / loopN}); Fisher before vs after: max rel. difference ${worst.toExponential(1)}`);
  console.log('| measure | before, ms | after, ms | after/before |');
  console.log('| --- | ---: | ---: | ---: |');
  const row = (name) => {
    const scale = name === 'FIS loop' ? n / loopN : 1;
    const [b, a] = [false, true].map((on) => stats(entries.find((e) => e.on === on && e.name === name).t.map((v) => v * scale)));
    const f = (s) => `${s.med.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
    console.log(`| ${name} | ${f(b)} | ${f(a)} | ${(a.med / b.med).toFixed(2)} |`);
    return { b, a };
  };
  const rows = Object.fromEntries(Object.keys(what).map((k) => [k, row(k)]));
  for (const side of ['b', 'a']) {
    const fbm = rows['forward+backward'][side].med;
    const loop = rows['FIS loop'][side].med;
    console.log(
      `  ${side === 'b' ? 'before' : 'after'}: FIS fast = ${(rows['FIS fast'][side].med / fbm).toFixed(2)}× one forward+backward, ${(loop / rows['FIS fast'][side].med).toFixed(2)}× faster than the loop (MAS ${(loop / rows['MAS fast'][side].med).toFixed(2)}×); the loop costs ${(loop / fbm).toFixed(2)} forward+backward passes`,
    );
  }
}

console.log(`load average ${load()}; ${ROUNDS} rounds, interleaved`);
await measure('MobileNetV2 α0.35 96² (Keras, imported)', await mobileNetV2Step(), [96, 96, 3], 16, 4);
await measure("paper 2's conv net (full width)", core.paper2ConvNet({ width: 1, seed: 1 }), [28, 28, 1], 32, 8);
console.log(`\nload average ${load()}`);
