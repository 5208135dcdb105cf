// forgetless's kernels on tfjs-wasm's threaded build with 2 threads against the same kernels on 1
// (`setKernelThreads(1)`), alternating round by round in one process (XNNPACK's own ops run on 2 threads
// in both). Ops first (each op's median ms over ROUNDS alternating calls after 10 warm-ups, inputs as a
// step leaves them: fresh outputs each call), then SGD training steps (96², batch 8, 10 classes) of
// Keras MobileNetV2 α 0.35 and α 1.0 and of the ResNet-18- and InceptionV3-style nets of keras-nets.mjs,
// built with stock tfjs-layers and imported; REAL=<dir>/inception_v3/model.json adds nsfwjs's pretrained
// InceptionV3 as it ships (299², batch 2). Before the timings, each net's loss and weights after one step
// from the same weights on 1 and on 2 threads. Then the fast per-example empirical Fisher and MAS of MobileNetV2
// α 0.35 over 64 examples (NO_IMPORTANCES=1: not). Prints the load average at the start and the end.
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/kernel-threads-ab.mjs            ROUNDS (default 15), NETS=mobilenet-0.35,mobilenet-1,resnet,inception
import * as tf from '@tensorflow/tfjs-core';
import { load, mobileNetV2Step, ms, stats, stepContext, timedStep, worstDiff } from './ab-lib.mjs';
import { artifactsOf, inception, resnet, stepGflop } from './keras-nets.mjs';

const { loadLayersModel } = await import('@forgetless/core/node');
const { kernelThreadsStatus, loadLayersModelFromArtifacts, setKernelThreads, trainStep, useBackend } = await import('@forgetless/core');
const rounds = Number(process.env.ROUNDS ?? 15);
await useBackend('wasm', { threads: 2 });
const status = kernelThreadsStatus();
if (status.threads !== 2) throw new Error(`kernel threads did not start: ${JSON.stringify(status)}`);
console.log(`load average at start ${load()}, ${new Date().toISOString()}; kernel threads ${JSON.stringify(status)}`);
const on = (k) => setKernelThreads(k === 2 ? 'auto' : 1);

/** Median (min–max) ms of `run` on 1 and on 2 kernel threads, alternating; the kernel calls split per run on 2. */
function opAB(name, gflop, run) {
  const t = { 1: [], 2: [] };
  for (let i = 0; i < 10; i++)
    for (const k of [1, 2]) {
      on(k);
      tf.dispose(run());
    }
  let jobs = 0;
  for (let r = 0; r < rounds * 2; r++)
    for (const k of r % 2 ? [2, 1] : [1, 2]) {
      on(k);
      const j0 = kernelThreadsStatus().jobs;
      const t0 = performance.now();
      const y = run();
      t[k].push(performance.now() - t0);
      if (k === 2) jobs = kernelThreadsStatus().jobs - j0;
      tf.dispose(y);
    }
  const [a, b] = [stats(t[1]), stats(t[2])];
  const gf = (s) => (gflop ? `, ${(gflop / (s.med / 1e3)).toFixed(1)} GFLOP/s` : '');
  console.log(`${name}: 1 thread ${ms(a)}${gf(a)} | 2 threads ${ms(b)}${gf(b)}, ${jobs} split call(s) | 2/1 ${(b.med / a.med).toFixed(3)}`);
}
const r = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const sq = (t) => tf.sum(tf.square(t));
{
  const x = r([8, 48, 48, 16], 1);
  const w = r([1, 1, 16, 96], 2);
  const z = r([8, 48, 48, 96], 3);
  const dw = r([3, 3, 96, 1], 4);
  const x3 = r([8, 24, 24, 64], 5);
  const w3 = r([3, 3, 64, 64], 6);
  const mac = (n) => (2 * n) / 1e9;
  opAB('1×1 conv forward 16→96 at 48², batch 8', mac(8 * 48 * 48 * 16 * 96), () => tf.conv2d(x, w, 1, 'same'));
  opAB('1×1 conv ∂W 16→96 at 48², batch 8 (with its forward and the loss)', mac(2 * 8 * 48 * 48 * 16 * 96), () => tf.grad((f) => sq(tf.conv2d(x, f, 1, 'same')))(w));
  opAB('depthwise 3×3 forward, 96 at 48², batch 8', mac(8 * 48 * 48 * 96 * 9), () => tf.depthwiseConv2d(z, dw, 1, 'same'));
  opAB('depthwise 3×3 stride 2 forward, 96 at 48², batch 8', mac(8 * 24 * 24 * 96 * 9), () => tf.depthwiseConv2d(z, dw, 2, 'same'));
  opAB('depthwise 3×3 stride 2 ∂x, 96 at 48² (with its forward and the loss)', mac(2 * 8 * 24 * 24 * 96 * 9), () => tf.grad((a) => sq(tf.depthwiseConv2d(a, dw, 2, 'same')))(z));
  opAB('conv 3×3 64→64 at 24², ∂x (with its forward and the loss)', mac(2 * 8 * 24 * 24 * 64 * 64 * 9), () => tf.grad((a) => sq(tf.conv2d(a, w3, 1, 'same')))(x3));
  opAB('conv 3×3 64→64 at 24², ∂W (with its forward and the loss)', mac(2 * 8 * 24 * 24 * 64 * 64 * 9), () => tf.grad((f) => sq(tf.conv2d(x3, f, 1, 'same')))(w3));
  tf.dispose([x, w, z, dw, x3, w3]);
}

