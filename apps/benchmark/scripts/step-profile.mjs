// Where a MobileNetV2 training step's time goes outside the kernels (benchmark README, "The step's
// JavaScript"). Runs N SGD steps (α 0.35, 96², batch 8, wasm) after warm-up under V8's sampling
// profiler (100 µs) and splits their samples: wasm code (the kernels), JavaScript, garbage
// collection; also tensors created and tf.profile entries per step. Build first (`npm run build`).
//   node apps/benchmark/scripts/step-profile.mjs [path/to/a/core/dist/index.js]    (INTERVAL=µs between samples, default 100; N steps, default 50)
// The optional argument runs another build of @forgetless/core (a base commit's dist, copied
// beside a package.json of @forgetless/core so its `#imports` resolve) against the same model.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import * as tf from '@tensorflow/tfjs-core';
import { mobileNetV2, saveToMemory } from '../dist/models/mobilenet-v2.js';

const core = await import(process.argv[2] ?? '@forgetless/core');
const N = Number(process.env.N ?? 50);
await core.useBackend('wasm');
const keras = mobileNetV2({ alpha: 0.35, size: 96, blocks: 16, classes: 10, seed: 1 });
const loaded = await core.loadLayersModelFromArtifacts(await saveToMemory(keras), 'mobilenet_v2 (memory)');
keras.dispose();
const x = tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1);
const y = tf.tensor1d(
  Array.from({ length: 8 }, (_, i) => i % 10),
  'int32',
);
const optimizer = tf.train.sgd(0.01);
const task = { name: 'bench', classes: undefined };
const ctx = { model: loaded.model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new core.Rng(0) };
const step = () => core.trainStep({ x, y }, ctx, []).dispose();
for (let i = 0; i < 5; i++) step();
const entries = (await tf.profile(step)).kernels.length;

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.INTERVAL ?? 100) });
const id0 = tf.scalar(0).id;
const times = [];
await session.post('Profiler.start');
for (let i = 0; i < N; i++) {
  const t0 = performance.now();
  step();
  times.push(performance.now() - t0);
}
const { profile } = await session.post('Profiler.stop');
const tensorsPerStep = Math.round((tf.scalar(0).id - id0 - 1) / N);
if (process.env.PROFILE_OUT) writeFileSync(process.env.PROFILE_OUT, JSON.stringify(profile));

const frame = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
const split = { wasm: 0, javascript: 0, gc: 0 };
profile.samples.forEach((id, i) => {
  const f = frame.get(id);
  const dt = profile.timeDeltas[i] ?? 0;
  if (f.url.startsWith('wasm://')) split.wasm += dt;
  else if (f.functionName === '(garbage collector)') split.gc += dt;
  else if (f.functionName !== '(idle)' && f.functionName !== '(program)') split.javascript += dt;
});
times.sort((a, b) => a - b);
const ms = (us) => +(us / 1000 / N).toFixed(2);
console.log(
  JSON.stringify({
    core: process.argv[2] ?? '@forgetless/core',
    steps: N,
    median_ms: +(times[N >> 1] ?? 0).toFixed(2),
    per_step_ms: { wasm: ms(split.wasm), javascript: ms(split.javascript), gc: ms(split.gc) },
    tensors_per_step: tensorsPerStep,
    profile_entries_per_step: entries,
    loss_after: core.trainStep({ x, y }, ctx, []).dataSync()[0],
  }),
);
