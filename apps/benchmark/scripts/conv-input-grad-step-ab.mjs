// Paper 2's conv net training step (SGD, batch 32, full width, wasm, 'auto') with the input gradient of
// its non-1×1 convolutions on forgetless's `conv_input_grad` (after) and as before it (before: one
// matMul per tap, `setSimdConvInputGrad(false)`), in one process, interleaved in alternating order,
// ROUNDS rounds (default 15) after WARM warm-ups each (default 20); median (min–max) ms and the load
// average at start and end (benchmark README, "The input gradient of every Conv2D on SIMD").
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/conv-input-grad-step-ab.mjs
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, paper2ConvNet, setSimdConvInputGrad, trainStep, useBackend, withConvFormulation } from '@forgetless/core';

const rounds = Number(process.env.ROUNDS ?? 15);
const warm = Number(process.env.WARM ?? 20);
const batch = 32;
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const stats = (a) => {
  const s = [...a].sort((p, q) => p - q);
  return { med: s[s.length >> 1], min: s[0], max: s[s.length - 1] };
};
const ms = (t) => `${t.med.toFixed(1)} (${t.min.toFixed(1)}–${t.max.toFixed(1)}) ms`;

await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}, ${rounds} rounds after ${warm} warm-ups`);
const model = paper2ConvNet({ width: 1, seed: 1 });
const x = tf.randomUniform([batch, 784], 0, 1, 'float32', 1);
const y = tf.tensor1d(
  Array.from({ length: batch }, (_, i) => i % 10),
  'int32',
);
const optimizer = tf.train.sgd(0.01);
const task = { name: 'bench', classes: undefined };
const ctx = { model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) };
const run = (on) => {
  setSimdConvInputGrad(on);
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  const loss = withConvFormulation('auto', () => trainStep({ x, y }, ctx, []));
  const v = loss.dataSync()[0];
  const t = performance.now() - t0;
  loss.dispose();
  if (!Number.isFinite(v)) throw new Error(`loss ${v}: diverged`);
  if (tf.memory().numTensors !== before) throw new Error(`step leaked ${tf.memory().numTensors - before} tensors`);
  return t;
};
for (let i = 0; i < warm; i++) for (const on of [false, true]) run(on);
const t = { false: [], true: [] };
for (let r = 0; r < rounds; r++) for (const on of r % 2 ? [true, false] : [false, true]) t[on].push(run(on));
setSimdConvInputGrad(true);
const [o, n] = [stats(t.false), stats(t.true)];
console.log(`paper 2 conv net step, batch ${batch}: before (taps) ${ms(o)} | after (conv_input_grad) ${ms(n)} | after/before ${(n.med / o.med).toFixed(2)}`);
console.log(`load average at end ${load()}`);
tf.dispose([x, y]);
optimizer.dispose();
model.dispose();
