// How the fast per-example Fisher's gain over the per-example loop depends on the batch, and its
// bound: Keras MobileNetV2 (α 0.35, 96², imported) on wasm, per batch size N (NS, default 16, 32, 64
// and 100, the importances' default `batchSize`): one plain forward+backward pass over the N examples
// (inference mode, all parameters), the fast Fisher (empirical) of the N, and the loop on 4 (scaled
// per example), interleaved, median of ROUNDS rounds (3) after a warm-up. The fast path needs every
// example's δ at every layer, one forward+backward pass over the batch, before its per-example sums,
// so its gain over the loop is at most the loop's time over that pass ("loop/fb"). REAL=<model.json>: a real
// pretrained model instead (e.g. nsfwjs's MobileNetV2 224² from scripts/fetch-real-models.sh), at its input size.
//
//   npx turbo run build --filter=@forgetless/benchmark...
//   node apps/benchmark/scripts/per-example-batch.mjs
import * as tf from '@tensorflow/tfjs-core';
import { load, mobileNetV2Step, stats } from './ab-lib.mjs';

const core = await import('@forgetless/core');
const { fisherDiagonal } = await import('@forgetless/importances');
const { randomImages } = await import('../dist/data.js');
await core.useBackend('wasm');
const model = process.env.REAL ? (await (await import('@forgetless/core/node')).loadLayersModel(process.env.REAL)).model : await mobileNetV2Step();
const shape = model.inputShape;
const vars = Object.values(model.params);
const rounds = Number(process.env.ROUNDS ?? 3);
console.log(`load ${load()}; ${process.env.REAL ?? 'Keras MobileNetV2 α 0.35 96²'}`);
for (const n of (process.env.NS ?? '16,32,64,100').split(',').map(Number)) {
  const source = randomImages(n, shape, 7, model.numClasses);
  const [batch] = [...source.batches(n, { limit: n })];
  const fb = async () => {
    const { value, grads } = tf.variableGrads(() => core.softmaxCrossEntropy(model.apply(batch.x), batch.y), vars);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const fis = (path, limit) => async () => {
    const r = await fisherDiagonal(model, source, { batchSize: n, limit, path });
    await Object.values(r)[0].data();
    core.disposeParams(r);
  };
  const fns = { fb, fast: fis('fast', n), loop: fis('loop', 4) };
  for (const f of Object.values(fns)) await f();
  const t = { fb: [], fast: [], loop: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [k, f] of Object.entries(fns)) {
      const t0 = performance.now();
      await f();
      t[k].push(performance.now() - t0);
    }
  }
  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, stats(v).med]));
  const loop = (m.loop / 4) * n;
  console.log(
    `batch ${n}: forward+backward ${m.fb.toFixed(0)} ms (${(m.fb / n).toFixed(2)} per example), fast ${m.fast.toFixed(0)} ms (${(m.fast / m.fb).toFixed(2)} passes), loop ${(m.loop / 4).toFixed(1)} ms per example: fast × loop ${(loop / m.fast).toFixed(2)}, loop/fb ${(loop / m.fb).toFixed(2)}`,
  );
  tf.dispose([batch.x, batch.y]);
}
console.log(`load ${load()}`);
