// Scratch measurement kept with its figures (custom-grad-cost.txt): what tfjs's engine costs per tf.customGrad op on
// wasm, forward and backward. 40 chained custom-gradient ops (each one Identity kernel call each way) against one
// custom-gradient op making the same 80 kernel calls inside, under tf.variableGrads, on a small tensor.
// Run from apps/benchmark/scripts/ (it resolves @forgetless/core from the workspace): cp it there first.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@forgetless/core';

await useBackend('wasm');
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const x0 = tf.variable(tf.randomNormal([8, 4, 4, 8]));
const K = 40;
const op = tf.customGrad((x, save) => {
  save([x]);
  return { value: tf.engine().runKernel('Identity', { x }), gradFunc: (dy) => [tf.engine().runKernel('Identity', { x: dy })] };
});
const chain = () =>
  tf.tidy(() => {
    const { value } = tf.variableGrads(() => {
      let y = x0;
      for (let i = 0; i < K; i++) y = op(y);
      return tf.sum(y);
    }, [x0]);
    return value;
  });
const opK = tf.customGrad((x, save) => {
  save([x]);
  let y = x;
  for (let i = 0; i < K; i++) y = tf.engine().runKernel('Identity', { x: y });
  return {
    value: y,
    gradFunc: (dy) => {
      let d = dy;
      for (let i = 0; i < K; i++) d = tf.engine().runKernel('Identity', { x: d });
      return [d];
    },
  };
});
const one = () => tf.tidy(() => tf.variableGrads(() => tf.sum(opK(x0)), [x0]).value);
const fns = { [`${K} customGrad ops`]: chain, [`1 customGrad op with ${K} kernel calls each way`]: one };
for (let r = 0; r < 50; r++) for (const f of Object.values(fns)) f().dispose();
const t = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
for (let r = 0; r < 101; r++)
  for (const [k, f] of Object.entries(fns)) {
    const t0 = performance.now();
    f().dispose();
    t[k].push(performance.now() - t0);
  }
for (const k in t) console.log(`${k}: ${med(t[k]).toFixed(3)} ms (median of 101)`);
console.log(`tensors left: ${tf.memory().numTensors} (x0 and its value)`);
