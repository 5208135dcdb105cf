// The input gradient of non-1×1 convolutions on wasm, old routing against new in one process (benchmark
// README, "The input gradient of every Conv2D on SIMD"): forgetless's `conv2dBackpropInput` under 'auto'
// with `setSimdConvInputGrad(false)` (the routing before: one matMul per tap, `conv2dInputGradTaps`, for
// ≥ 8 input channels; a forward conv at stride 1 or wasm's stock Conv2DBackpropInput with fewer) against
// the same with it on (wasm's Conv2DBackpropInput, forgetless's `conv_input_grad`),
// on the same inputs, interleaved in alternating order, ROUNDS rounds (default 21) after WARM warm-ups
// each (default 20: V8 tiers up late); median (min–max) ms, GFLOP/s, and the one-thread matMul's
// GFLOP/s ([1024, 1024]·[1024, 1024], interleaved the same way) and the load average at start and end.
// ONLY=regex picks cases by name. Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/conv-input-grad-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropInput, setSimdConvInputGrad, useBackend, withConvFormulation } from '@forgetless/core';
import { interleaved, load, maxRelDiff, ms } from './ab-lib.mjs';

const all = [
  { name: '[8,24,24,32] 3×3 s2 same →64', x: [8, 24, 24, 32], k: [3, 3], o: 64, s: 2, pad: 'same' },
  { name: "paper 2's conv2 [32,12,12,64] 3×3 valid →128", x: [32, 12, 12, 64], k: [3, 3], o: 128, s: 1, pad: 'valid' },
  { name: "paper 2's conv3 [32,10,10,128] 3×3 valid →256", x: [32, 10, 10, 128], k: [3, 3], o: 256, s: 1, pad: 'valid' },
  { name: 'InceptionV3 [2,73,73,80] 3×3 valid →192', x: [2, 73, 73, 80], k: [3, 3], o: 192, s: 1, pad: 'valid' },
  { name: 'InceptionV3 [2,17,17,192] 1×7 same →192', x: [2, 17, 17, 192], k: [1, 7], o: 192, s: 1, pad: 'same' },
  { name: 'InceptionV3 [2,17,17,192] 7×1 same →192', x: [2, 17, 17, 192], k: [7, 1], o: 192, s: 1, pad: 'same' },
  { name: 'InceptionV3 [2,8,8,448] 3×3 same →384', x: [2, 8, 8, 448], k: [3, 3], o: 384, s: 1, pad: 'same' },
  { name: 'InceptionV3 [2,35,35,48] 5×5 same →64', x: [2, 35, 35, 48], k: [5, 5], o: 64, s: 1, pad: 'same' },
  { name: 'few channels [8,24,24,4] 3×3 s1 same →32 (before: stride-1 forward conv)', x: [8, 24, 24, 4], k: [3, 3], o: 32, s: 1, pad: 'same' },
  { name: 'few channels [8,24,24,3] 3×3 s2 same →32 (before: stock kernel)', x: [8, 24, 24, 3], k: [3, 3], o: 32, s: 2, pad: 'same' },
];
const only = process.env.ONLY ? new RegExp(process.env.ONLY) : null;
const rounds = Number(process.env.ROUNDS ?? 21);
const warm = Number(process.env.WARM ?? 20);

await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}, ${rounds} rounds after ${warm} warm-ups`);
const ma = tf.randomNormal([1024, 1024], 0, 1, 'float32', 5);
const mb = tf.randomNormal([1024, 1024], 0, 1, 'float32', 6);
for (const c of all.filter((c) => !only || only.test(c.name))) {
  const fs = [c.k[0], c.k[1], c.x[3], c.o];
  const f = tf.randomNormal(fs, 0, 0.1, 'float32', 1);
  const dy = tf.tidy(() => tf.randomNormal(tf.conv2d(tf.zeros(c.x), f, c.s, c.pad).shape, 0, 1, 'float32', 2));
  const fns = {
    old: () => {
      setSimdConvInputGrad(false);
      try {
        return withConvFormulation('auto', () => conv2dBackpropInput(dy, f, c.x, c.s, c.pad));
      } finally {
        setSimdConvInputGrad(true);
      }
    },
    new: () => withConvFormulation('auto', () => conv2dBackpropInput(dy, f, c.x, c.s, c.pad)),
    matMul: () => tf.matMul(ma, mb),
  };
  const rel = maxRelDiff(fns.old(), fns.new());
  const { old: o, new: n, matMul: m } = interleaved(fns, { rounds, warm });
  const mflop = (2 * tf.util.sizeFromShape(dy.shape.slice(0, 3)) * c.k[0] * c.k[1] * c.x[3] * c.o) / 1e6;
  const mm = (2 * 1024 ** 3) / 1e6 / m.med;
  console.log(
    `${c.name}: ${mflop.toFixed(0)} MFLOP | before ${ms(o)}, ${((mflop / o.med / mm) * 100).toFixed(0)} % | after (SIMD) ${ms(n)}, ${(mflop / n.med).toFixed(1)} GFLOP/s, ${((mflop / n.med / mm) * 100).toFixed(0)} % of the matMul (${mm.toFixed(1)} GFLOP/s) | after/before ${(n.med / o.med).toFixed(2)} | max rel diff ${rel.toExponential(1)}`,
  );
  tf.dispose([f, dy]);
}
tf.dispose([ma, mb]);
console.log(`load average at end ${load()}`);
