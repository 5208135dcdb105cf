// MLP training steps on wasm ('auto') with dense layers' gradients on forgetless's SIMD 1×1 convolution
// kernels (after, the default: ∂W = aᵀ·δ and ∂a = δ·bᵀ without transposed tensors) and as before them
// (`setDenseOnPointwise(false)`: explicit transposes and tfjs-wasm's matMul), in one process, interleaved
// in alternating order, ROUNDS rounds (default 31) after WARM warm-ups (default 20); median (min–max) ms,
// with the load average at start and end (benchmark README, "Dense gradients on the 1×1 kernels").
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/dense-pointwise-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { mlp, setDenseOnPointwise, useBackend } from '@forgetless/core';
import { load, stats, stepContext, timedStep } from './ab-lib.mjs';

const rounds = Number(process.env.ROUNDS ?? 31);
const warm = Number(process.env.WARM ?? 20);
await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}, ${rounds} rounds after ${warm} warm-ups`);
const cases = [
  { name: 'MLP 784-300-150-10 leaky ReLU (papers 2 and 4), batch 100, SGD', sizes: [784, 300, 150, 10], act: 'leakyRelu', opt: () => tf.train.sgd(0.2) },
  { name: 'the same, Adam', sizes: [784, 300, 150, 10], act: 'leakyRelu', opt: () => tf.train.adam(1e-3) },
  { name: 'MLP 784-100-10 (the default run), batch 100, SGD', sizes: [784, 100, 10], act: 'relu', opt: () => tf.train.sgd(0.1) },
];
const x = tf.randomUniform([100, 784], 0, 1, 'float32', 1);
const y = tf.tensor1d(
  Array.from({ length: 100 }, (_, i) => i % 10),
  'int32',
);
for (const c of cases) {
  const model = mlp(c.sizes, { activation: c.act, seed: 1 });
  const ctx = await stepContext(model, c.opt());
  const step = (on, check = true) => {
    setDenseOnPointwise(on);
    return timedStep(c.name, ctx, x, y, check);
  };
  await step(true, false); // Adam's first step creates its moments
  for (let i = 0; i < warm; i++) for (const on of [false, true]) await step(on);
  const t = { false: [], true: [] };
  for (let r = 0; r < rounds; r++) for (const on of r % 2 ? [true, false] : [false, true]) t[on].push(await step(on));
  const [o, n] = [stats(t.false), stats(t.true)];
  const f = (s) => `${s.med.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)}) ms`;
  console.log(`${c.name}: before ${f(o)} | after ${f(n)} | after/before ${(n.med / o.med).toFixed(3)}`);
  ctx.optimizer.dispose();
  model.dispose();
}
setDenseOnPointwise(true);
console.log(`load average at end ${load()}`);
tf.dispose([x, y]);
