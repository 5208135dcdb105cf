// The 1×1 (pointwise) GEMM kernels of two builds of gemm-simd.c on one memory, interleaved in alternating
// order: pw_forward, pw_input_grad or pw_filter_grad at [P, C] → O shapes, tensors at 8 mod 16 bytes as
// tfjs-wasm's heap places them, with tfjs-wasm's 1024³ matMul timed every fourth round in the same process.
// Median ms and GFLOP/s of each build per shape, their ratio, the largest relative difference of the outputs,
// and the calls-weighted total.
//   clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin -Wl,--no-entry -Wl,--import-memory -o A.wasm packages/core/src/ops/gemm-simd.c
//   (the same for the variant, B.wasm)
//   node apps/benchmark/scripts/gemm-kernel-ab.mjs A.wasm B.wasm [pw_forward|pw_input_grad|pw_filter_grad]     ROUNDS=21,
//   SHAPES='[[P, C, O, calls], …]' (default: the 1×1 convolutions of Keras MobileNetV2 α 1.0, 96², batch 8, and two dense layers)
import { readFileSync } from 'node:fs';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { alternating } from './ab-lib.mjs';

const memory = new WebAssembly.Memory({ initial: 4096 }); // 256 MB
const inst = (f) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), { env: { memory } }).exports;
const [fa, fb, kernel = 'pw_forward'] = process.argv.slice(2);
if (!fa || !fb) throw new Error('usage: node gemm-kernel-ab.mjs A.wasm B.wasm [pw_forward|pw_input_grad|pw_filter_grad]');
const A = inst(fa);
const B = inst(fb);
const heap = new Float32Array(memory.buffer);
const rounds = Number(process.env.ROUNDS ?? 21);
const shapes = process.env.SHAPES
  ? JSON.parse(process.env.SHAPES)
  : [
      [18432, 32, 16, 1],
      [18432, 16, 96, 1],
      [4608, 96, 24, 1],
      [4608, 24, 144, 2],
      [4608, 144, 24, 1],
      [1152, 144, 32, 1],
      [1152, 32, 192, 3],
      [1152, 192, 32, 2],
      [288, 192, 64, 1],
      [288, 64, 384, 4],
      [288, 384, 64, 3],
      [288, 384, 96, 1],
      [288, 96, 576, 3],
      [288, 576, 96, 2],
      [72, 576, 160, 1],
      [72, 160, 960, 3],
      [72, 960, 160, 2],
      [72, 960, 320, 1],
      [72, 320, 1280, 1],
      [100, 784, 300, 1],
      [100, 300, 150, 1],
    ];
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
await tf.setBackend('wasm');
const ma = tf.randomUniform([1024, 1024]);
const mb = tf.randomUniform([1024, 1024]);
const mm = () => {
  const t0 = performance.now();
  tf.matMul(ma, mb).dispose();
  return performance.now() - t0;
};
let tA = 0;
let tB = 0;
let flop = 0;
const mmTimes = [];
for (const [P, C, O, calls] of shapes) {
  let off = 2 + 64; // floats: byte offset 8 mod 16
  const alloc = (k) => {
    const o = off;
    off += k + 64;
    return o;
  };
  const out = Math.max(P * C, P * O, C * O);
  const x = alloc(P * C),
    w = alloc(C * O),
    dy = alloc(P * O),
    scratch = alloc(C * O),
    oa = alloc(out),
    ob = alloc(out);
  for (let i = 0; i < P * C; i++) heap[x + i] = Math.sin(i * 0.37);
  for (let i = 0; i < P * O; i++) heap[dy + i] = Math.cos(i * 0.11);
  for (let i = 0; i < C * O; i++) heap[w + i] = Math.sin(i * 1.3);
  const call = (M, o) =>
    kernel === 'pw_forward'
      ? M.pw_forward(4 * x, 4 * w, 4 * o, P, C, O)
      : kernel === 'pw_input_grad'
        ? M.pw_input_grad(4 * dy, 4 * w, 4 * scratch, 4 * o, P, C, O)
        : M.pw_filter_grad(4 * x, 4 * dy, 4 * o, P, C, O);
  const { ta, tb } = alternating(
    () => call(A, oa),
    () => call(B, ob),
    rounds,
    () => mmTimes.push(mm()),
  );
  const len = kernel === 'pw_filter_grad' ? C * O : kernel === 'pw_input_grad' ? P * C : P * O;
  let d = 0;
  let m = 0;
  for (let i = 0; i < len; i++) {
    d = Math.max(d, Math.abs(heap[oa + i] - heap[ob + i]));
    m = Math.max(m, Math.abs(heap[oa + i]));
  }
  const f = 2 * P * C * O;
  const a = med(ta);
  const b = med(tb);
  tA += a * calls;
  tB += b * calls;
  flop += f * calls;
  console.log(
    `${P}×${C}→${O} ×${calls}: A ${a.toFixed(3)} ms ${(f / a / 1e6).toFixed(1)} GFLOP/s | B ${b.toFixed(3)} ms ${(f / b / 1e6).toFixed(1)} GFLOP/s | B/A ${(b / a).toFixed(2)} | rel diff ${(d / m).toExponential(1)}`,
  );
}
console.log(
  `all (× calls): A ${tA.toFixed(2)} ms ${(flop / tA / 1e6).toFixed(1)} GFLOP/s, B ${tB.toFixed(2)} ms ${(flop / tB / 1e6).toFixed(1)} GFLOP/s, B/A ${(tB / tA).toFixed(3)}; tfjs-wasm matMul 1024³ ${((2 * 1024 ** 3) / med(mmTimes) / 1e6).toFixed(1)} GFLOP/s`,
);
