// "The pretrained model somebody else made": a small MobileNetV2-style classifier built and trained
// with stock @tensorflow/tfjs-layers (model.fit) on Fashion-MNIST classes 0-4 rendered as RGB, saved
// the way published tfjs models are (model.json + one uint8-quantized shard, as
// tensorflowjs_converter --quantize_uint8 writes them), and reloaded with stock tfjs-layers to
// measure what was saved. Nothing here uses forgetless's training loop.
//
// Backend: wasm. tfjs-layers' Conv2D runs tf.fused.conv2d, whose gradient is built into the op and
// calls the Conv2DBackpropFilter kernel directly; wasm has none, and forgetless's gradients, registered
// by kernel name, cannot replace a fused op's built-in one. The cpu backend has it but is far too slow
// here (3.1 s for the filter gradient of one 1×1 conv over a 64-image batch; single-layer steps put a
// full epoch at about half an hour). Importing @forgetless/core registers a wasm Conv2DBackpropFilter
// kernel (and the depthwise backprop kernels, and a correct MaxPoolGrad) made of forgetless's ops, so
// stock tfjs-layers trains here as it is. `--backend cpu` runs stock cpu.
//
// Batch-norm momentum is 0.9 (Keras MobileNetV2 uses 0.999, tfjs-layers' default is 0.99): with 0.99
// the moving averages still held a fifth of their initial values after two epochs (157 steps) and the
// model scored 0.19 on the test images (one class predicted for almost all).
//
//   npx turbo run build && node packages/core/examples/pretrain.mjs [outDir] [--epochs N] [--float32] [--units 10|5]
//
// Default outDir: packages/core/examples/pretrained-fashion04/.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng, useBackend } from '@forgetless/core';
import { layersModelFiles } from '@forgetless/core/node';
import { IMAGE_SHAPE, OLD_CLASSES, fashionRgb, materialize } from './fashion-rgb.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const EPOCHS = Number(flag('--epochs', 3));
const BACKEND = flag('--backend', 'wasm');
const QUANTIZE = !args.includes('--float32');
// output units: 10 (one head for all of Fashion-MNIST, trained on 0-4) or 5 (a head for the classes it knows,
// as a published model has; `forgetless finetune --head extend` grows it; the CLI's shipped example)
const UNITS = Number(flag('--units', 10));
const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--epochs', '--backend', '--units'].includes(args[i - 1])));
const OUT = positional[0] ?? join(dirname(fileURLToPath(import.meta.url)), 'pretrained-fashion04');
const BATCH = 64;
const LEARNING_RATE = 2e-3;

await useBackend(BACKEND); // on wasm: forgetless's Conv2DBackpropFilter (and others) in place

// ---------------------------------------------------------------------------------------------
// The model: Keras MobileNetV2's stem, three inverted-residual blocks and head, with its layer names
// ---------------------------------------------------------------------------------------------
let seed = 1;
const init = () => tfl.initializers.heNormal({ seed: seed++ });
const bn = (name) => tfl.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.9, name });
const relu6 = (name) => tfl.layers.reLU({ maxValue: 6, name });
const conv1x1 = (filters, name) => tfl.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: init(), name });
// Keras's correct_pad for a 3×3 kernel on an even size: ((0, 1), (0, 1))
const correctPad = [
  [0, 1],
  [0, 1],
];

function mobileNetV2Small() {
  const input = tfl.input({ shape: IMAGE_SHAPE, name: 'input_1' });
  let x = tfl.layers.zeroPadding2d({ padding: correctPad, name: 'Conv1_pad' }).apply(input);
  x = tfl.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, kernelInitializer: init(), name: 'Conv1' }).apply(x); // 14×14×16
  x = bn('bn_Conv1').apply(x);
  x = relu6('Conv1_relu').apply(x);
  // inverted residual: expand 1×1 → depthwise 3×3 → project 1×1 (linear), skip when shapes agree
  const block = (inp, id, expansion, out, stride) => {
    const p = `block_${id}_`;
    const channels = inp.shape[3];
    let h = conv1x1(channels * expansion, `${p}expand`).apply(inp);
    h = bn(`${p}expand_BN`).apply(h);
    h = relu6(`${p}expand_relu`).apply(h);
    if (stride === 2) h = tfl.layers.zeroPadding2d({ padding: correctPad, name: `${p}pad` }).apply(h);
    h = tfl.layers
      .depthwiseConv2d({ kernelSize: 3, strides: stride, padding: stride === 1 ? 'same' : 'valid', useBias: false, depthwiseInitializer: init(), name: `${p}depthwise` })
      .apply(h);
    h = bn(`${p}depthwise_BN`).apply(h);
    h = relu6(`${p}depthwise_relu`).apply(h);
    h = conv1x1(out, `${p}project`).apply(h);
    h = bn(`${p}project_BN`).apply(h);
    return stride === 1 && channels === out ? tfl.layers.add({ name: `${p}add` }).apply([inp, h]) : h;
  };
  x = block(x, 1, 3, 16, 1); // 14×14×16, residual
  x = block(x, 2, 3, 24, 2); // 7×7×24
  x = block(x, 3, 3, 24, 1); // 7×7×24, residual
  x = conv1x1(64, 'Conv_1').apply(x);
  x = bn('Conv_1_bn').apply(x);
  x = relu6('out_relu').apply(x);
  x = tfl.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }).apply(x);
  const output = tfl.layers.dense({ units: UNITS, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed++ }), name: 'predictions' }).apply(x);
  return tfl.model({ inputs: input, outputs: output, name: 'mobilenetv2_fashion' });
}

