// Training steps through `withTransforms` (an elementwise step transform: WVA's attenuation of the steps)
// around tfjs's Adam on wasm ('auto'): the wrapped Adam stepping in one SIMD call (after: core's
// `applyGradientsInOne`) against a subclass of AdamOptimizer, which that path declines (before: tfjs's own
// applyGradients, as every wrapped optimizer stepped until then); the same values to the bit. One
// process, interleaved in alternating order, ROUNDS rounds (default 21) after WARM warm-ups (default 10);
// median (min–max) ms and the load average (benchmark README, "Wrapped optimizers in one call").
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/wrapped-optimizer-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { mlp, useBackend } from '@forgetless/core';
import { attenuateSteps, withTransforms } from '@forgetless/optimizers';
import { load, mobileNetV2Step, stats, stepContext, timedStep } from './ab-lib.mjs';

const rounds = Number(process.env.ROUNDS ?? 21);
const warm = Number(process.env.WARM ?? 10);
await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}, ${rounds} rounds after ${warm} warm-ups`);
const mobilenet = await mobileNetV2Step();
const cases = [
  { name: 'MobileNetV2 α0.35 96², batch 8', make: () => mobilenet, x: tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1), n: 8 },
  {
    name: 'MLP 784-300-150-10, batch 100',
    make: () => mlp([784, 300, 150, 10], { activation: 'leakyRelu', seed: 1 }),
    x: tf.randomUniform([100, 784], 0, 1, 'float32', 2),
    n: 100,
  },
];
class DeclinedAdam extends tf.AdamOptimizer {}
for (const c of cases) {
  const model = c.make();
  const y = tf.tensor1d(
    Array.from({ length: c.n }, (_, i) => i % 10),
    'int32',
  );
  // attenuation factors of 1/(1 + λ·I) with random importances: WVA's steps mode
  const factors = Object.fromEntries(Object.entries(model.params).map(([k, v], i) => [k, tf.randomUniform(v.shape, 0.2, 1, 'float32', 10 + i)]));
  const ctxOf = (opt) => stepContext(model, withTransforms(opt, [attenuateSteps(factors)], { params: model.params }));
  const ctx = { before: await ctxOf(new DeclinedAdam(1e-4, 0.9, 0.999, 1e-7)), after: await ctxOf(new tf.AdamOptimizer(1e-4, 0.9, 0.999, 1e-7)) };
  const step = (k) => timedStep(c.name, ctx[k], c.x, y, false);
  for (let i = 0; i < warm; i++) for (const k of ['before', 'after']) await step(k);
  const t = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) for (const k of r % 2 ? ['after', 'before'] : ['before', 'after']) t[k].push(await step(k));
  const [o, n] = [stats(t.before), stats(t.after)];
  const f = (s) => `${s.med.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)}) ms`;
  console.log(`${c.name}, withTransforms(Adam, [attenuateSteps]): before ${f(o)} | after ${f(n)} | after/before ${(n.med / o.med).toFixed(3)}`);
  tf.dispose([y, ...Object.values(factors)]);
  ctx.before.optimizer.dispose();
  ctx.after.optimizer.dispose();
}
console.log(`load average at end ${load()}`);
