// Max and average pooling's gradients on wasm by one SIMD kernel each (`pool-simd.c`), against what they replace
// (`setSimdPoolGrads(false)`, before: max pooling's composed form, ~10 tfjs kernels for each of a window's taps;
// average pooling's tfjs AvgPoolGrad kernel of δ·kh·kw/count, the same derivative), in the training steps of the
// two nets of keras-nets.mjs (96², batch 8, SGD): the ResNet-18-style net (one 3×3 stride-2 max pool after its
// stem) and the InceptionV3-style net (two 3×3 stride-2 max pools; a 3×3 stride-1 'same' average pool in each of
// its three mixed blocks). For each: the loss and every weight and moving statistic after one step from the same
// weights, before against after; the kernel calls of one step each way; then steps before and after in
// alternating order round by round with a 1024³ matMul (ROUNDS, default 15, after 5 warm-ups). NETS=resnet
// picks one. REAL=<dir>/inception_v3/model.json adds nsfwjs's pretrained InceptionV3 (uint8, 299², batch 2, as
// shipped).
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/max-pool-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { load, matmulCeiling, stepAB, stepContext, switched, timedStep, worstDiff } from './ab-lib.mjs';
import { artifactsOf, inception, resnet, stepGflop } from './keras-nets.mjs';

const { loadLayersModel } = await import('@forgetless/core/node');
const { loadLayersModelFromArtifacts, setSimdPoolGrads, trainStep, useBackend } = await import('@forgetless/core');
const rounds = Number(process.env.ROUNDS ?? 15);
await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}`);
const ceiling = matmulCeiling();

const cases = [];
for (const name of (process.env.NETS ?? 'resnet,inception').split(',')) {
  const keras = name === 'resnet' ? resnet() : inception();
  const art = await artifactsOf(keras);
  const gflop = stepGflop(keras, 8);
  keras.dispose();
  cases.push({ name: `${name}, 96², batch 8, SGD`, model: (await loadLayersModelFromArtifacts(art, name)).model, gflop, n: 8, size: 96 });
}
if (process.env.REAL)
  cases.push({ name: 'InceptionV3 (pretrained, uint8, as shipped), 299², batch 2, SGD', model: (await loadLayersModel(process.env.REAL)).model, gflop: 0, n: 2, size: 299 });

for (const c of cases) {
  const x = tf.randomUniform([c.n, c.size, c.size, 3], 0, 1, 'float32', 1);
  const y = tf.tensor1d(
    Array.from({ length: c.n }, (_, i) => i % c.model.numClasses),
    'int32',
  );
  // one step each way from the same weights: the loss, every weight and moving statistic
  const saved = c.model.getWeights({ state: true });
  const one = async (on) => {
    setSimdPoolGrads(on);
    try {
      c.model.setWeights(saved);
      const ctx = await stepContext(c.model, tf.train.sgd(0.01));
      const loss = trainStep({ x, y }, ctx, []);
      const out = { loss: loss.dataSync()[0], w: Object.fromEntries(Object.entries(c.model.getWeights({ state: true })).map(([k, v]) => [k, v.dataSync().slice()])) };
      loss.dispose();
      return out;
    } finally {
      setSimdPoolGrads(true);
    }
  };
  const [a, b] = [await one(false), await one(true)];
  const worst = worstDiff(b.w, a.w, c.name);
  c.model.setWeights(saved);
  tf.dispose(Object.values(saved));
  const ctx = await stepContext(c.model, tf.train.sgd(0.01));
  const calls = {};
  for (const on of [false, true]) {
    setSimdPoolGrads(on);
    calls[on] = (await tf.profile(() => trainStep({ x, y }, ctx, []).dispose())).kernels.length;
  }
  setSimdPoolGrads(true);
  console.log(
    `${c.name}: loss ${a.loss} before, ${b.loss} after; weights and moving statistics after a step differ by ≤ ${worst} (relative to the largest |value|, or 1); kernel calls per step ${calls.false} → ${calls.true}`,
  );
  const step = switched(setSimdPoolGrads, () => timedStep(c.name, ctx, x, y));
  await stepAB({
    name: c.name,
    gflop: c.gflop,
    step,
    rounds: c.n === 2 ? Math.min(rounds, 5) : rounds,
    warm: c.n === 2 ? 1 : 5,
    ceiling,
    before: 'before (composed max pool; tfjs AvgPoolGrad)',
    after: 'after (SIMD kernels)',
  });
  tf.dispose([x, y]);
  c.model.dispose();
}
console.log(`load average at end ${load()}`);
