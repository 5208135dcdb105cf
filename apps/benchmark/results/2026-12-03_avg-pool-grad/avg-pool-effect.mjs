// How far tfjs's own AvgPool gradient (its AvgPoolGrad kernel: δ/(kh·kw) everywhere) is from the derivative of
// its forward (δ/count, the taps inside the image; forgetless's since 2026-12-03) in whole nets: the gradient of
// the softmax cross-entropy over one batch, every trainable weight, with forgetless's AvgPool gradient and with
// tfjs's registered in its place, on wasm. Nets: the InceptionV3-style net of scripts/keras-nets.mjs (96², batch 8,
// three mixed blocks whose pool branches are 3×3 stride-1 'same' average pools at 10×10) and, with REAL, nsfwjs's
// pretrained InceptionV3 (uint8, 299², batch 2; its layers unfrozen for this).
// From apps/benchmark: node results/2026-12-03_avg-pool-grad/avg-pool-effect.mjs [REAL=<dir>/inception_v3/model.json]
import * as tf from '@tensorflow/tfjs-core';
import { artifactsOf, inception } from '../../scripts/keras-nets.mjs';

const { ensureOwnGradients, loadLayersModelFromArtifacts, useBackend } = await import('@forgetless/core');
const { loadLayersModel } = await import('@forgetless/core/node');
await useBackend('wasm');
const ours = tf.getGradient('AvgPool');
// tfjs's own gradient of AvgPool: its AvgPoolGrad kernel on the saved input
const tfjs = {
  kernelName: 'AvgPool',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => ({ x: () => tf.engine().runKernel('AvgPoolGrad', { dy, input: saved[0] }, attrs) }),
};

async function compare(name, model, n, size) {
  const x = tf.randomUniform([n, size, size, 3], 0, 1, 'float32', 3);
  const labels = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % model.numClasses),
      'int32',
    ),
    model.numClasses,
  );
  const vars = Object.values(model.params);
  const named = Object.fromEntries(Object.entries(model.params).map(([k, v]) => [v.name, k]));
  const grads = () =>
    tf.tidy(() => {
      const { grads: g } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.logits(x, { training: false })), vars);
      return Object.fromEntries(Object.entries(g).map(([k, v]) => [named[k] ?? k, v.dataSync().slice()]));
    });
  const a = grads();
  tf.registerGradient(tfjs);
  const b = grads();
  tf.registerGradient(ours);
  ensureOwnGradients();
  const rows = Object.keys(a).map((k) => {
    let num = 0;
    let den = 0;
    for (let i = 0; i < a[k].length; i++) {
      num = Math.max(num, Math.abs(a[k][i] - b[k][i]));
      den = Math.max(den, Math.abs(a[k][i]));
    }
    return [num / (den || 1), k];
  });
  rows.sort((p, q) => q[0] - p[0]);
  const off = rows.filter(([r]) => r > 1e-3).length;
  console.log(`${name}: ${rows.length} gradients; ${off} differ by more than 1e-3 (‖ours − tfjs's‖∞ / ‖ours‖∞), the largest:`);
  for (const [r, k] of rows.slice(0, 6)) console.log(`  ${r.toExponential(2)}  ${k}`);
  tf.dispose([x, labels]);
}

const keras = inception();
const { model } = await loadLayersModelFromArtifacts(await artifactsOf(keras), 'inception');
keras.dispose();
await compare('InceptionV3-style, 96², batch 8', model, 8, 96);
model.dispose();
if (process.env.REAL) {
  const real = (await loadLayersModel(process.env.REAL)).model;
  real.setTrainable(real.frozen, true);
  await compare("nsfwjs's InceptionV3 (pretrained, uint8, every layer trainable), 299², batch 2", real, 2, 299);
  real.dispose();
}
