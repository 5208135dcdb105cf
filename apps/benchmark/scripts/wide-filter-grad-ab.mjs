// The filter gradient of wide convolutions (8 or more input channels) on wasm, old routing against new
// in one process (benchmark README, "The filter gradient of every Conv2D on SIMD"): im2col + the matMul
// under 'auto' (`conv2dFilterGradIm2col`, what 'auto' ran for them before) against wasm's
// Conv2DBackpropFilter under 'auto' (forgetless's `conv_filter_grad`, ∂W in cache-sized blocks), on the
// same inputs, interleaved in alternating order, ROUNDS rounds (default 21) after 2 warm-ups; median
// (min–max) ms, and the load average at start and end. ONLY=regex picks cases by name.
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/wide-filter-grad-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { conv2dFilterGradIm2col, useBackend, withConvFormulation } from '@forgetless/core';
import { interleaved, load, maxRelDiff, ms } from './ab-lib.mjs';

const all = [
  { name: "paper 2's conv2 [32,12,12,64] 3×3 valid →128", x: [32, 12, 12, 64], k: [3, 3], o: 128, s: 1, pad: 'valid' },
  { name: "paper 2's conv3 [32,10,10,128] 3×3 valid →256", x: [32, 10, 10, 128], k: [3, 3], o: 256, s: 1, pad: 'valid' },
  { name: '[8,24,24,32] 3×3 s2 same →64', x: [8, 24, 24, 32], k: [3, 3], o: 64, s: 2, pad: 'same' },
  { name: 'InceptionV3 [2,73,73,80] 3×3 valid →192', x: [2, 73, 73, 80], k: [3, 3], o: 192, s: 1, pad: 'valid' },
  { name: 'InceptionV3 [2,17,17,192] 1×7 same →192', x: [2, 17, 17, 192], k: [1, 7], o: 192, s: 1, pad: 'same' },
  { name: 'InceptionV3 [2,17,17,192] 7×1 same →192', x: [2, 17, 17, 192], k: [7, 1], o: 192, s: 1, pad: 'same' },
  { name: 'InceptionV3 [2,8,8,448] 3×3 same →384', x: [2, 8, 8, 448], k: [3, 3], o: 384, s: 1, pad: 'same' },
  { name: 'VGG/ResNet-like [2,14,14,512] 3×3 same →512', x: [2, 14, 14, 512], k: [3, 3], o: 512, s: 1, pad: 'same' },
  { name: 'InceptionV3 [2,35,35,48] 5×5 same →64', x: [2, 35, 35, 48], k: [5, 5], o: 64, s: 1, pad: 'same' },
];
const only = process.env.ONLY ? new RegExp(process.env.ONLY) : null;
const rounds = Number(process.env.ROUNDS ?? 21);

await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}, ${rounds} rounds`);
for (const c of all.filter((c) => !only || only.test(c.name))) {
  const x = tf.randomNormal(c.x, 0, 1, 'float32', 1);
  const fs = [c.k[0], c.k[1], c.x[3], c.o];
  const dy = tf.tidy(() => tf.randomNormal(tf.conv2d(x, tf.zeros(fs), c.s, c.pad).shape, 0, 1, 'float32', 2));
  const attrs = { strides: [c.s, c.s], pad: c.pad, dataFormat: 'NHWC', filterShape: fs, dilations: [1, 1] };
  const fns = {
    old: () => withConvFormulation('auto', () => conv2dFilterGradIm2col(x, dy, fs, c.s, c.pad)),
    new: () => withConvFormulation('auto', () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs)),
  };
  const rel = maxRelDiff(fns.old(), fns.new());
  const { old: o, new: n } = interleaved(fns, { rounds, warm: 2 });
  const mflop = (2 * tf.util.sizeFromShape(dy.shape.slice(0, 3)) * c.k[0] * c.k[1] * c.x[3] * c.o) / 1e6;
  console.log(
    `${c.name}: ${mflop.toFixed(0)} MFLOP | before (im2col) ${ms(o)} | after (SIMD) ${ms(n)}, ${(mflop / n.med).toFixed(1)} GFLOP/s | after/before ${(n.med / o.med).toFixed(2)} | max rel diff ${rel.toExponential(1)}`,
  );
  tf.dispose([x, dy]);
}
console.log(`load average at end ${load()}`);
