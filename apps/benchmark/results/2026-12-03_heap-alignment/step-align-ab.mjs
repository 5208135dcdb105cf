// MobileNetV2 SGD step (lr 0: every step the same) with tfjs-wasm's JavaScript-side allocations moved to 16-byte boundaries (on: malloc asked for 8 bytes more, the address 8 on when it is 8 mod 16, free taking it back) against as they are (off), alternating in one process; step times, and kernel times by kernel name from tf.profile (conv + batch norm apart). Run from apps/benchmark: node results/2026-12-03_heap-alignment/step-align-ab.mjs (ALPHA=1, ROUNDS, STEPS, PROFILES)
import * as tf from '@tensorflow/tfjs-core';
import { setConvBatchNormFusion, trainStep, useBackend } from '@forgetless/core';
import { mobileNetV2Step, stepContext } from '../../scripts/ab-lib.mjs';

await useBackend('wasm');
const b = tf.backend();
const origMalloc = b.wasm.asm.malloc;
const origFree = b.wasm.asm.free;
const shifted = new Map();
let on = false;
let aligned = 0,
  total = 0;
b.wasm._malloc = (n) => {
  if (!on) return origMalloc(n);
  const p = origMalloc(n + 8) >>> 0;
  total++;
  if (p % 16 === 0) return p;
  aligned++;
  shifted.set(p + 8, p);
  return p + 8;
};
b.wasm._free = (p) => {
  const q = shifted.get(p);
  if (q !== undefined) shifted.delete(p);
  return origFree(q ?? p);
};
const model = await mobileNetV2Step(Number(process.env.ALPHA ?? 0.35));
const batch = Number(process.env.BATCH ?? 8);
const x = tf.randomUniform([batch, 96, 96, 3], 0, 1, 'float32', 1);
const y = tf.tensor1d(
  Array.from({ length: batch }, (_, i) => i % 8),
  'int32',
);
const ctx = await stepContext(model, tf.train.sgd(0.0));
const step = () => {
  const t0 = performance.now();
  const l = trainStep({ x, y }, ctx, []);
  const v = l.dataSync()[0];
  l.dispose();
  if (!Number.isFinite(v)) throw new Error('diverged');
  return [performance.now() - t0, v];
};
for (let i = 0; i < 10; i++) step();
const t = { on: [], off: [] };
const loss = { on: new Set(), off: new Set() };
const R = Number(process.env.ROUNDS ?? 10),
  S = Number(process.env.STEPS ?? 10);
for (let r = 0; r < R; r++)
  for (const v of r % 2 ? ['on', 'off'] : ['off', 'on']) {
    on = v === 'on';
    step();
    for (let i = 0; i < S; i++) {
      const [ms, l] = step();
      t[v].push(ms);
      loss[v].add(l);
    }
  }
// kernel time by kernel name, profiled steps (conv + batch norm apart so the profile sees each kernel), P per mode, alternating
const prof = { on: [], off: [] };
setConvBatchNormFusion(false);
const P = Number(process.env.PROFILES ?? 6);
for (let r = 0; r < 2 * P; r++) {
  const v = r % 2 ? 'on' : 'off';
  on = v === 'on';
  step();
  const info = await tf.profile(() => {
    const l = trainStep({ x, y }, ctx, []);
    l.dataSync();
    l.dispose();
  });
  const by = {};
  for (const k of info.kernels) by[k.name] = (by[k.name] ?? 0) + k.kernelTimeMs;
  prof[v].push(by);
}
setConvBatchNormFusion(true);
const names = [...new Set(prof.off.flatMap((o) => Object.keys(o)))];
const mk = (v, n) => [...prof[v].map((o) => o[n] ?? 0)].sort((a, b) => a - b)[P >> 1];
const rows = names
  .map((n) => [n, mk('off', n), mk('on', n)])
  .filter((r) => r[1] >= 0.2)
  .sort((a, b) => b[1] - a[1]);
for (const [n, a, c] of rows) console.log(`  ${n.padEnd(44)} off ${a.toFixed(2)} | on ${c.toFixed(2)} | ${(c / a).toFixed(3)}`);
const tot = (v) => [...prof[v].map((o) => Object.values(o).reduce((a, b) => a + b, 0))].sort((a, b) => a - b)[P >> 1];
console.log(`  ${'all kernels'.padEnd(44)} off ${tot('off').toFixed(2)} | on ${tot('on').toFixed(2)} | ${(tot('on') / tot('off')).toFixed(3)}`);
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
console.log(
  `alpha ${process.env.ALPHA ?? 0.35} batch ${batch}: off ${med(t.off).toFixed(2)} ms (min ${Math.min(...t.off).toFixed(2)}) | on ${med(t.on).toFixed(2)} ms (min ${Math.min(...t.on).toFixed(2)}) | on/off ${(med(t.on) / med(t.off)).toFixed(3)} | shifted ${aligned} of ${total} | losses off ${[...loss.off]} on ${[...loss.on]}`,
);
