// One training batch norm + ReLU6 (the kernel forgetless runs for Keras MobileNetV2's bn → ReLU6) on [8, 48, 48, 48]
// values at a conv output's scale, on 1 kernel thread and on 2 (rows split, statistics merged): how far the
// statistics and outputs differ, and how many ReLU6 masks. From apps/benchmark: node results/2026-12-03_kernel-threads/bn-split.mjs
import * as tf from '@tensorflow/tfjs-core';
const { useBackend, setKernelThreads } = await import('@forgetless/core');
const { ensureNormKernels } = await import('../../../../packages/core/dist/ops/norm-simd.js');
await useBackend('wasm', { threads: 2 });
ensureNormKernels();
// a conv output's scale: mean 0.3, sd 2, per channel offsets
const z = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([8, 48, 48, 48], 0, 1, 'float32', 1), 2), tf.linspace(-1, 1, 48)));
const g = tf.randomUniform([48], 0.5, 1.5, 'float32', 2),
  b = tf.randomUniform([48], -1, 1, 'float32', 3);
const mm = tf.zeros([48]),
  mv = tf.ones([48]);
const res = {};
for (const k of [1, 2]) {
  setKernelThreads(k === 1 ? 1 : 'auto');
  const out = tf.engine().runKernel('ForgetlessBatchNormReluTrain', { x: z, gamma: g, beta: b, movingMean: mm, movingVariance: mv }, { epsilon: 1e-3, momentum: 0.99, cap: 6 });
  res[k] = out.map((t) => t.dataSync().slice());
}
const ulps = (a, b) => {
  let m = 0;
  const fa = new Float32Array(1),
    ia = new Int32Array(fa.buffer);
  for (let i = 0; i < a.length; i++) {
    fa[0] = a[i];
    const x = ia[0];
    fa[0] = b[i];
    m = Math.max(m, Math.abs(x - ia[0]));
  }
  return m;
};
const [y1, s1] = res[1],
  [y2, s2] = res[2];
let diff = 0,
  flips = 0;
for (let i = 0; i < y1.length; i++) {
  if (y1[i] !== y2[i]) diff++;
  if ((y1[i] > 0 && y1[i] < 6) !== (y2[i] > 0 && y2[i] < 6)) flips++;
}
console.log(
  `stats (μ, r): ${ulps(s1, s2)} ulp at most; y: ${diff} of ${y1.length} values differ, by ≤ ${y1.reduce((m, v, i) => Math.max(m, Math.abs(v - y2[i])), 0).toExponential(2)} (values up to 6); ReLU6 masks that differ: ${flips}`,
);
process.exit(0);
