// Why MAS on a real pretrained MobileNetV2 (nsfwjs, uint8-quantized, 224²; scripts/fetch-real-models.sh) differs by ~1e-3
// between wasm and cpu (noticed in 2026-12-03_dw-s2-rows/real-model-check.txt). Two parts:
// 1. MAS (2 examples) on wasm and cpu at the input x and at x ± 1e-6·cos(i): each backend against itself and the other.
// 2. Every conv/depthwise output that feeds a batch norm + ReLU6 is captured on both backends; the batch norm's output is
//    computed from each capture in float64 (moving statistics, as MAS runs the model), and the elements whose ReLU6 mask
//    (0 < y ≤ 6) differs between the backends are listed.
// From apps/benchmark: node results/2026-12-03_real-model-kink/real-model-kink.mjs <dir>/mobilenet_v2/model.json
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, ArraySource } from '@forgetless/core';
import { loadLayersModel } from '@forgetless/core/node';
import { mas } from '@forgetless/importances';
const path = process.argv[2];
const n = 2;
const input = (size, eps) => Float32Array.from({ length: n * size }, (_, i) => (Math.sin(i * 0.37) + 1) / 2 + eps * Math.cos(i));

async function masRun(backend, eps) {
  await useBackend(backend);
  const { model } = await loadLayersModel(path);
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  const source = new ArraySource({ x: input(size, eps), y: [0, 1], exampleShape: model.inputShape, numClasses: model.numClasses });
  const before = tf.memory().numTensors;
  const m = await mas(model, source, { batchSize: n });
  const out = {};
  for (const [k, v] of Object.entries(m)) {
    out[k] = v.dataSync().slice();
    v.dispose();
  }
  if (tf.memory().numTensors !== before) throw new Error(`${backend}: tensors ${before} → ${tf.memory().numTensors}`);
  model.dispose();
  for (const v of Object.values(out)) if (!v.every(Number.isFinite)) throw new Error(`${backend}: non-finite MAS`);
  return out;
}
function worst(A, B) {
  let w = 0,
    name = '';
  for (const k of Object.keys(B)) {
    let num = 0,
      den = 1e-30;
    for (let i = 0; i < B[k].length; i++) {
      num = Math.max(num, Math.abs(A[k][i] - B[k][i]));
      den = Math.max(den, Math.abs(B[k][i]));
    }
    if (num / den > w) [w, name] = [num / den, k];
  }
  return `${w.toExponential(2)} (${name})`;
}
const r = {};
for (const b of ['wasm', 'cpu']) for (const e of [0, 1e-6, -1e-6]) r[`${b} ${e}`] = await masRun(b, e);
console.log('# 1. MAS, 2 examples: worst ‖a − b‖∞ / ‖b‖∞ over the parameters');
for (const [a, b] of [
  ['wasm 0', 'cpu 0'],
  ['wasm 0', 'wasm 0.000001'],
  ['wasm 0', 'wasm -0.000001'],
  ['cpu 0', 'cpu 0.000001'],
  ['cpu 0', 'cpu -0.000001'],
  ['wasm 0.000001', 'cpu 0.000001'],
  ['wasm -0.000001', 'cpu -0.000001'],
  ['wasm 0', 'cpu 0.000001'],
])
  console.log(
    `${a.replace(' 0.000001', ' x+1e-6').replace(' -0.000001', ' x−1e-6').replace(/ 0$/, ' x')} against ${b.replace(' 0.000001', ' x+1e-6').replace(' -0.000001', ' x−1e-6').replace(/ 0$/, ' x')}: ${worst(r[a], r[b])}`,
  );

// Each batch norm followed by ReLU6, as each backend computed it in float32 at x + eps·cos(i): on cpu the batch norm's own
// output y (its capture's preActivation; the ReLU6 runs apart), on wasm the ReLU6's output (the batch norm and ReLU6 run as
// one kernel, whose capture holds relu6(y)). ReLU6's gradient mask is 0 < y ≤ 6: on wasm 0 < relu6(y) < 6 gives it, except
// where relu6(y) = 6 exactly (y ≥ 6: the mask is 1 only for y = 6), which is counted apart.
async function bnOutputs(backend, eps) {
  await useBackend(backend);
  const { model } = await loadLayersModel(path);
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  const capture = {};
  for (const l of model.parametricLayers) capture[l.name] = {};
  const before = tf.memory().numTensors;
  const x = tf.tensor(input(size, eps), [n, ...model.inputShape]);
  const kept = tf.tidy(() => {
    model.logits(x, { capture });
    return Object.fromEntries(
      Object.entries(capture)
        .filter(([k, c]) => /BN$|_bn$/.test(k) && c.output && (backend !== 'cpu' || c.output !== c.preActivation)) // on cpu: ReLU6 after it
        .flatMap(([k, c]) => {
          // and the conv's output the batch norm normalises
          const conv = k === 'bn_Conv1' ? 'Conv1' : k.replace(/_BN$/, '');
          return [
            [k, backend === 'cpu' ? c.preActivation : c.output],
            [`${k} conv`, capture[conv].preActivation],
          ];
        }),
    );
  });
  const out = Object.fromEntries(Object.entries(kept).map(([k, t]) => [k, t.dataSync().slice()]));
  tf.dispose([x, ...Object.values(kept)]);
  if (tf.memory().numTensors !== before) throw new Error(`${backend}: tensors ${before} → ${tf.memory().numTensors} after the captured forward`);
  return out;
}
const W = await bnOutputs('wasm', 0);
for (const [label, e] of [
  ['cpu at x', 0],
  ['cpu at x + 1e-6·cos(i)', 1e-6],
  ['cpu at x − 1e-6·cos(i)', -1e-6],
]) {
  const C = await bnOutputs('cpu', e);
  let total = 0,
    count = 0,
    six = 0,
    layers = 0;
  console.log(`\n# 2. ReLU6 masks that differ between wasm at x and ${label}`);
  for (const bn of Object.keys(C).filter((k) => !k.endsWith(' conv'))) {
    const a = W[bn],
      b = C[bn],
      ca = W[`${bn} conv`],
      cb = C[`${bn} conv`];
    layers++;
    count += a.length;
    for (let i = 0; i < a.length; i++) {
      if (a[i] === 6 && Math.abs(b[i] - 6) < 1e-5) six++;
      else if ((a[i] > 0 && a[i] < 6) !== (b[i] > 0 && b[i] <= 6)) {
        total++;
        console.log(`${bn} [${i}]: wasm relu6(y) ${a[i]}, ${label} y ${b[i]}; the conv's output there: wasm ${ca[i]}, ${label} ${cb[i]}`);
      }
    }
  }
  console.log(`${total} of ${count} masks differ (${layers} batch norms + ReLU6); ${six} where wasm gave 6 and cpu's y is within 1e-5 of 6 (not decided)`);
}
