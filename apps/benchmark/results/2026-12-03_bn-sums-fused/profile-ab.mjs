// fast-path-profile.mjs (../2026-12-03_fast-path-profile/) with NO_FUSED=1 setting the temporary switch (see fused-ab.txt) that turned the batch norms' fused sums off. Run from apps/benchmark: NO_FUSED=0|1 N=64 node results/2026-12-03_bn-sums-fused/profile-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { mobileNetV2Step } from '../../scripts/ab-lib.mjs';
const core = await import('@forgetless/core');
const { fisherDiagonal } = await import('@forgetless/importances');
const { randomImages } = await import('../../dist/data.js');
globalThis.NO_FUSED = process.env.NO_FUSED === '1';
await core.useBackend('wasm');
const model = await mobileNetV2Step();
const vars = Object.values(model.params);
const n = Number(process.env.N ?? 64);
const source = randomImages(n, [96, 96, 3], 7);
const [batch] = [...source.batches(n, { limit: n })];
const fb = async () => {
  const { value, grads } = tf.variableGrads(() => core.softmaxCrossEntropy(model.apply(batch.x), batch.y), vars);
  await value.data();
  tf.dispose([value, ...Object.values(grads)]);
};
const fast = async () => {
  const r = await fisherDiagonal(model, source, { batchSize: n, limit: n, path: 'fast' });
  await Object.values(r)[0].data();
  core.disposeParams(r);
};
for (let i = 0; i < 2; i++) {
  await fb();
  await fast();
}
const prof = async (f) => {
  const out = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const info = await tf.profile(f);
    const by = {},
      cnt = {};
    for (const k of info.kernels) {
      by[k.name] = (by[k.name] ?? 0) + k.kernelTimeMs;
      cnt[k.name] = (cnt[k.name] ?? 0) + 1;
    }
    out.push({ by, cnt, wall: performance.now() - t0 });
  }
  return out;
};
const a = await prof(fb),
  b = await prof(fast);
const med = (xs) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
const names = [...new Set([...a, ...b].flatMap((o) => Object.keys(o.by)))];
const rows = names.map((k) => [k, med(a.map((o) => o.by[k] ?? 0)), med(b.map((o) => o.by[k] ?? 0)), a[0].cnt[k] ?? 0, b[0].cnt[k] ?? 0]).sort((p, q) => q[2] - p[2]);
for (const [k, x, y, c1, c2] of rows)
  if (x + y > 0.5) console.log(`${k.padEnd(40)} fb ${x.toFixed(1).padStart(7)} (${String(c1).padStart(4)}) | fast ${y.toFixed(1).padStart(7)} (${String(c2).padStart(4)})`);
const tot = (o) => med(o.map((r) => Object.values(r.by).reduce((s, v) => s + v, 0)));
console.log(
  `kernels: fb ${tot(a).toFixed(1)} | fast ${tot(b).toFixed(1)}; wall (profiled): fb ${med(a.map((o) => o.wall)).toFixed(1)} | fast ${med(b.map((o) => o.wall)).toFixed(1)}`,
);
