// The depthwise kernels at three MobileNetV2 shapes (batch 8) beside their memory traffic's floor: kernels of
// memory-floor.c that read (read_sum: SIMD adds, nothing kept) and write (expand4: each value stored four times in
// a row) the same bytes in address order and compute nothing. Forward: read x, write y; input gradient: read dy,
// write dx; filter gradient: read x and dy. COLD=1 (the default) writes 64 MB before each call; COLD=0 does not
// (the other five calls of the round run in between). Medians of 31 rounds, alternating order, after 30 untimed.
//   clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin -Wl,--no-entry -Wl,--import-memory -o memory-floor.wasm memory-floor.c
//   clang … -o dw.wasm packages/core/src/ops/depthwise-simd.c
//   COLD=1|0 node memory-floor.mjs dw.wasm memory-floor.wasm
import { readFileSync } from 'node:fs';
const memory = new WebAssembly.Memory({ initial: 4096 });
const inst = (f) => new WebAssembly.Instance(new WebAssembly.Module(readFileSync(f)), { env: { memory } }).exports;
const D = inst(process.argv[2]);
const F = inst(process.argv[3] ?? 'memory-floor.wasm');
const heap = new Float32Array(memory.buffer);
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
let off = 8;
const alloc = (n) => {
  const o = off;
  off += n + 64;
  return o;
};
const FLUSH = alloc(16 << 20);
const flush = () => {
  for (let i = 0; i < 16 << 20; i += 16) heap[FLUSH + i] += 1;
};
const cold = process.env.COLD !== '0';
for (const [N, H, W, K, S] of JSON.parse(process.env.SHAPES ?? '[[8,48,48,96,2],[8,6,6,576,1],[8,24,24,144,1]]')) {
  off = FLUSH + (16 << 20) + 2 + 64;
  const HO = Math.ceil(H / S),
    WO = Math.ceil(W / S);
  const PT = S === 1 ? 1 : Math.max(0, (HO - 1) * S + 3 - H) >> 1,
    PL = PT;
  const nx = N * H * W * K,
    ny = N * HO * WO * K;
  const x = alloc(nx),
    dy = alloc(ny),
    w = alloc(9 * K),
    o = alloc(Math.max(nx, 4 * ny, 9 * K)),
    o2 = alloc(Math.max(nx, 4 * ny));
  for (let i = 0; i < nx; i++) heap[x + i] = Math.sin(i * 0.37);
  for (let i = 0; i < ny; i++) heap[dy + i] = Math.cos(i * 0.11);
  for (let i = 0; i < 9 * K; i++) heap[w + i] = Math.sin(i * 1.3);
  const fns = {
    fw: () => D.dw_forward(x * 4, w * 4, o * 4, N, H, W, K, 3, 3, S, S, 1, 1, PT, PL, HO, WO),
    'fw floor (read x, write y)': () => {
      F.read_sum(x * 4, nx);
      F.expand4(dy * 4, o2 * 4, ny / 4);
    },
    dx: () => D.dw_input_grad(dy * 4, w * 4, o * 4, N, H, W, K, 3, 3, S, S, 1, 1, PT, PL, HO, WO),
    'dx floor (read dy, write dx)': () => {
      if (S === 2) return F.expand4(dy * 4, o2 * 4, ny);
      F.read_sum(dy * 4, ny);
      F.expand4(dy * 4, o2 * 4, nx / 4);
    },
    dw: () => D.dw_filter_grad(x * 4, dy * 4, o * 4, N, H, W, K, 3, 3, S, S, 1, 1, PT, PL, HO, WO),
    'dw floor (read x, dy)': () => {
      F.read_sum(x * 4, nx);
      F.read_sum(dy * 4, ny);
    },
  };
  const t = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let r = 0; r < 30; r++) for (const k in fns) fns[k]();
  for (let r = 0; r < 31; r++)
    for (const k of r % 2 ? Object.keys(fns).reverse() : Object.keys(fns)) {
      if (cold) flush();
      const t0 = performance.now();
      fns[k]();
      t[k].push(performance.now() - t0);
    }
  const gf = (2 * 9 * ny) / 1e6;
  console.log(
    `[${N},${H},${W},${K}] s${S} ${cold ? 'cold' : 'warm'}: ` +
      Object.keys(fns)
        .map((k) => `${k} ${med(t[k]).toFixed(3)}${k.includes('floor') ? '' : ` (${(gf / med(t[k])).toFixed(1)} GF/s)`}`)
        .join(' | '),
  );
}
