// The filter gradient of convolutions with few input channels (a network's stem) on wasm, old path
// against new in one process (benchmark README, "The stem's filter gradient on SIMD"):
// `conv2dBackpropFilter` under 'composed' (forgetless's formulations before the SIMD kernel:
// transposes + one convolution with an Ho×Wo kernel at stride 2, im2col + matMul at stride 1) and
// under 'auto' (the SIMD kernel), on the same inputs, interleaved in alternating order, ROUNDS rounds
// (default 41) after 3 warm-ups; median (min–max) ms, and the load average at start and end.
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/stem-filter-grad-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilter, useBackend, withConvFormulation } from '@forgetless/core';
import { interleaved, load, maxRelDiff, ms } from './ab-lib.mjs';

const cases = [
  { name: 'MobileNetV2 α0.35 96² stem: [8,97,97,3] 3×3 s2 valid →16', x: [8, 97, 97, 3], k: 3, o: 16, s: 2, pad: 'valid' },
  { name: 'InceptionV3 stem: [2,299,299,3] 3×3 s2 valid →32', x: [2, 299, 299, 3], k: 3, o: 32, s: 2, pad: 'valid' },
  { name: 'ResNet stem: [2,224,224,3] 7×7 s2 same →64', x: [2, 224, 224, 3], k: 7, o: 64, s: 2, pad: 'same' },
  { name: 'paper 2 conv1: [32,28,28,1] 5×5 s1 valid →64', x: [32, 28, 28, 1], k: 5, o: 64, s: 1, pad: 'valid' },
  { name: '5×5 s1 same →64 on [32,28,28,1]', x: [32, 28, 28, 1], k: 5, o: 64, s: 1, pad: 'same' },
];
const rounds = Number(process.env.ROUNDS ?? 41);

await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}, ${rounds} rounds`);
for (const c of cases) {
  const x = tf.randomNormal(c.x, 0, 1, 'float32', 1);
  const fs = [c.k, c.k, c.x[3], c.o];
  const dy = tf.tidy(() => tf.randomNormal(tf.conv2d(x, tf.zeros(fs), c.s, c.pad).shape, 0, 1, 'float32', 2));
  const grad = (f) => withConvFormulation(f, () => conv2dBackpropFilter(x, dy, fs, c.s, c.pad));
  const rel = maxRelDiff(grad('composed'), grad('auto'));
  const { composed: o, auto: n } = interleaved({ composed: () => grad('composed'), auto: () => grad('auto') }, { rounds, warm: 3 });
  const mflop = (2 * dy.shape[0] * dy.shape[1] * dy.shape[2] * c.k * c.k * c.x[3] * c.o) / 1e6;
  console.log(
    `${c.name}: ${mflop.toFixed(1)} MFLOP | before ('composed') ${ms(o)} | after ('auto') ${ms(n)}, ${(mflop / n.med).toFixed(1)} GFLOP/s | after/before ${(n.med / o.med).toFixed(2)} | max rel diff ${rel.toExponential(1)}`,
  );
  tf.dispose([x, dy]);
}
console.log(`load average at end ${load()}`);
