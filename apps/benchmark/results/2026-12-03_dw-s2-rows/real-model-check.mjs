// A real pretrained model nobody here built (nsfwjs's MobileNetV2, uint8-quantized, 224²; scripts/fetch-real-models.sh): the empirical
// Fisher and MAS on wasm with this build's depthwise kernels, with an older build's dw_forward and dw_input_grad swapped in, and on cpu.
// From apps/benchmark: node results/2026-12-03_dw-s2-rows/real-model-check.mjs <dir>/mobilenet_v2/model.json OLD.wasm
import * as tf from '@tensorflow/tfjs-core';
import { useBackend, ArraySource, simdKernelsStatus } from '@forgetless/core';
import { loadLayersModel } from '@forgetless/core/node';
import { fisherDiagonal, mas } from '@forgetless/importances';
import { readFileSync } from 'node:fs';
import { depthwiseSimd } from '../../../../packages/core/dist/ops/depthwise-simd.js';
const path = process.argv[2];
const n = 2;
async function run(backend, oldBuild) {
  await useBackend(backend);
  if (backend === 'wasm') {
    const b = tf.backend();
    const ex = depthwiseSimd(b);
    const memory = b.wasm.asm?.memory ?? b.wasm.wasmMemory;
    const cur = oldBuild ? new WebAssembly.Instance(new WebAssembly.Module(readFileSync(oldBuild)), { env: { memory } }).exports : undefined;
    for (const e of ['dw_forward', 'dw_input_grad']) {
      ex.orig ??= {};
      ex.orig[e] ??= ex[e];
      ex[e] = cur ? (...a) => cur[e](...a) : ex.orig[e];
    }
  }
  const { model } = await loadLayersModel(path);
  const size = model.inputShape.reduce((a, b) => a * b, 1);
  const xs = Float32Array.from({ length: n * size }, (_, i) => (Math.sin(i * 0.37) + 1) / 2);
  const source = new ArraySource({ x: xs, y: [0, 1], exampleShape: model.inputShape, numClasses: model.numClasses });
  const before = tf.memory().numTensors;
  const c0 = { ...simdKernelsStatus().calls };
  const t = performance.now();
  const f = await fisherDiagonal(model, source, { variant: 'empirical', batchSize: n });
  const m = await mas(model, source, { batchSize: n });
  const ms = performance.now() - t;
  const c1 = simdKernelsStatus().calls;
  const out = {};
  for (const [k, v] of Object.entries(f)) out[`F ${k}`] = v.dataSync().slice();
  for (const [k, v] of Object.entries(m)) out[`M ${k}`] = v.dataSync().slice();
  for (const v of [...Object.values(f), ...Object.values(m)]) v.dispose();
  console.log(
    `${backend}: ${ms.toFixed(0)} ms; dw_input_grad calls ${(c1.dw_input_grad ?? 0) - (c0.dw_input_grad ?? 0)}, dw_forward ${(c1.dw_forward ?? 0) - (c0.dw_forward ?? 0)}; tensors ${before} → ${tf.memory().numTensors}`,
  );
  return out;
}
const w = await run('wasm');
const o = await run('wasm', process.argv[3]);
const c = await run('cpu');
function cmp(A, B, label) {
  for (const p of ['F', 'M']) {
    let worst = 0,
      name = '',
      finite = true;
    for (const k of Object.keys(B)) {
      if (!k.startsWith(p)) continue;
      const a = A[k],
        b = B[k];
      let num = 0,
        den = 1e-30;
      for (let i = 0; i < b.length; i++) {
        if (!Number.isFinite(a[i])) finite = false;
        num = Math.max(num, Math.abs(a[i] - b[i]));
        den = Math.max(den, Math.abs(b[i]));
      }
      if (num / den > worst) {
        worst = num / den;
        name = k;
      }
    }
    console.log(`${label} ${p === 'F' ? 'Fisher' : 'MAS'}: worst relative difference ${worst.toExponential(2)} (${name}); finite ${finite}`);
  }
}
cmp(w, o, 'wasm new vs wasm old kernels');
cmp(w, c, 'wasm new vs cpu');
cmp(o, c, 'wasm old vs cpu');
