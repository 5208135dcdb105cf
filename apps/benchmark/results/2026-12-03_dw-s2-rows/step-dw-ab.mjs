// MobileNetV2 SGD step (Keras α 0.35 by default, 96², batch 8, lr 0 so every step is the same) with one export of
// forgetless's SIMD module taken from either of two builds of depthwise-simd.c, alternating step by step in one
// process (A B B A …): step time medians and the ratio, load average before and after.
// Run from apps/benchmark:
//   clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin -Wl,--no-entry -Wl,--import-memory -o A.wasm <depthwise-simd.c of A>   (and B)
//   node results/2026-12-03_dw-s2-rows/step-dw-ab.mjs A.wasm B.wasm [export=dw_input_grad]     ALPHA, ROUNDS=40
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { trainStep, useBackend } from '@forgetless/core';
import { depthwiseSimd } from '../../../../packages/core/dist/ops/depthwise-simd.js';
import { mobileNetV2Step, stepContext } from '../../scripts/ab-lib.mjs';

const [fa, fb, name = 'dw_input_grad'] = process.argv.slice(2);
await useBackend('wasm');
const backend = tf.backend();
const ex = depthwiseSimd(backend);
if (!ex) throw new Error('no SIMD kernels on this backend');
const memory = backend.wasm.asm?.memory ?? backend.wasm.wasmMemory;
const mod = (f) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), { env: { memory } }).exports;
const builds = { a: mod(fa), b: mod(fb) };
let cur = builds.a;
let calls = 0;
ex[name] = (...args) => {
  calls++;
  return cur[name](...args);
};
const model = await mobileNetV2Step(Number(process.env.ALPHA ?? 0.35));
const x = tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1);
const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
const ctx = await stepContext(model, tf.train.sgd(0));
const step = () => trainStep({ x, y }, ctx, []);
const load0 = loadavg()[0];
for (let i = 0; i < 10; i++) {
  cur = i % 2 ? builds.b : builds.a;
  await step();
}
const t = { a: [], b: [] };
const rounds = Number(process.env.ROUNDS ?? 40);
for (let r = 0; r < rounds; r++)
  for (const v of r % 2 ? ['b', 'a'] : ['a', 'b']) {
    cur = builds[v];
    const t0 = performance.now();
    await step();
    t[v].push(performance.now() - t0);
  }
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const q = (a, f) => [...a].sort((p, q) => p - q)[Math.floor(f * (a.length - 1))];
console.log(
  `${name}: ${calls / (10 + 2 * rounds)} calls a step; A ${med(t.a).toFixed(2)} ms (${q(t.a, 0.25).toFixed(2)}–${q(t.a, 0.75).toFixed(2)}) | B ${med(t.b).toFixed(2)} ms (${q(t.b, 0.25).toFixed(2)}–${q(t.b, 0.75).toFixed(2)}) | B/A ${(med(t.b) / med(t.a)).toFixed(3)}; load ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`,
);
