// The gradients of Mean (a global average pool's) and Sum on wasm: tfjs's (δ multiplied by a tensor of
// ones of the input's shape, `setGradientMode('stock')`, before) against forgetless's (δ ÷ n repeated
// by Concat, 'auto', after), for the pools of MobileNetV2 at 96² (batch 8 and 32), 224² (batch 32) and a
// wide pool of 24×24×64, and a full Sum of 2.2M values (a penalty over MobileNetV2's weights); each the
// whole tf.grad of mean/sum(x)·probe, timed in BLOCKS blocks (default 6) of ROUNDS runs (default 8),
// before and after in turn (ABBAAB…: alternating single runs would let one side's garbage, the ones
// tensors, be collected in the other's time), after WARM warm-ups of each (default 5); median (min–max)
// ms over all blocks; the values compared bit for bit; the load average at start and end (benchmark
// README, "Mean's and Sum's gradients"). Then whole SGD steps of MobileNetV2 (α 0.35 and 1, 96², batch 8)
// with tfjs's own Mean and Sum gradient functions (captured before @forgetless/core loads and swapped
// into forgetless's registered gradients, which the step keeps) against forgetless's, alternated
// round by round with a 1024³ matMul (STEP_ROUNDS, default 15, after 5 warm-ups of each).
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/reduce-grad-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { load, matmulCeiling, mobileNetV2Step, ms, stats, stepAB, stepContext, timedStep } from './ab-lib.mjs';

// tfjs's own gradient functions, before forgetless registers its own over them: tfjs-core's
// register_all_gradients as @forgetless/core carries it for Node (its file, run first)
await import(new URL('../../../packages/core/dist/generated/tfjs-gradients.js', import.meta.url).href);
const stock = { Mean: tf.getGradient('Mean').gradFunc, Sum: tf.getGradient('Sum').gradFunc };
const { useBackend, withGradientMode } = await import('@forgetless/core');

const rounds = Number(process.env.ROUNDS ?? 8);
const blocks = Number(process.env.BLOCKS ?? 6);
const warm = Number(process.env.WARM ?? 5);
await useBackend('wasm');
console.log(`load average at start ${load()}, ${new Date().toISOString()}, ${blocks} blocks of ${rounds} runs after ${warm} warm-ups`);
const cases = [
  { what: 'mean [8, 3, 3, 1280] over [1, 2]', shape: [8, 3, 3, 1280], axis: [1, 2], op: 'mean' },
  { what: 'mean [32, 3, 3, 1280] over [1, 2]', shape: [32, 3, 3, 1280], axis: [1, 2], op: 'mean' },
  { what: 'mean [32, 7, 7, 1280] over [1, 2]', shape: [32, 7, 7, 1280], axis: [1, 2], op: 'mean' },
  { what: 'mean [32, 24, 24, 64] over [1, 2]', shape: [32, 24, 24, 64], axis: [1, 2], op: 'mean' },
  { what: 'sum [2200000] (all)', shape: [2200000], axis: undefined, op: 'sum' },
];
const reduce = (op, a, axis) => (op === 'mean' ? tf.mean(a, axis) : tf.sum(a, axis));
for (const c of cases) {
  const x = tf.randomNormal(c.shape, 0, 1, 'float32', 1);
  const probe = tf.tidy(() => tf.randomNormal(reduce(c.op, x, c.axis).shape, 0, 1, 'float32', 2));
  const g = tf.grad((a) => tf.sum(tf.mul(reduce(c.op, a, c.axis), probe)));
  const run = (mode) => () => {
    const r = withGradientMode(mode, () => g(x));
    r.dataSync();
    return r;
  };
  const timed = (mode) => {
    const t0 = performance.now();
    run(mode)().dispose();
    return performance.now() - t0;
  };
  const [a, b] = [run('stock')(), run('auto')()];
  const same = tf.tidy(() => tf.all(tf.equal(a, b)).dataSync()[0] === 1);
  tf.dispose([a, b]);
  if (!same) throw new Error(`${c.what}: the two gradients differ`);
  for (let i = 0; i < warm; i++) for (const m of ['stock', 'auto']) timed(m);
  const times = { stock: [], auto: [] };
  for (let k = 0; k < blocks; k++) {
    const m = [0, 3].includes(k % 4) ? 'stock' : 'auto';
    for (let i = 0; i < rounds; i++) times[m].push(timed(m));
  }
  const t = { stock: stats(times.stock), concat: stats(times.auto) };
  console.log(`${c.what}: before (ones × δ) ${ms(t.stock)} | after (Concat) ${ms(t.concat)} | after/before ${(t.concat.med / t.stock.med).toFixed(3)} | bit for bit`);
  tf.dispose([x, probe]);
}

// whole steps: forgetless's registered configs keep their identity (so the step does not put them back)
// and take tfjs's functions for the 'before' rounds
const own = { Mean: tf.getGradient('Mean'), Sum: tf.getGradient('Sum') };
const ownFns = { Mean: own.Mean.gradFunc, Sum: own.Sum.gradFunc };
if (ownFns.Mean === stock.Mean || ownFns.Sum === stock.Sum) throw new Error('forgetless did not register its Mean/Sum gradients');
const useStock = (on) => {
  for (const k of ['Mean', 'Sum']) own[k].gradFunc = on ? stock[k] : ownFns[k];
};
const stepRounds = Number(process.env.STEP_ROUNDS ?? 15);
const ceiling = matmulCeiling();
const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
const x = tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1);
// GFLOP of one step as the conv-speed rows count them
for (const [alpha, gflop] of [
  [0.35, 0.496],
  [1, 2.61],
]) {
  const model = await mobileNetV2Step(alpha);
  const ctx = await stepContext(model, tf.train.sgd(0.01));
  const what = `MobileNetV2 α ${alpha} 96², batch 8, SGD`;
  const step = async (before) => {
    useStock(before);
    try {
      return await timedStep(what, ctx, x, y);
    } finally {
      useStock(false);
    }
  };
  await stepAB({ name: what, gflop, step: (after) => step(!after), rounds: stepRounds, warm: 5, ceiling, before: "before (tfjs's Mean/Sum gradients)" });
  model.dispose();
}
console.log(`load average at end ${load()}`);
