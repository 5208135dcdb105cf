// The wasm heap a per-example importance needs, and its time: one fresh process computes the fast
// per-example Fisher (empirical) of Keras MobileNetV2 (α 0.35, 96², imported) on one batch of N
// random images (N=16 by default), and prints the wasm memory's size before and after (tfjs-wasm's
// heap only grows: its size is the high-water mark), the first call's time (it pays for the pages the
// heap grows into: on this VM ~1–3.6 ms per MB touched the first time) and the median (min–max) of
// the next ROUNDS calls (5), beside one plain forward+backward pass (inference mode, all parameters).
// To compare two builds, run it alternately with each build's packages/core/dist and
// packages/importances/dist in place (TAG names the build in the output):
//   for r in 1 2 3; do for v in old new; do cp -r $v/core/dist packages/core/ && cp -r $v/importances/dist packages/importances/ && TAG=$v N=64 node apps/benchmark/scripts/per-example-heap.mjs; done; done
import * as tf from '@tensorflow/tfjs-core';
import { load, mobileNetV2Step, stats } from './ab-lib.mjs';

const core = await import('@forgetless/core');
const { fisherDiagonal } = await import('@forgetless/importances');
const { randomImages } = await import('../dist/data.js');
await core.useBackend('wasm');
const n = Number(process.env.N ?? 16);
const rounds = Number(process.env.ROUNDS ?? 5);
const model = await mobileNetV2Step();
const source = randomImages(n, [96, 96, 3], 7);
const [batch] = [...source.batches(n, { limit: n })];
const heapMB = () => tf.backend().wasm.HEAPU8.buffer.byteLength / 2 ** 20;
const fis = async () => {
  const r = await fisherDiagonal(model, source, { batchSize: n, limit: n, path: 'fast' });
  const v = Object.values(r);
  await v[0].data();
  tf.dispose(v);
};
const vars = Object.values(model.params);
const fb = async () => {
  const { value, grads } = tf.variableGrads(() => core.softmaxCrossEntropy(model.apply(batch.x), batch.y), vars);
  await value.data();
  tf.dispose([value, ...Object.values(grads)]);
};
const before = heapMB();
const t0 = performance.now();
await fis();
const first = performance.now() - t0;
const after = heapMB();
const tensors = tf.memory().numTensors;
const t = { fis: [], fb: [] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? ['fb', 'fis'] : ['fis', 'fb'];
  for (const k of order) {
    const f = k === 'fis' ? fis : fb;
    const s = performance.now();
    await f();
    t[k].push(performance.now() - s);
  }
}
if (tf.memory().numTensors !== tensors) throw new Error(`${tf.memory().numTensors - tensors} tensors left`);
const f = (s) => `${s.med.toFixed(0)} (${s.min.toFixed(0)}–${s.max.toFixed(0)}) ms`;
const [a, b] = [stats(t.fis), stats(t.fb)];
console.log(
  `${process.env.TAG ?? ''} batch ${n}: wasm heap ${before.toFixed(0)} → ${after.toFixed(0)} MB, first call ${first.toFixed(0)} ms; then FIS fast ${f(a)}, forward+backward ${f(b)} (${(a.med / b.med).toFixed(2)}×); load ${load()}`,
);
