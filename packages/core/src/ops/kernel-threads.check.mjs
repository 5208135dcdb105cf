// Run by kernel-threads.test.ts in a fresh Node process (threads are chosen before wasm first
// initialises): forgetless's kernels on tfjs-wasm's threaded build with 2 threads against the same
// kernels on 1 (`setKernelThreads(1)`), in one process, from the built package (dist). Prints one
// JSON line: for each op, the largest difference relative to the largest |value| and how many kernel
// calls went to the threads; then the same for training steps of a MobileNetV2-style and an
// InceptionV3-style net built with stock tfjs-layers and imported (loss, every weight and moving
// statistic after 2 SGD steps from the same weights, relative to max(max |value|, 1)), and the tensors each left behind.
//   node src/ops/kernel-threads.check.mjs <path of dist/index.js>
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

const core = await import(process.argv[2]);
await core.useBackend('wasm', { threads: 2 });
const status = core.kernelThreadsStatus();

/** max |a − b| over max(max |a|, floor): floor 0 for the ops; 1 for weights (a β whose gradient is 0 in exact arithmetic, as before a later batch norm, moves by rounding alone). */
const rel = (a, b, floor = 0) => {
  let d = 0;
  let m = floor;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return a.length === b.length && a.every(Number.isFinite) && b.every(Number.isFinite) ? d / (m || 1) : Number.POSITIVE_INFINITY;
};
/** f's values on 1 thread and on 2, their difference, and the calls split over the threads on 2. */
function both(f, reduction = false) {
  const run = () => {
    const out = tf.tidy(() => [f()].flat().map((t) => tf.reshape(t, [-1])));
    const v = tf.tidy(() => tf.concat(out)).dataSync();
    tf.dispose(out);
    return v;
  };
  core.setKernelThreads(1);
  const j0 = core.kernelThreadsStatus().jobs;
  const a = run();
  const j1 = core.kernelThreadsStatus().jobs;
  core.setKernelThreads('auto');
  const b = run();
  return { rel: rel(a, b), jobs: core.kernelThreadsStatus().jobs - j1, jobsOnOne: j1 - j0, reduction };
}
const r = (shape, seed) => tf.randomNormal(shape, 0, 1, 'float32', seed);
const x = r([8, 48, 48, 32], 1);
const w1 = r([1, 1, 32, 96], 2);
const dw = r([3, 3, 32, 1], 3);
const w3 = r([3, 3, 32, 48], 4);
const img = r([8, 96, 96, 3], 5);
const ws = r([3, 3, 3, 16], 6);
const sq = (t) => tf.sum(tf.square(t));
const ops = {
  'conv 1×1 forward': () => tf.conv2d(x, w1, 1, 'same'),
  'conv 1×1 ∂x': () => tf.grad((a) => sq(tf.conv2d(a, w1, 1, 'same')))(x),
  'conv 1×1 ∂W': () => tf.grad((f) => sq(tf.conv2d(x, f, 1, 'same')))(w1),
  'depthwise forward': () => tf.depthwiseConv2d(x, dw, 1, 'same'),
  'depthwise stride 2 forward': () => tf.depthwiseConv2d(x, dw, 2, 'same'),
  'depthwise ∂x': () => tf.grad((a) => sq(tf.depthwiseConv2d(a, dw, 1, 'same')))(x),
  'depthwise stride 2 ∂x': () => tf.grad((a) => sq(tf.depthwiseConv2d(a, dw, 2, 'same')))(x),
  'depthwise ∂W': () => tf.grad((f) => sq(tf.depthwiseConv2d(x, f, 2, 'same')))(dw),
  'conv 3×3 on 3 channels forward': () => tf.conv2d(img, ws, 2, 'same'),
  'conv 3×3 ∂x': () => tf.grad((a) => sq(tf.conv2d(a, w3, 1, 'same')))(x),
  'conv 3×3 ∂W': () => tf.grad((f) => sq(tf.conv2d(x, f, 2, 'same')))(w3),
};
// batch norm in inference mode (frozen layers, the importances' forward) and the per-example sums of the importances
const norm = await import(new URL('./ops/norm-simd.js', new URL(process.argv[2], 'file:')).href);
const [g, be, mm, mv] = [tf.randomUniform([32], 0.5, 1.5, 'float32', 7), r([32], 8), r([32], 9), tf.randomUniform([32], 0.5, 2, 'float32', 10)];
const wts = tf.randomUniform([8], 0, 1, 'float32', 11);
const infer = (a, gg, bb, sums) => norm.simdBatchNormInfer(a, gg, bb, mm, mv, 1e-3, 6, sums);
const withSums = () => {
  let got;
  const grads = tf.grads((a, gg, bb) => sq(infer(a, gg, bb, { stats: ['square', 'abs'], weights: wts, deliver: (d) => (got = d) })))([x, g, be]);
  return [grads[0], got.square, got.abs];
};
const dy1 = r([8, 48, 48, 96], 12);
const dy3 = r([8, 24, 24, 48], 13);
const reductions = {
  'conv 1×1 ∂W': ops['conv 1×1 ∂W'],
  'depthwise ∂W': ops['depthwise ∂W'],
  'conv 3×3 ∂W': ops['conv 3×3 ∂W'],
  'batch norm inference ∂γ, ∂β': () => tf.grads((gg, bb) => sq(infer(x, gg, bb)))([g, be]),
  'batch norm inference per-example Σ w·g² and Σ |g| (with ∂x)': withSums,
  'depthwise per-example Σ g²': () => core.depthwisePerExampleSum(x, tf.depthwiseConv2d(x, dw, 2, 'same'), [3, 3, 32, 1], 2, 'same', 1, 'square'),
  'conv 1×1 per-example Σ |g|': () => core.convPerExampleSum(x, dy1, [1, 1, 32, 96], 1, 'same', 1, 'abs'),
  'conv 3×3 per-example Σ g²': () => core.convPerExampleSum(x, dy3, [3, 3, 32, 48], 2, 'same', 1, 'square'),
};
for (const k of Object.keys(reductions)) delete ops[k];
ops['batch norm inference forward'] = () => infer(x, g, be);
ops['batch norm inference ∂x'] = () => tf.grad((a) => sq(infer(a, g, be)))(x);
const opResults = {
  ...Object.fromEntries(Object.entries(ops).map(([k, f]) => [k, both(f)])),
  ...Object.fromEntries(Object.entries(reductions).map(([k, f]) => [k, both(f, true)])),
};

