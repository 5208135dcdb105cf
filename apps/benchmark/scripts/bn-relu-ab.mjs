// Batch norm + plain ReLU as one kernel each way on wasm, and batch norms without γ or β (Keras's scale or
// center false) on the SIMD training kernels: InceptionV3's and ResNet's units, against the same nets with
// that off (`setBatchNormReluFusion(false)`, before: the ReLU as tfjs's Relu and its Step/Multiply gradient,
// the scale-less batch norms on tfjs ops). Nets built with stock tfjs-layers under Keras's layer kinds and
// imported (96², batch 8, 10 classes, SGD):
//   - resnet: a ResNet-18-style net (7×7 stride-2 stem, 3×3 max pool, basic blocks of two 3×3 convs, 1×1
//     stride-2 projections, widths 32-64-128-256), Conv2D → BatchNormalization → ReLU throughout;
//   - inception: InceptionV3-style `conv2d_bn` units (Conv2D without bias → BatchNormalization(scale:
//     false) → Activation('relu')): a stem, then mixed blocks of 1×1, 1×1→3×3, 1×1→3×3→3×3 and pool→1×1
//     branches, concatenated;
//   - mobilenet-relu: Keras's MobileNetV2 (α 0.35) with ReLU in place of ReLU6.
// For each: the loss and every weight and moving statistic after one step from the same weights, before
// against after (max relative difference); the kernel calls of one step each way; then steps before and
// after in alternating order round by round with a 1024³ matMul (ROUNDS, default 15, after 5 warm-ups).
// NETS=resnet,inception picks nets. REAL=<dir>/inception_v3/model.json adds a real pretrained
// InceptionV3 (nsfwjs's, uint8, 299², batch 2; scripts/fetch-real-models.sh) as it ships: 167 of its
// layers frozen (their batch norms in inference mode), its own 5-class head.
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/bn-relu-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { load, matmulCeiling, stepAB, stepContext, switched, timedStep, worstDiff } from './ab-lib.mjs';
import { artifactsOf, inception, resnet, stepGflop } from './keras-nets.mjs';

