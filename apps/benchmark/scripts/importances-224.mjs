// Every data-driven importance on a full-size model with the default options: Keras MobileNetV2
// (α 1.0, 224×224×3, 10 classes; ALPHA, SIZE to change) imported into forgetless, on N random images
// (40 by default; `batchSize` left at its default of 100, so one batch), on wasm, one method per
// process (METHOD: fisher, mas, sig or taylor; all four one after another when unset). Prints the
// wall time, the wasm heap's size at the end (tfjs-wasm's heap only grows: its high-water mark) and,
// when the method fails, its error: before @forgetless/importances bounded a batch's pass by
// `maxBatchElements` the batch of 40 ran the heap to its 4 GB cap.
//
//   npx turbo run build --filter=@forgetless/benchmark...
//   node apps/benchmark/scripts/importances-224.mjs
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { load } from './ab-lib.mjs';

const method = process.env.METHOD;
if (!method) {
  for (const m of ['fisher', 'mas', 'sig', 'taylor']) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, METHOD: m }, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}
const core = await import('@forgetless/core');
const imp = await import('@forgetless/importances');
const { randomImages } = await import('../dist/data.js');
const { mobileNetV2, saveToMemory } = await import('../dist/models/mobilenet-v2.js');
await core.useBackend('wasm');
const alpha = Number(process.env.ALPHA ?? 1);
const size = Number(process.env.SIZE ?? 224);
const n = Number(process.env.N ?? 40);
const keras = mobileNetV2({ alpha, size, blocks: 16, classes: 10, seed: 1 });
const { model } = await core.loadLayersModelFromArtifacts(await saveToMemory(keras), 'mobilenet_v2');
keras.dispose();
const heapMB = () => (tf.backend().wasm.HEAPU8.buffer.byteLength / 2 ** 20).toFixed(0);
const run = { fisher: imp.fisherDiagonal, mas: imp.mas, sig: imp.sig, taylor: imp.taylor }[method];
if (!run) throw new Error(`METHOD must be fisher, mas, sig or taylor, got '${method}'`);
const what = `MobileNetV2 α${alpha} ${size}², ${method} on ${n} images, default options`;
const t0 = performance.now();
try {
  const out = await run(model, randomImages(n, [size, size, 3], 7));
  await Object.values(out)[0].data();
  core.disposeParams(out);
  console.log(`${what}: ${((performance.now() - t0) / 1e3).toFixed(1)} s, wasm heap ${heapMB()} MB; load ${load()}`);
} catch (e) {
  console.log(`${what}: failed after ${((performance.now() - t0) / 1e3).toFixed(1)} s, wasm heap ${heapMB()} MB: ${e.message}`);
}
