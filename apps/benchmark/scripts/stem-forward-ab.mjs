// The forward of convolutions with few input channels (a network's stem) on wasm, XNNPACK against
// forgetless's SIMD kernel in one process (benchmark README, "The stem's forward on SIMD"):
// `tf.conv2d` under 'composed' (wasm's stock Conv2D, XNNPACK) and under 'auto' (`conv_forward`), on
// the same inputs, interleaved in alternating order, ROUNDS rounds (default 41) after 20 warm-ups
// (fewer leave the new kernel in V8's baseline tier: 6.3 against 0.64 ms at MobileNetV2's stem);
// median (min–max) ms, and the load average at start and end.
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/stem-forward-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, withConvFormulation } from '@forgetless/core';
import { interleaved, load, maxRelDiff, ms } from './ab-lib.mjs';

const cases = [
  { name: 'MobileNetV2 α0.35 96² stem: [8,97,97,3] 3×3 s2 valid →16', x: [8, 97, 97, 3], k: 3, o: 16, s: 2, pad: 'valid' },
  // Keras's Conv1_pad folded: before, PadV2 (forgetless's, 'auto') then XNNPACK's valid conv; after, one conv with explicit padding
  {
    name: 'MobileNetV2 stem, ZeroPadding2D folded: [8,96,96,3] pad [0,1] 3×3 s2 →16',
    x: [8, 96, 96, 3],
    k: 3,
    o: 16,
    s: 2,
    pad: 'valid',
    fold: [
      [0, 1],
      [0, 1],
    ],
  },
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
  const w = tf.randomNormal([c.k, c.k, c.x[3], c.o], 0, 0.5, 'float32', 2);
  const explicit = c.fold && [[0, 0], ...c.fold, [0, 0]];
  const fwd = (f) =>
    !c.fold
      ? withConvFormulation(f, () => tf.conv2d(x, w, c.s, c.pad))
      : f === 'auto'
        ? withConvFormulation('auto', () => tf.conv2d(x, w, c.s, explicit))
        : tf.tidy(() =>
            withConvFormulation('composed', () =>
              tf.conv2d(
                withConvFormulation('auto', () => tf.pad(x, explicit)),
                w,
                c.s,
                'valid',
              ),
            ),
          );
  const first = fwd('composed');
  const outShape = first.shape;
  const rel = maxRelDiff(first, fwd('auto'));
  const { composed: o, auto: n } = interleaved({ composed: () => fwd('composed'), auto: () => fwd('auto') }, { rounds, warm: 20 });
  const mflop = (2 * outShape[0] * outShape[1] * outShape[2] * c.k * c.k * c.x[3] * c.o) / 1e6;
  console.log(
    `${c.name}: ${mflop.toFixed(1)} MFLOP | XNNPACK ('composed') ${ms(o)}, ${(mflop / o.med).toFixed(1)} GFLOP/s | SIMD ('auto') ${ms(n)}, ${(mflop / n.med).toFixed(1)} GFLOP/s | auto/composed ${(n.med / o.med).toFixed(2)} | max rel diff ${rel.toExponential(1)}`,
  );
  tf.dispose([x, w]);
}
console.log(`load average at end ${load()}`);
