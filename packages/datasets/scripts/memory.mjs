#!/usr/bin/env node
// Measures the memory of a 10-task permuted Fashion-MNIST sequence on the full data, for the README.
// Usage (after `npm run build`): node --expose-gc scripts/memory.mjs [folder]   (default: Debian's)
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { permutedTasks } from '../dist/index.js';
import { loadMnistFormat } from '../dist/node.js';

const dir = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const MB = 2 ** 20;
const gc = globalThis.gc ?? (() => console.warn('run with --expose-gc for settled numbers'));
const snapshot = async () => {
  // external ArrayBuffer memory is released a little after collection: settle a few rounds
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const m = process.memoryUsage();
  return { arrayBuffers: m.arrayBuffers, rss: m.rss, heapUsed: m.heapUsed };
};
const fmt = (b) => `${(b / MB).toFixed(1)} MiB`;

await tf.setBackend('cpu');
const before = await snapshot();
const data = await loadMnistFormat(dir);
const loaded = await snapshot();
const tasks = permutedTasks(data, { numTasks: 10, seed: 0 });
// draw one shuffled batch of 100 from every task, as training does
for (const t of tasks) {
  for (const b of t.train.batches(100, { shuffle: true, seed: 1 })) {
    tf.dispose([b.x, b.y]);
    break;
  }
}
const built = await snapshot();

const seen = new Set();
let held = 0;
for (const t of tasks) {
  for (const s of [t.train, t.validation, t.test]) {
    for (const a of Object.values(s.options)) {
      if (ArrayBuffer.isView(a) && !seen.has(a.buffer)) {
        seen.add(a.buffer);
        held += a.buffer.byteLength;
      }
    }
  }
}
const datasetBytes = data.train.images.byteLength + data.train.labels.byteLength + data.test.images.byteLength + data.test.labels.byteLength;
const copies = 10 * (data.train.count + data.test.count) * data.rows * data.cols * 4;
console.log(`data: ${dir} (${data.train.count} training + ${data.test.count} test images, ${data.rows}×${data.cols})`);
console.log(`dataset (uint8 pixels + labels):            ${fmt(datasetBytes)}`);
console.log(`typed arrays held by the 10 tasks:           ${fmt(held)} (+${fmt(held - datasetBytes)}: 9 permutations, index views)`);
console.log(`process ArrayBuffers after loading:          +${fmt(loaded.arrayBuffers - before.arrayBuffers)}`);
console.log(`process ArrayBuffers after 10 tasks+batches: +${fmt(built.arrayBuffers - before.arrayBuffers)}`);
console.log(`process RSS after 10 tasks+batches:          +${fmt(built.rss - before.rss)}`);
console.log(`ten permuted float32 copies would be:        ${fmt(copies)}`);
console.log(`tensors alive: ${tf.memory().numTensors}`);