// ---------------------------------------------------------------------------------------------
// tensorflowjs_converter --quantize_uint8, per weight: affine uint8 with 0.0 exact when in range
// ---------------------------------------------------------------------------------------------
function quantizeUint8(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const codes = new Uint8Array(values.length);
  if (lo === hi) return { codes, min: lo, scale: 1 };
  const scale = (hi - lo) / 255;
  let min = lo;
  let max = hi;
  if (lo <= 0 && 0 <= hi) {
    const zeroPoint = Math.round((0 - lo) / scale);
    min = -zeroPoint * scale;
    max = 255 * scale + min;
  }
  for (let i = 0; i < values.length; i++) {
    const q = (Math.min(max, Math.max(min, values[i])) - min) / scale;
    // numpy's round: half to even
    const r = Math.round(q);
    codes[i] = Math.abs(q % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }
  return { codes, min, scale };
}

function quantizeArtifacts(artifacts) {
  const bytes = new Uint8Array(artifacts.weightData);
  const specs = [];
  const parts = [];
  let off = 0;
  for (const spec of artifacts.weightSpecs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(bytes.buffer.slice(off, off + 4 * n));
    off += 4 * n;
    const { codes, min, scale } = quantizeUint8(values);
    specs.push({ ...spec, quantization: { dtype: 'uint8', min, scale, original_dtype: 'float32' } });
    parts.push(codes);
  }
  const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { ...artifacts, weightSpecs: specs, weightData: data.buffer };
}

/** Accuracy of a tfjs-layers model on `src` (argmax over all 10 outputs). */
function accuracy(model, x, y) {
  return tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.predict(x, { batchSize: 250 }), -1), y), 'float32')).dataSync()[0]);
}

// ---------------------------------------------------------------------------------------------
const t0 = performance.now();
const data = await fashionRgb();
const train = materialize(tf, data.train(OLD_CLASSES));
const test = materialize(tf, data.test(OLD_CLASSES));
console.log(`data: embedded Fashion-MNIST, classes ${OLD_CLASSES.join(',')}: ${train.y.shape[0]} train, ${test.y.shape[0]} test, ${IMAGE_SHAPE.join('×')} (gray → RGB)`);

const model = mobileNetV2Small();
console.log(
  `model: ${model.layers.length} layers, ${model.countParams()} weights (MobileNetV2-style: ZeroPadding2D, Conv2D s2, BN, ReLU6, 3 inverted residual blocks with DepthwiseConv2D and Add, GAP, Dense softmax ${UNITS})`,
);
model.compile({ optimizer: tf.train.adam(LEARNING_RATE), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

// seeded shuffle per epoch (tfjs-layers' own shuffle uses Math.random)
const rng = new Rng(7);
const tTrain = performance.now();
for (let epoch = 0; epoch < EPOCHS; epoch++) {
  const te = performance.now();
  const order = Int32Array.from({ length: train.y.shape[0] }, (_, i) => i);
  rng.shuffle(order);
  const idx = tf.tensor1d(order, 'int32');
  const xs = tf.gather(train.x, idx);
  const ys = tf.tidy(() => tf.oneHot(tf.gather(train.y, idx), UNITS));
  const h = await model.fit(xs, ys, { epochs: 1, batchSize: BATCH, shuffle: false, verbose: 0 });
  tf.dispose([idx, xs, ys]);
  const acc = accuracy(model, test.x, test.y);
  console.log(
    `epoch ${epoch + 1}/${EPOCHS}: loss ${h.history.loss[0].toFixed(4)}, train acc ${h.history.acc[0].toFixed(3)}, test acc (classes 0-4) ${acc.toFixed(3)}  [${((performance.now() - te) / 1000).toFixed(1)} s]`,
  );
}
const floatAcc = accuracy(model, test.x, test.y);
const trainSeconds = (performance.now() - tTrain) / 1000;

// save as a published tfjs model: model.json + group1-shard1of1.bin
let artifacts;
await model.save(
  tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }),
);
const out = QUANTIZE ? quantizeArtifacts(artifacts) : artifacts;
await rm(OUT, { recursive: true, force: true });
await mkdir(OUT, { recursive: true });
const shard = 'group1-shard1of1.bin';
await writeFile(join(OUT, shard), new Uint8Array(out.weightData));
const modelJson = {
  format: 'layers-model',
  generatedBy: artifacts.generatedBy,
  convertedBy: null,
  modelTopology: out.modelTopology,
  ...(out.trainingConfig ? { trainingConfig: out.trainingConfig } : {}),
  weightsManifest: [{ paths: [shard], weights: out.weightSpecs }],
};
await writeFile(join(OUT, 'model.json'), JSON.stringify(modelJson));

// reload with stock tfjs-layers and measure the saved model
const reloaded = await tfl.loadLayersModel(layersModelFiles(OUT));
const savedAcc = accuracy(reloaded, test.x, test.y);
const bytes = new Uint8Array(out.weightData).byteLength;
console.log(`\nsaved ${OUT}/model.json + ${shard} (${bytes} bytes, ${QUANTIZE ? 'uint8-quantized' : 'float32'})`);
console.log(`test accuracy on classes 0-4: ${floatAcc.toFixed(3)} (float32 in memory), ${savedAcc.toFixed(3)} (saved file, reloaded with tf.loadLayersModel)`);
console.log(
  `backend ${tf.getBackend()}, ${EPOCHS} epochs, batch ${BATCH}, Adam ${LEARNING_RATE}, total ${((performance.now() - t0) / 1000).toFixed(1)} s (training ${trainSeconds.toFixed(1)} s)`,
);
tf.dispose([train.x, train.y, test.x, test.y]);
