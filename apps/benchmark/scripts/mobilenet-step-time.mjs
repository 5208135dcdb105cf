// One process's MobileNetV2 SGD step on wasm ('auto'; Keras MobileNetV2 α 0.35 (ALPHA=1: full width), 96², batch 8
// (BATCH=32: another), imported from tfjs-layers): the median and minimum of 40 timed steps after 10 warm-ups, and
// the median over 15 profiled steps of the time its depthwise filter-gradient kernels take (KERNEL=DepthwiseConv2dNative:
// the forwards; another tfjs kernel name likewise; those steps with each conv + batch norm pair apart,
// `setConvBatchNormFusion(false)`: the fused op calls the same kernels out of tf.profile's sight). To compare two builds of the
// SIMD module, run it alternately with each build's packages/core/dist/ops/depthwise-simd.wasm.js in
// place (TAG names the build in the output):
//   for r in 1 2 3; do for v in old new; do cp $v.wasm.js packages/core/dist/ops/depthwise-simd.wasm.js; TAG=$v node apps/benchmark/scripts/mobilenet-step-time.mjs; done; done
import * as tf from '@tensorflow/tfjs-core';
import { setConvBatchNormFusion, trainStep, useBackend } from '@forgetless/core';
import { mobileNetV2Step, stepContext } from './ab-lib.mjs';

await useBackend('wasm');
const model = await mobileNetV2Step(Number(process.env.ALPHA ?? 0.35));
const batch = Number(process.env.BATCH ?? 8);
const kernel = process.env.KERNEL ?? 'DepthwiseConv2dNativeBackpropFilter';
const x = tf.randomUniform([batch, 96, 96, 3], 0, 1, 'float32', 1);
const y = tf.tensor1d(
  Array.from({ length: batch }, (_, i) => i % 8),
  'int32',
);
const ctx = await stepContext(model, tf.train.sgd(0.01));
const once = () => {
  const l = trainStep({ x, y }, ctx, []);
  const v = l.dataSync()[0];
  l.dispose();
  if (!Number.isFinite(v)) throw new Error(`loss ${v}: diverged`);
};
const step = () => {
  const t0 = performance.now();
  once();
  return performance.now() - t0;
};
for (let i = 0; i < 10; i++) step();
const t = [];
for (let i = 0; i < 40; i++) t.push(step());
t.sort((a, b) => a - b);
const d = [];
setConvBatchNormFusion(false);
for (let i = 0; i < 15; i++) {
  const prof = await tf.profile(once);
  d.push(prof.kernels.filter((k) => k.name === kernel).reduce((s, k) => s + k.kernelTimeMs, 0));
}
d.sort((a, b) => a - b);
console.log(
  `${process.env.TAG ?? ''} batch ${batch} step median ${t[20].toFixed(2)} min ${t[0].toFixed(2)} ms | ${kernel} kernels per step (median of 15 profiled) ${d[7].toFixed(2)} ms`,
);