const cases = [];
for (const name of (process.env.NETS ?? 'mobilenet-0.35,mobilenet-1,resnet,inception').split(',')) {
  if (name.startsWith('mobilenet')) {
    const alpha = Number(name.split('-')[1]);
    cases.push({ name: `Keras MobileNetV2 α ${alpha}, 96², batch 8, SGD`, load: () => mobileNetV2Step(alpha), gflop: alpha === 1 ? 2.61 : 0.496, n: 8, size: 96 });
  } else {
    const keras = name === 'resnet' ? resnet() : inception();
    const art = await artifactsOf(keras);
    const gflop = stepGflop(keras, 8);
    keras.dispose();
    cases.push({
      name: `${name === 'resnet' ? 'ResNet-18' : 'InceptionV3'}-style, 96², batch 8, SGD`,
      load: async () => (await loadLayersModelFromArtifacts(art, name)).model,
      gflop,
      n: 8,
      size: 96,
    });
  }
}
if (process.env.REAL)
  cases.push({
    name: 'InceptionV3 (pretrained, uint8, as shipped), 299², batch 2, SGD',
    load: async () => (await loadLayersModel(process.env.REAL)).model,
    gflop: 0,
    n: 2,
    size: 299,
  });

for (const c of cases) {
  const x = tf.randomUniform([c.n, c.size, c.size, 3], 0, 1, 'float32', 1);
  const models = { 1: await c.load(), 2: await c.load() };
  const y = tf.tensor1d(
    Array.from({ length: c.n }, (_, i) => i % models[1].numClasses),
    'int32',
  );
  models[2].setWeights(models[1].getWeights({ state: true }));
  const ctxs = { 1: await stepContext(models[1], tf.train.sgd(0.01)), 2: await stepContext(models[2], tf.train.sgd(0.01)) };
  const after = {};
  for (const k of [1, 2]) {
    on(k);
    const loss = trainStep({ x, y }, ctxs[k], []);
    after[k] = { loss: loss.dataSync()[0], w: Object.fromEntries(Object.entries(models[k].getWeights({ state: true })).map(([n, v]) => [n, v.dataSync().slice()])) };
    loss.dispose();
  }
  console.log(
    `${c.name}: loss ${after[1].loss} on 1 thread, ${after[2].loss} on 2; weights and moving statistics after a step differ by ≤ ${worstDiff(after[2].w, after[1].w, c.name)}`,
  );
  const warm = c.n === 2 ? 1 : 5;
  for (let i = 0; i < warm; i++)
    for (const k of [1, 2]) {
      on(k);
      await timedStep(c.name, ctxs[k], x, y);
    }
  const t = { 1: [], 2: [] };
  const n = c.n === 2 ? Math.min(rounds, 5) : rounds;
  for (let i = 0; i < n; i++)
    for (const k of i % 2 ? [2, 1] : [1, 2]) {
      on(k);
      t[k].push(await timedStep(c.name, ctxs[k], x, y));
    }
  const [a, b] = [stats(t[1]), stats(t[2])];
  const gf = (s) => (c.gflop ? `, ${(c.gflop / (s.med / 1e3)).toFixed(1)} GFLOP/s` : '');
  console.log(`${c.name}: 1 thread ${ms(a)}${gf(a)} | 2 threads ${ms(b)}${gf(b)} | 2/1 ${(b.med / a.med).toFixed(3)}`);
  tf.dispose([x, y]);
  models[1].dispose();
  models[2].dispose();
}
// the fast per-example importances (empirical Fisher, MAS) of MobileNetV2 α 0.35 over 64 examples in one batch
if (!process.env.NO_IMPORTANCES) {
  const { fisherDiagonal, mas } = await import('@forgetless/importances');
  const { disposeParams } = await import('@forgetless/core');
  const { randomImages } = await import('../dist/data.js');
  const model = await mobileNetV2Step(0.35);
  const source = randomImages(64, [96, 96, 3], 7);
  const values = {};
  for (const [name, f] of Object.entries({
    'fast empirical Fisher (FIS)': () => fisherDiagonal(model, source, { batchSize: 64, path: 'fast' }),
    'fast MAS': () => mas(model, source, { batchSize: 64, path: 'fast' }),
  })) {
    const run = async (k) => {
      on(k);
      const before = tf.memory().numTensors;
      const t0 = performance.now();
      const imp = await f();
      await Object.values(imp)[0].data();
      const t = performance.now() - t0;
      values[k] = Object.fromEntries(Object.entries(imp).map(([n, v]) => [n, v.dataSync().slice()]));
      disposeParams(imp);
      if (tf.memory().numTensors !== before) throw new Error(`${name}: ${tf.memory().numTensors - before} tensors left behind`);
      return t;
    };
    for (const k of [1, 2]) await run(k);
    let worst = 0;
    for (const n of Object.keys(values[1])) {
      let d = 0;
      let m = 0;
      for (let i = 0; i < values[1][n].length; i++) {
        d = Math.max(d, Math.abs(values[1][n][i] - values[2][n][i]));
        m = Math.max(m, Math.abs(values[1][n][i]));
      }
      if (!values[2][n].every(Number.isFinite)) throw new Error(`${name}: ${n} not finite`);
      worst = Math.max(worst, m > 0 ? d / m : d);
    }
    const t = { 1: [], 2: [] };
    const n = Math.min(rounds, 7);
    for (let i = 0; i < n; i++) for (const k of i % 2 ? [2, 1] : [1, 2]) t[k].push(await run(k));
    const [a, b] = [stats(t[1]), stats(t[2])];
    console.log(
      `${name}, MobileNetV2 α 0.35, 64 examples of 96² in one batch: 1 thread ${ms(a)} | 2 threads ${ms(b)} | 2/1 ${(b.med / a.med).toFixed(3)}; largest difference relative to the parameter's largest value ${worst.toExponential(2)}`,
    );
  }
  model.dispose();
}
setKernelThreads('auto');
console.log(`load average at end ${load()}`);
process.exit(0);
