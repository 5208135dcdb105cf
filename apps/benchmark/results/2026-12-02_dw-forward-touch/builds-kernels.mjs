// Scratch benchmark kept with its figures (relaxed-simd-kernels.txt, vcpus.txt): the 1×1 and depthwise kernels of
// several builds of the SIMD module (clang --target=wasm32 -O3 -msimd128 … -o X.wasm packages/core/src/ops/*.c) on one
// memory, each case's builds in rotated order; WARMALL=20 runs every case 20 times first (V8 compiles a wasm function
// with its baseline compiler first and its optimising one later, in the background).
//   WARMALL=20 node builds-kernels.mjs A.wasm B.wasm [C.wasm …]
// three builds of the module on one memory; per kernel median ms of each, interleaved
import { readFileSync } from 'node:fs';
const memory = new WebAssembly.Memory({ initial: 8192 });
const files = process.argv.slice(2);
const M = files.map((f) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), { env: { memory } }).exports);
const heap = new Float32Array(memory.buffer);
let off = 8;
const alloc = (n) => {
  const o = off;
  off += n + 64;
  return o * 4;
};
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const R = Number(process.env.ROUNDS ?? 21);
const cases = [];
// 1x1: P, C, O
for (const [P, C, O] of [
  [18432, 8, 48],
  [18432, 48, 8],
  [4608, 16, 96],
  [4608, 96, 16],
  [1152, 144, 24],
  [288, 56, 336],
  [72, 320, 1280],
]) {
  const x = alloc(P * C),
    w = alloc(C * O),
    y = alloc(P * O),
    dy = alloc(P * O),
    dx = alloc(P * C),
    dw = alloc(C * O),
    wt = alloc(C * O);
  cases.push([`pw_forward ${P}x${C}→${O}`, 2 * P * C * O, (E) => E.pw_forward(x, w, y, P, C, O)]);
  cases.push([`pw_input_grad ${P}x${C}→${O}`, 2 * P * C * O, (E) => E.pw_input_grad(dy, w, wt, dx, P, C, O)]);
  cases.push([`pw_filter_grad ${P}x${C}→${O}`, 2 * P * C * O, (E) => E.pw_filter_grad(x, dy, dw, P, C, O)]);
}
// depthwise 3x3: N H W K stride
for (const [N, H, W, K, S] of [
  [8, 48, 48, 96, 2],
  [8, 24, 24, 144, 1],
  [8, 12, 12, 192, 1],
  [8, 6, 6, 576, 1],
]) {
  const HO = Math.ceil(H / S),
    WO = Math.ceil(W / S);
  const PT = S === 1 ? 1 : Math.max(0, (HO - 1) * S + 3 - H) >> 1;
  const x = alloc(N * H * W * K),
    dy = alloc(N * HO * WO * K),
    w = alloc(9 * K),
    o = alloc(N * H * W * K),
    dw = alloc(9 * K);
  const fl = 2 * 9 * N * HO * WO * K;
  const g = [N, H, W, K, 3, 3, S, S, 1, 1, PT, PT, HO, WO];
  cases.push([`dw_forward ${N},${H},${W},${K} s${S}`, fl, (E) => E.dw_forward(x, w, o, ...g)]);
  cases.push([`dw_input_grad ${N},${H},${W},${K} s${S}`, fl, (E) => E.dw_input_grad(dy, w, o, ...g)]);
  cases.push([`dw_filter_grad ${N},${H},${W},${K} s${S}`, fl, (E) => E.dw_filter_grad(x, dy, dw, ...g)]);
}
for (let i = 0; i < off; i++) heap[i] = Math.sin(i * 0.37);
const WARM = Number(process.env.WARMALL ?? 0);
for (let i = 0; i < WARM; i++) for (const [, , f] of cases) for (const E of M) f(E);
for (const [name, flop, f] of cases) {
  const t = M.map(() => []);
  for (let r = 0; r < R + 10; r++)
    for (let j = 0; j < M.length; j++) {
      const m = (r + j) % M.length;
      const t0 = performance.now();
      f(M[m]);
      t[m].push(performance.now() - t0);
    }
  const ms = t.map((a) => med(a.slice(10)));
  console.log(`${name.padEnd(34)} ${ms.map((v) => `${v.toFixed(3)} ms ${(flop / v / 1e6).toFixed(1)} GF/s`).join(' | ')} | last/first ${(ms[ms.length - 1] / ms[0]).toFixed(3)}`);
}
