// Tries a real pretrained model.json (see fetch-real-models.sh) through forgetless and stock tfjs-layers:
// predictions, byte-identical round trip, FIS/MAS/SIG, magnitude pruning read back by stock tfjs.
//   node scripts/try-real-models.mjs <model.json> [cpu|wasm] [per-example input shape for any-size inputs]
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { layersModelArtifacts, toModelArtifacts, useBackend, ArraySource } from '@forgetless/core';
import { loadLayersModel, layersModelFiles } from '@forgetless/core/node';
import { fisherDiagonal, mas, sig } from '@forgetless/importances';
import { prune } from '@forgetless/pruning';
/** How many times each key occurs. */
const countBy = (keys) => {
  const counts = {};
  for (const k of keys) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
};
const [path, backend = 'cpu', inShape] = process.argv.slice(2);
await useBackend(backend);
let t = performance.now();
const loaded = await loadLayersModel(path);
console.log(
  'load',
  (performance.now() - t).toFixed(0),
  'ms; params',
  loaded.model.countParams(),
  'input',
  JSON.stringify(loaded.model.inputShape),
  'softmax',
  loaded.outputSoftmax,
);
const stock = await tfl.loadLayersModel(layersModelFiles(path));
const shape = inShape ? JSON.parse(inShape) : loaded.model.inputShape;
const x = tf.randomUniform([2, ...shape], 0, 1, 'float32', 3);
t = performance.now();
const a = loaded.predict(x);
const tA = performance.now() - t;
t = performance.now();
const b = stock.predict(x);
const tB = performance.now() - t;
const d = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
const m = tf.max(tf.abs(b)).dataSync()[0];
console.log('predict rel err', (d / m).toExponential(2), `forgetless ${tA.toFixed(0)} ms, tfjs-layers ${tB.toFixed(0)} ms`);
const saved = await layersModelArtifacts(loaded);
const orig = loaded.groups;
let same = true;
const all = new Uint8Array(orig.reduce((n, g) => n + g.byteLength, 0));
let off = 0;
for (const g of orig) {
  all.set(g, off);
  off += g.byteLength;
}
same = all.length === saved.weightData.length && all.every((v, i) => v === saved.weightData[i]);
console.log('round trip byte-identical', same, 'actions', JSON.stringify(countBy(saved.report.map((r) => r.action))));
if (loaded.model.outputShape.length === 1) {
  const n = 8;
  const xs = tf.randomUniform([n, ...shape], 0, 1, 'float32', 5);
  const src = new ArraySource({
    x: xs.dataSync(),
    y: Int32Array.from({ length: n }, (_, i) => i % loaded.model.numClasses),
    exampleShape: shape,
    numClasses: loaded.model.numClasses,
  });
  for (const [name, f] of [
    ['fisher fast', (s) => fisherDiagonal(loaded.model, s, { batchSize: 4 })],
    ['mas fast', (s) => mas(loaded.model, s, { batchSize: 4 })],
    ['sig', (s) => sig(loaded.model, s, { batchSize: 4 })],
  ]) {
    t = performance.now();
    const imp = await f(src);
    const ms = performance.now() - t;
    const finite = Object.values(imp).every((v) => tf.all(tf.isFinite(v)).dataSync()[0]);
    console.log(name, `${(ms / n).toFixed(0)} ms/example`, 'finite', finite);
    tf.dispose(Object.values(imp));
  }
}
const r = await prune(loaded.model, { importance: 'magnitude', sparsity: 0.5 });
console.log('pruned: masked zeros', r.report.masked.zeros, 'of', r.report.masked.size, 'already zero before', r.report.masked.zerosBefore, 'newly', r.report.masked.newlyZeroed);
const pr = await layersModelArtifacts(loaded);
const back = await tfl.loadLayersModel(tf.io.fromMemory(toModelArtifacts(pr)));
let zeros = 0,
  size = 0;
const names = new Set(Object.keys(r.masks).map((n) => loaded.kerasName(n)));
for (const w of back.weights)
  if (names.has(w.originalName)) {
    const v = w.read().dataSync();
    size += v.length;
    for (const q of v) if (q === 0) zeros++;
  }
console.log('stock reads back zeros', zeros, 'of', size, 'dtypes', JSON.stringify(countBy(pr.report.map((r) => `${r.dtype}/${r.action}`))));
