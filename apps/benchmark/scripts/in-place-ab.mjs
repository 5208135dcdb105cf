// Training steps with every update written into a new buffer (before: tfjs's way, a new tensor, an
// assign and a disposal per parameter, Adam moment and moving statistic, `setInPlaceUpdates(false)`)
// and into the variables' own memory where nothing else holds it (after: `in-place.ts`, the default),
// in one process on wasm ('auto'), interleaved in alternating order with a 1024³ matMul whose GFLOP/s
// in the same rounds is the ceiling each step's GFLOP/s is put against; ROUNDS rounds (default 15)
// after WARM warm-ups (default 10); median (min–max) ms, the tensors a step creates, and the load
// average at start and end (benchmark README, "Updates in place").
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/in-place-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { paper2ConvNet, setInPlaceUpdates, useBackend } from '@forgetless/core';
import { load, matmulCeiling, mobileNetV2Step, stepAB, timedStep, withStepContexts } from './ab-lib.mjs';

const rounds = Number(process.env.ROUNDS ?? 15);
const warm = Number(process.env.WARM ?? 10);
await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}, ${rounds} rounds after ${warm} warm-ups`);

const mobilenet = await mobileNetV2Step();
const full = await mobileNetV2Step(1);
const paper2 = paper2ConvNet({ width: 1, seed: 1 });
// GFLOP of one step as the conv-speed rows count them (results/2026-11-30_conv-speed-final2/results.json)
const cases = [
  { name: 'MobileNetV2 α0.35 96², batch 8, SGD', model: mobilenet, opt: tf.train.sgd(0.01), x: tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1), n: 8, gflop: 0.495 },
  { name: 'MobileNetV2 α0.35 96², batch 8, Adam', model: mobilenet, opt: tf.train.adam(1e-4), x: tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1), n: 8, gflop: 0.495 },
  { name: 'MobileNetV2 α1.0 96², batch 8, SGD', model: full, opt: tf.train.sgd(0.01), x: tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1), n: 8, gflop: 2.609 },
  { name: 'MobileNetV2 α1.0 96², batch 8, Adam', model: full, opt: tf.train.adam(1e-4), x: tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1), n: 8, gflop: 2.609 },
  { name: "paper 2's conv net, batch 32, SGD", model: paper2, opt: tf.train.sgd(0.01), x: tf.randomUniform([32, 784], 0, 1, 'float32', 2), n: 32, gflop: 5.19 },
];
await withStepContexts(cases);
let created = 0;
const step = async (c, inPlace, check = true) => {
  setInPlaceUpdates(inPlace);
  const id0 = tf.scalar(0).id;
  const t = await timedStep(c.name, c.ctx, c.x, c.y, check);
  created = tf.scalar(0).id - id0 - 1;
  return t;
};
const ceiling = matmulCeiling();
for (const c of cases) {
  // Adam's first step creates its moments (tfjs's own update); the timed steps all run with them
  await step(c, true, false);
  await stepAB({ name: c.name, gflop: c.gflop, step: (inPlace) => step(c, inPlace), count: () => created, unit: 'tensors', rounds, warm, ceiling });
}
setInPlaceUpdates(true);
console.log(`load average at end ${load()}`);
