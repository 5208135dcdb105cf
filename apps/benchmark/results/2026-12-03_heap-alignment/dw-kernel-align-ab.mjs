// The depthwise kernels of two builds of depthwise-simd.c on one memory, interleaved in alternating order:
// dw_filter_grad, dw_input_grad or dw_forward at MobileNetV2's 3×3 shapes (batch 8), tensors at 8 mod 16 bytes as
// tfjs-wasm's heap places them; COLD=1 writes a 64 MB buffer before every call (inputs from memory, not
// cache). Median ms and GFLOP/s of each build, their ratio, and the largest relative difference of the outputs.
//   clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin -Wl,--no-entry -Wl,--import-memory -o A.wasm packages/core/src/ops/depthwise-simd.c
//   (the same for the variant, B.wasm)
//   node apps/benchmark/scripts/dw-kernel-ab.mjs A.wasm B.wasm [dw_filter_grad|dw_input_grad|dw_forward]      ROUNDS=31, WARM=40, COLD=1,
//   SHAPES='[[N, H, W, K, stride], …]'
// WARM untimed calls of each build come first at every shape: fewer leave the first shape's code in V8's baseline tier.
import { readFileSync } from 'node:fs';
const memory = new WebAssembly.Memory({ initial: 4096 }); // 256 MB
const inst = (f) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), { env: { memory } }).exports;
const [fa, fb, kernelArg] = process.argv.slice(2);
if (!fa || !fb) throw new Error('usage: node dw-kernel-ab.mjs A.wasm B.wasm [dw_filter_grad|dw_input_grad|dw_forward]');
const A = inst(fa);
const B = inst(fb);
const heap = new Float32Array(memory.buffer);
const kernel = kernelArg ?? 'dw_filter_grad';
const cold = process.env.COLD === '1';
const rounds = Number(process.env.ROUNDS ?? 31);
// N, H, W, K, stride
const shapes = process.env.SHAPES
  ? JSON.parse(process.env.SHAPES)
  : [
      [8, 48, 48, 96, 2],
      [8, 48, 48, 48, 2],
      [8, 24, 24, 144, 1],
      [8, 24, 24, 48, 2],
      [8, 12, 12, 96, 2],
      [8, 6, 6, 576, 1],
      [8, 48, 48, 48, 1],
      [8, 12, 12, 192, 1],
    ];
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
let off = 8; // floats; tfjs places tensors at 8 mod 16 bytes: byte offset 8 + 16k
const alloc = (n) => {
  const o = off;
  off += n + 64;
  return o;
};
const FLUSH = alloc(16 << 20); // 64 MB
const flush = () => {
  for (let i = 0; i < 16 << 20; i += 16) heap[FLUSH + i] += 1;
};
for (const [N, H, W, K, S] of shapes) {
  off = FLUSH + (16 << 20) + 2 + 64;
  const HO = Math.ceil(H / S),
    WO = Math.ceil(W / S);
  const PT = S === 1 ? 1 : Math.max(0, (HO - 1) * S + 3 - H) >> 1,
    PL = PT;
  const nx = N * H * W * K,
    ny = N * HO * WO * K;
  // set a at 8 mod 16 bytes (tfjs-wasm's heap), set b at 0 mod 16 (SHIFT_B floats past a 16-byte boundary)
  const mk = (shift) => {
    off = (((off + 64) >> 2) << 2) + shift;
    const x = alloc(nx),
      dy = alloc(ny),
      w = alloc(9 * K),
      o = alloc(Math.max(nx, 9 * K));
    for (let i = 0; i < nx; i++) heap[x + i] = Math.sin(i * 0.37);
    for (let i = 0; i < ny; i++) heap[dy + i] = Math.cos(i * 0.11);
    for (let i = 0; i < 9 * K; i++) heap[w + i] = Math.sin(i * 1.3);
    return { x, dy, w, o };
  };
  const sa = mk(2),
    sb = mk(Number(process.env.SHIFT_B ?? 0));
  const oa = sa.o,
    ob = sb.o;
  const call = (M, o) => {
    const { x, dy, w } = o === oa ? sa : sb;
    return kernel === 'dw_filter_grad'
      ? M.dw_filter_grad(x * 4, dy * 4, o * 4, N, H, W, K, 3, 3, S, S, 1, 1, PT, PL, HO, WO)
      : kernel === 'dw_forward'
        ? M.dw_forward(x * 4, w * 4, o * 4, N, H, W, K, 3, 3, S, S, 1, 1, PT, PL, HO, WO)
        : M.dw_input_grad(dy * 4, w * 4, o * 4, N, H, W, K, 3, 3, S, S, 1, 1, PT, PL, HO, WO);
  };
  const t = { a: [], b: [] };
  for (let r = 0; r < Number(process.env.WARM ?? 40); r++) {
    call(A, oa);
    call(B, ob);
  }
  for (let r = 0; r < rounds; r++)
    for (const v of r % 2 ? ['b', 'a'] : ['a', 'b']) {
      if (cold) flush();
      const t0 = performance.now();
      call(v === 'a' ? A : B, v === 'a' ? oa : ob);
      t[v].push(performance.now() - t0);
    }
  const n = kernel === 'dw_filter_grad' ? 9 * K : kernel === 'dw_forward' ? ny : nx;
  let d = 0,
    m = 0;
  for (let i = 0; i < n; i++) {
    d = Math.max(d, Math.abs(heap[oa + i] - heap[ob + i]));
    m = Math.max(m, Math.abs(heap[oa + i]));
  }
  const gf = (2 * 9 * ny) / 1e6;
  console.log(
    `${kernel} [${N},${H},${W},${K}] s${S}: a ${med(t.a).toFixed(3)} ms (${(gf / med(t.a)).toFixed(1)} GF/s) | b ${med(t.b).toFixed(3)} ms (${(gf / med(t.b)).toFixed(1)} GF/s) | b/a ${(med(t.b) / med(t.a)).toFixed(3)} | rel diff ${(d / m).toExponential(1)}`,
  );
}