const { loadLayersModel } = await import('@forgetless/core/node');
const { loadLayersModelFromArtifacts, setBatchNormReluFusion, trainStep, useBackend } = await import('@forgetless/core');
const { mobileNetV2, saveToMemory } = await import('../dist/models/mobilenet-v2.js');
const rounds = Number(process.env.ROUNDS ?? 15);
await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}`);
const ceiling = matmulCeiling();

async function mobilenetRelu() {
  const keras = mobileNetV2({ alpha: 0.35, size: 96, blocks: 16, classes: 10, seed: 1 });
  const art = await saveToMemory(keras);
  keras.dispose();
  // every ReLU(max_value=6) made a plain ReLU
  return { ...art, modelTopology: JSON.parse(JSON.stringify(art.modelTopology).replace(/"max_value":6(\.0)?/g, '"max_value":null')) };
}

/** forgetless's import of the artifacts with the switch off (before) and on (after), from the same weights. */
async function pair(load) {
  const out = {};
  for (const on of [false, true]) {
    setBatchNormReluFusion(on);
    out[on] = (await load()).model;
  }
  setBatchNormReluFusion(true);
  return out;
}

const nets = (process.env.NETS ?? 'resnet,inception,mobilenet-relu').split(',');
const cases = [];
for (const name of nets) {
  const keras = name === 'resnet' ? resnet() : name === 'inception' ? inception() : undefined;
  const art = keras ? await artifactsOf(keras) : await mobilenetRelu();
  const gflop = keras ? stepGflop(keras, 8) : 0.496;
  keras?.dispose();
  const loadIt = () => loadLayersModelFromArtifacts(art, name);
  cases.push({ name: `${name}, 96², batch 8, SGD`, models: await pair(loadIt), load: loadIt, gflop, n: 8, size: 96 });
}
if (process.env.REAL) {
  const real = await pair(() => loadLayersModel(process.env.REAL));
  cases.push({ name: 'InceptionV3 (pretrained, uint8, as shipped: 167 layers frozen), 299², batch 2, SGD', models: real, gflop: 0, n: 2, size: 299 });
}

for (const c of cases) {
  const x = tf.randomUniform([c.n, c.size, c.size, 3], 0, 1, 'float32', 1);
  const y = tf.tensor1d(
    Array.from({ length: c.n }, (_, i) => i % c.models[true].numClasses),
    'int32',
  );
  // one step of each from the same weights: the loss, every weight and moving statistic
  const one = async (on) => {
    setBatchNormReluFusion(on);
    try {
      const m = c.models[on];
      const ctx = await stepContext(m, tf.train.sgd(0.01));
      const loss = trainStep({ x, y }, ctx, []);
      const out = { loss: loss.dataSync()[0], w: Object.fromEntries(Object.entries(m.getWeights({ state: true })).map(([k, v]) => [k, v.dataSync().slice()])) };
      loss.dispose();
      return out;
    } finally {
      setBatchNormReluFusion(true);
    }
  };
  const saved = c.models[true].getWeights({ state: true });
  c.models[false].setWeights(saved);
  const [a, b] = [await one(false), await one(true)];
  // the largest difference over the weights and moving statistics after the step, relative to the reference's largest |value| (or to 1, where
  // that is below 1: a β whose gradient cancels to ~0 moves by rounding alone), and where
  const compare = (p, q) => worstDiff(p.w, q.w, c.name);
  let cpuNote = '';
  if (process.env.CPU_CHECK && c.n === 8) {
    // the same step on cpu under tfjs's stock gradients (tfjs's own Relu, batch norm and conv gradients), from the same weights
    const { withGradientMode } = await import('@forgetless/core');
    const weights = Object.fromEntries(Object.entries(saved).map(([k, v]) => [k, { v: v.dataSync().slice(), s: v.shape }]));
    const [xv, yv] = [x.dataSync().slice(), y.dataSync().slice()];
    await useBackend('cpu');
    const m = c.models.cpu ?? (await c.load()).model;
    m.setWeights(Object.fromEntries(Object.entries(weights).map(([k, w]) => [k, tf.tensor(w.v, w.s)])));
    const ctx = await stepContext(m, tf.train.sgd(0.01));
    const [xc, yc] = [tf.tensor(xv, x.shape), tf.tensor1d(yv, 'int32')];
    const loss = withGradientMode('stock', () => trainStep({ x: xc, y: yc }, ctx, []));
    const ref = { loss: loss.dataSync()[0], w: Object.fromEntries(Object.entries(m.getWeights({ state: true })).map(([k, v]) => [k, v.dataSync().slice()])) };
    tf.dispose([loss, xc, yc]);
    m.dispose();
    await useBackend('wasm');
    cpuNote = `; against cpu with tfjs's stock gradients (loss ${ref.loss}): before ${compare(a, ref)}, after ${compare(b, ref)}`;
  }
  const worst = compare(b, a);
  tf.dispose(Object.values(saved));
  const ctxs = { false: await stepContext(c.models[false], tf.train.sgd(0.01)), true: await stepContext(c.models[true], tf.train.sgd(0.01)) };
  const calls = {};
  for (const on of [false, true]) {
    setBatchNormReluFusion(on);
    const p = await tf.profile(() => trainStep({ x, y }, ctxs[on], []).dispose());
    calls[on] = `${p.kernels.length} (Relu ${p.kernels.filter((k) => k.name === 'Relu').length})`;
  }
  setBatchNormReluFusion(true);
  console.log(
    `${c.name}: loss ${a.loss} before, ${b.loss} after; weights and moving statistics after a step differ by ≤ ${worst}${cpuNote}; kernel calls per step ${calls.false} → ${calls.true}`,
  );
  const step = switched(setBatchNormReluFusion, (on) => timedStep(c.name, ctxs[on], x, y));
  await stepAB({
    name: c.name,
    gflop: c.gflop,
    step,
    rounds: c.n === 2 ? Math.min(rounds, 5) : rounds,
    warm: c.n === 2 ? 1 : 5,
    ceiling,
    before: 'before (ReLU apart; no-γ batch norms on tfjs ops)',
    after: 'after (in the batch norm kernels)',
  });
  tf.dispose([x, y]);
  c.models[false].dispose();
  c.models[true].dispose();
}
console.log(`load average at end ${load()}`);
