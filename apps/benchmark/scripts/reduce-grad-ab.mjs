// The gradients of Mean (a global average pool's) and Sum on wasm: tfjs's (δ multiplied by a tensor of
// ones of the input's shape, `setGradientMode('stock')`, before) against forgetless's (δ ÷ n repeated
// by Concat, 'auto', after), for the pools of MobileNetV2 at 96² (batch 8 and 32), 224² (batch 32) and a
// wide pool of 24×24×64, and a full Sum of 2.2M values (a penalty over MobileNetV2's weights); each the
// whole tf.grad of mean/sum(x)·probe, timed in BLOCKS blocks (default 6) of ROUNDS runs (default 8),
// before and after in turn (ABBAAB…: alternating single runs would let one side's garbage, the ones
// tensors, be collected in the other's time), after WARM warm-ups of each (default 5); median (min–max)
// ms over all blocks; the values compared bit for bit; the load average at start and end (benchmark
// README, "Mean's and Sum's gradients").
// Build first (`npx turbo run build --filter=@forgetless/benchmark...`).
//   node apps/benchmark/scripts/reduce-grad-ab.mjs
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, withGradientMode } from '@forgetless/core';
import { load, ms, stats } from './ab-lib.mjs';

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
console.log(`load average at end ${load()}`);
