// Scratch A/B kept with its figures (pw-bn-step-ab.txt): scripts/conv-bn-ab.mjs with setPointwiseBatchNormKernels
// (pw-bn-and-relaxed.diff) in place of setConvBatchNormFusion. Its labels 'before (conv and batch norm apart)' and
// 'after (one op)' are conv-bn-ab's: here before = the 1×1 kernels and batch norm kernels one after the other, after = pw_bn_*.
// Run from apps/benchmark/scripts/ (it imports ./ab-lib.mjs) on a build with the diff applied.
// Conv + batch norm (+ ReLU6) pairs as one op each way on wasm (`ops/conv-bn.ts`), against the same
// pairs run as separate ops (`setPointwiseBatchNormKernels(false)`, before): first the values, the loss, every
// parameter's gradient and the moving statistics after one SGD step from the same weights, compared bit
// for bit; then whole SGD steps of MobileNetV2 (α 0.35 and 1, 96², batch 8), before and after in
// alternating order round by round with a 1024³ matMul (ROUNDS, default 15, after 5 warm-ups of each),
// with the kernel calls of one step each way (tf.profile entries) and the load average at start and end
// (benchmark README, "Conv + batch norm as one op"). ALPHAS=0.35 runs one width.
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/conv-bn-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { load, matmulCeiling, mobileNetV2Step, stepAB, stepContext, timedStep } from './ab-lib.mjs';

const { setPointwiseBatchNormKernels, trainStep, useBackend } = await import('@forgetless/core');
const rounds = Number(process.env.ROUNDS ?? 15);
await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}`);
const ceiling = matmulCeiling();
const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
const x = tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1);

/** One step's loss, gradients, updated weights and moving statistics with the fusion on or off, from the same weights. */
async function oneStep(model, fused) {
  const saved = model.getWeights({ state: true });
  setPointwiseBatchNormKernels(fused);
  try {
    const ctx = await stepContext(model, tf.train.sgd(0.01));
    const loss = trainStep({ x, y }, ctx, []);
    const out = { loss: loss.dataSync()[0], weights: Object.fromEntries(Object.entries(model.getWeights({ state: true })).map(([k, v]) => [k, v.dataSync().slice()])) };
    loss.dispose();
    return out;
  } finally {
    setPointwiseBatchNormKernels(true);
    model.setWeights(saved);
    tf.dispose(Object.values(saved));
  }
}

// GFLOP of one step as the conv-speed rows count them
const GFLOP = { 0.35: 0.496, 1: 2.61 };
for (const alpha of (process.env.ALPHAS ?? '0.35,1').split(',').map(Number)) {
  const gflop = GFLOP[alpha];
  const model = await mobileNetV2Step(alpha);
  const [a, b] = [await oneStep(model, false), await oneStep(model, true)];
  const names = Object.keys(a.weights);
  const differ = names.filter((k) => a.weights[k].some((v, i) => !Object.is(v, b.weights[k][i])));
  if (a.loss !== b.loss || differ.length) throw new Error(`α ${alpha}: fused and separate differ: loss ${a.loss} vs ${b.loss}; ${differ.length} tensors (${differ.slice(0, 3)})`);
  const ctx = await stepContext(model, tf.train.sgd(0.01));
  const calls = {};
  for (const on of [false, true]) {
    setPointwiseBatchNormKernels(on);
    calls[on] = (await tf.profile(() => trainStep({ x, y }, ctx, []).dispose())).kernels.length;
  }
  const what = `MobileNetV2 α ${alpha} 96², batch 8, SGD`;
  console.log(`${what}: loss and all ${names.length} weights and moving statistics after a step the same bit for bit; kernel calls per step ${calls.false} → ${calls.true}`);
  const step = async (on) => {
    setPointwiseBatchNormKernels(on);
    try {
      return await timedStep(what, ctx, x, y);
    } finally {
      setPointwiseBatchNormKernels(true);
    }
  };
  await stepAB({ name: what, gflop, step, rounds, warm: 5, ceiling, before: 'before (conv and batch norm apart)', after: 'after (one op)' });
  model.dispose();
}
console.log(`load average at end ${load()}`);
