// Scratch profile kept with its figures (step-profile.txt): a MobileNetV2 α 0.35 SGD step on wasm under V8's sampling
// profiler, self time grouped by where the code lives (wasm modules, tfjs-core, tfjs-backend-wasm, forgetless), then
// the top JavaScript functions. Run from apps/benchmark/scripts/ (it imports ./ab-lib.mjs): cp it there first.
import * as tf from '@tensorflow/tfjs-core';
import { trainStep, useBackend } from '@forgetless/core';
import { mobileNetV2Step, stepContext } from './ab-lib.mjs';
await useBackend('wasm');
const model = await mobileNetV2Step(0.35);
const x = tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1);
const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
const ctx = await stepContext(model, tf.train.sgd(0.01));
const once = () => {
  const l = trainStep({ x, y }, ctx, []);
  l.dataSync();
  l.dispose();
};
for (let i = 0; i < 60; i++) once();
const { Session } = await import('node:inspector/promises');
const s = new Session();
s.connect();
await s.post('Profiler.enable');
await s.post('Profiler.setSamplingInterval', { interval: 100 });
await s.post('Profiler.start');
const t0 = performance.now();
const N = 200;
for (let i = 0; i < N; i++) once();
const el = performance.now() - t0;
const { profile } = await s.post('Profiler.stop');
const self = new Map();
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const dt = profile.timeDeltas;
const samples = profile.samples;
const cat = (n) => {
  const u = n.callFrame.url || '';
  const f = n.callFrame.functionName;
  if (u.startsWith('wasm://')) return `wasm ${u.includes('wasm-') ? u.split('/').pop() : u}`.slice(0, 40);
  if (f === '(garbage collector)') return 'GC';
  if (f === '(program)' || f === '(idle)') return f;
  if (u.includes('tfjs-core')) return 'tfjs-core JS';
  if (u.includes('tfjs-backend-wasm')) return 'tfjs-backend-wasm JS';
  if (u.includes('packages/core/dist')) return 'forgetless core JS';
  return `other JS ${u.split('/').slice(-2).join('/')}`;
};
let total = 0;
for (let i = 0; i < samples.length; i++) {
  const n = byId.get(samples[i]);
  const c = cat(n);
  const d = dt[i] / 1000;
  total += d;
  self.set(c, (self.get(c) ?? 0) + d);
}
console.log(`steps ${N}, ${(el / N).toFixed(2)} ms/step; sampled ${(total / N).toFixed(2)} ms/step`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`${k.padEnd(42)} ${(v / N).toFixed(2)} ms/step`);
// top JS functions
const fn = new Map();
for (let i = 0; i < samples.length; i++) {
  const n = byId.get(samples[i]);
  const u = n.callFrame.url || '';
  if (u.startsWith('wasm://')) continue;
  const k = `${n.callFrame.functionName || '(anon)'} ${u.split('/').slice(-1)[0]}:${n.callFrame.lineNumber}`;
  fn.set(k, (fn.get(k) ?? 0) + dt[i] / 1000);
}
for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${k.slice(0, 80).padEnd(80)} ${((v / N) * 1000).toFixed(0)} µs/step`);