// nets: stock tfjs-layers graphs, imported; 2 SGD steps from the same weights on 1 and on 2 threads
const bn = () => tfl.layers.batchNormalization({ epsilon: 1e-3, momentum: 0.9 });
const relu6 = () => tfl.layers.reLU({ maxValue: 6 });
let seed = 1;
const init = () => ({ kernelInitializer: tfl.initializers.heNormal({ seed: seed++ }), useBias: false });
function mobilenet() {
  const input = tfl.input({ shape: [96, 96, 3] });
  let h = relu6().apply(bn().apply(tfl.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', ...init() }).apply(input)));
  for (const [expand, out, stride] of [
    [48, 16, 1],
    [48, 24, 2],
    [96, 24, 1],
  ]) {
    let b = relu6().apply(bn().apply(tfl.layers.conv2d({ filters: expand, kernelSize: 1, ...init() }).apply(h)));
    if (stride === 2)
      b = tfl.layers
        .zeroPadding2d({
          padding: [
            [0, 1],
            [0, 1],
          ],
        })
        .apply(b);
    b = relu6().apply(
      bn().apply(
        tfl.layers
          .depthwiseConv2d({
            kernelSize: 3,
            strides: stride,
            padding: stride === 2 ? 'valid' : 'same',
            depthwiseInitializer: tfl.initializers.heNormal({ seed: seed++ }),
            useBias: false,
          })
          .apply(b),
      ),
    );
    b = bn().apply(tfl.layers.conv2d({ filters: out, kernelSize: 1, ...init() }).apply(b));
    h = stride === 1 && h.shape[3] === out ? tfl.layers.add().apply([h, b]) : b;
  }
  const out = tfl.layers
    .dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed++ }) })
    .apply(tfl.layers.globalAveragePooling2d({}).apply(h));
  return tfl.model({ inputs: input, outputs: out });
}
function inception() {
  const convBn = (t, f, k, s = 1, padding = 'same') =>
    tfl.layers
      .activation({ activation: 'relu' })
      .apply(tfl.layers.batchNormalization({ scale: false }).apply(tfl.layers.conv2d({ filters: f, kernelSize: k, strides: s, padding, ...init() }).apply(t)));
  const input = tfl.input({ shape: [96, 96, 3] });
  let h = convBn(convBn(input, 16, 3, 2, 'valid'), 32, 3);
  h = tfl.layers.maxPooling2d({ poolSize: 3, strides: 2 }).apply(h);
  const b1 = convBn(h, 16, 1);
  const b3 = convBn(convBn(h, 16, 1), 24, 3);
  const bp = convBn(tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }).apply(h), 16, 1);
  h = tfl.layers.concatenate({}).apply([b1, b3, bp]);
  const out = tfl.layers
    .dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed++ }) })
    .apply(tfl.layers.globalAveragePooling2d({}).apply(h));
  return tfl.model({ inputs: input, outputs: out });
}
async function artifactsOf(keras) {
  let art;
  await keras.save(
    tf.io.withSaveHandler(async (a) => {
      art = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return art;
}
const values = (m) => {
  const out = {};
  for (const [k, v] of Object.entries({ ...m.params, ...m.state })) out[k] = v.dataSync();
  return out;
};
async function steps(art, threads) {
  core.setKernelThreads(threads);
  const { model } = await core.loadLayersModelFromArtifacts(art, 'net');
  const task = { name: 't', classes: undefined };
  const ctx = { model, optimizer: tf.train.sgd(0.05), tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new core.Rng(0) };
  const xs = tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 7);
  const ys = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
  const before = tf.memory().numTensors;
  const j0 = core.kernelThreadsStatus().jobs;
  const losses = [];
  for (let i = 0; i < 2; i++) {
    const l = core.trainStep({ x: xs, y: ys }, ctx, []);
    losses.push(l.dataSync()[0]);
    l.dispose();
  }
  const leaked = tf.memory().numTensors - before;
  const jobs = core.kernelThreadsStatus().jobs - j0;
  tf.dispose([xs, ys]);
  return { losses, weights: values(model), leaked, jobs };
}
const netResults = {};
for (const [name, build] of Object.entries({ mobilenet, inception })) {
  const keras = build();
  const art = await artifactsOf(keras);
  keras.dispose();
  const one = await steps(art, 1);
  const two = await steps(art, 'auto');
  let worst = 0;
  for (const k of Object.keys(one.weights)) {
    const d = rel(one.weights[k], two.weights[k], 1);
    if (process.env.DEBUG && d > 1e-5) console.log(name, k, d);
    worst = Math.max(worst, d);
  }
  netResults[name] = { loss: rel(one.losses, two.losses), weights: worst, leaked: [one.leaked, two.leaked], jobs: two.jobs, jobsOnOne: one.jobs, losses: two.losses };
}
console.log(JSON.stringify({ status, ops: opResults, nets: netResults }));
process.exit(0);
