// `conv_input_grad` (the input gradient of every non-1×1 Conv2D, gemm-simd.c) of two builds of forgetless's
// SIMD module on one memory, interleaved in alternating order: shapes with few input channels (a stem:
// kh·kw·C not a multiple of 4, whose patch-gradient columns the build before 2026-12-02 left partly to
// scalar code) and one with many (a control: K a multiple of 4, the same code in both), tensors at 8 mod 16
// bytes as tfjs-wasm's heap places them, tfjs-wasm's 1024³ matMul timed every fourth round in the same
// process. Median (min) ms and GFLOP/s of each build per shape, their ratio, the matMul's GFLOP/s, and
// whether the two outputs are the same to the bit.
//   git show <commit>:packages/core/src/ops/gemm-simd.c > /tmp/a/gemm-simd.c    (and the other three sources)
//   clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin -Wl,--no-entry -Wl,--import-memory -o A.wasm \
//     /tmp/a/depthwise-simd.c /tmp/a/norm-simd.c /tmp/a/gemm-simd.c /tmp/a/update-simd.c   (the same for B.wasm)
//   node apps/benchmark/scripts/conv-input-grad-builds-ab.mjs A.wasm B.wasm      ROUNDS=31
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { alternating, matmulCeiling } from './ab-lib.mjs';

const memory = new WebAssembly.Memory({ initial: 4096 }); // 256 MB
const inst = (f) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), { env: { memory } }).exports;
const [fa, fb] = process.argv.slice(2);
if (!fa || !fb) throw new Error('usage: node conv-input-grad-builds-ab.mjs A.wasm B.wasm');
const A = inst(fa);
const B = inst(fb);
const heap = new Float32Array(memory.buffer);
const rounds = Number(process.env.ROUNDS ?? 31);
const KC = 64; // PATCH_CHUNK of gemm-simd.ts
// [name, N, H, W, C, O, kh, kw, stride, pad top/left (the output size follows tfjs's 'valid' or 'same')]
const shapes = [
  ["MobileNetV2's stem, 3×3 s2 valid, 3 → 16, [8, 97, 97, 3]", 8, 97, 97, 3, 16, 3, 3, 2, 'valid'],
  ["ResNet's stem, 7×7 s2 same, 3 → 64, [2, 112, 112, 3]", 2, 112, 112, 3, 64, 7, 7, 2, 'same'],
  ['5×5 s1 same, 3 → 32, [8, 32, 32, 3]', 8, 32, 32, 3, 32, 5, 5, 1, 'same'],
  ["paper 2's conv1, 5×5 s1 valid, 1 → 64, [32, 28, 28, 1]", 32, 28, 28, 1, 64, 5, 5, 1, 'valid'],
  ['control (K = 288, a multiple of 4): 3×3 s2 same, 32 → 64, [8, 24, 24, 32]', 8, 24, 24, 32, 64, 3, 3, 2, 'same'],
];
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const min = (a) => Math.min(...a);
await tf.setBackend('wasm');
const ceiling = matmulCeiling();
const load0 = loadavg()[0];
const gflops = [];
console.log(`conv_input_grad: A = ${fa}, B = ${fb}; ${rounds} rounds, alternating order`);
for (const [name, N, H, W, C, O, kh, kw, s, pad] of shapes) {
  const Ho = pad === 'same' ? Math.ceil(H / s) : Math.floor((H - kh) / s) + 1;
  const Wo = pad === 'same' ? Math.ceil(W / s) : Math.floor((W - kw) / s) + 1;
  const pt = pad === 'same' ? Math.floor(Math.max((Ho - 1) * s + kh - H, 0) / 2) : 0;
  const pl = pad === 'same' ? Math.floor(Math.max((Wo - 1) * s + kw - W, 0) / 2) : 0;
  const K4 = (kh * kw * C + 3) & ~3;
  let off = 2 + 64; // floats: byte offset 8 mod 16
  const alloc = (k) => {
    const o = off;
    off += k + 64;
    return o;
  };
  const nx = N * H * W * C;
  const dy = alloc(N * Ho * Wo * O);
  const w = alloc(kh * kw * C * O);
  const oa = alloc(nx);
  const ob = alloc(nx);
  const scratch = alloc(K4 * O + KC * K4);
  for (let i = 0; i < N * Ho * Wo * O; i++) heap[dy + i] = Math.cos(i * 0.11);
  for (let i = 0; i < kh * kw * C * O; i++) heap[w + i] = Math.sin(i * 1.3);
  const call = (M, o) => M.conv_input_grad(4 * dy, 4 * w, 4 * o, 4 * scratch, N, H, W, C, Ho, Wo, O, kh, kw, s, s, 1, 1, pt, pl, KC);
  const { ta, tb } = alternating(
    () => call(A, oa),
    () => call(B, ob),
    rounds,
    () => gflops.push(ceiling()),
  );
  let same = true;
  for (let i = 0; i < nx && same; i++) same = Object.is(heap[oa + i], heap[ob + i]);
  const f = 2 * N * Ho * Wo * O * kh * kw * C;
  const [a, b] = [med(ta), med(tb)];
  console.log(
    `${name}: A ${a.toFixed(3)} (${min(ta).toFixed(3)}) ms ${(f / a / 1e6).toFixed(1)} GFLOP/s | B ${b.toFixed(3)} (${min(tb).toFixed(3)}) ms ${(f / b / 1e6).toFixed(1)} GFLOP/s | A/B ${(a / b).toFixed(2)} | outputs ${same ? 'the same to the bit' : 'DIFFER'}`,
  );
}
console.log(`matMul 1024³ in the same rounds: ${med(gflops).toFixed(1)} GFLOP/s; load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`);
