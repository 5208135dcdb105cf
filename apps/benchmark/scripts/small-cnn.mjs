// A small grayscale conv net for the README's `forgetless prune --structure channels` figures, made
// the way somebody else's model is: built and trained with stock @tensorflow/tfjs-layers (model.fit,
// 2 epochs, Adam 1e-3, batch 64) on the embedded Fashion-MNIST subset (28×28×1, x/255), saved as
// model.json + one float32 shard. Importing @forgetless/core registers the wasm Conv2DBackpropFilter
// kernel tfjs-layers' training needs there (see packages/core/examples/pretrain.mjs).
//
//   npx turbo run build && node apps/benchmark/scripts/small-cnn.mjs <outDir>
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '@forgetless/core';
import { loadEmbedded } from '@forgetless/datasets/node';

const out = process.argv[2];
if (!out) throw new Error('usage: node small-cnn.mjs <outDir>');
await useBackend('wasm');
const data = await loadEmbedded();
const xy = (part) => ({
  x: tf.tensor4d(
    Float32Array.from(part.images, (v) => v / 255),
    [part.count, 28, 28, 1],
  ),
  y: tf.oneHot(tf.tensor1d(Int32Array.from(part.labels), 'int32'), 10),
});
const train = xy(data.train);
const test = xy(data.test);
const model = tfl.sequential({
  name: 'small_cnn',
  layers: [
    tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu', name: 'conv1', seed: 1 }),
    tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }),
    tfl.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', name: 'conv2' }),
    tfl.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }),
    tfl.layers.flatten({ name: 'flatten' }),
    tfl.layers.dense({ units: 64, activation: 'relu', name: 'fc' }),
    tfl.layers.dense({ units: 10, activation: 'softmax', name: 'predictions' }),
  ],
});
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
await model.fit(train.x, train.y, { epochs: 2, batchSize: 64, shuffle: true, verbose: 0 });
const [, acc] = model.evaluate(test.x, test.y);
console.log(`small_cnn: ${model.countParams()} parameters, test accuracy ${(await acc.data())[0].toFixed(4)} on ${data.test.count} images`);
let artifacts;
await model.save(
  tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }),
);
await mkdir(out, { recursive: true });
await writeFile(join(out, 'group1-shard1of1.bin'), new Uint8Array(artifacts.weightData));
await writeFile(
  join(out, 'model.json'),
  JSON.stringify({
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }],
  }),
);
