// dw ∂x then the batch norm + ReLU6 backward (two passes), against dw ∂x with the batch norm's first
// pass fused per row then its second pass alone; one module, alternating; COLD=1 flushes 64 MB before each.
// The module: depthwise-simd.c and norm-simd.c at 3e18e0d with dw-bn-sums-rows.diff applied, built with
//   clang --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin -Wall -Wl,--no-entry -Wl,--import-memory -o B.wasm depthwise-simd.c norm-simd.c
//   COLD=0|1 ROUNDS=31 node pair-ab.mjs B.wasm
import { readFileSync } from 'node:fs';
const memory = new WebAssembly.Memory({ initial: 8192 });
const M = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(process.argv[2])), { env: { memory } }).exports;
const heap = new Float32Array(memory.buffer);
const i32 = new Int32Array(memory.buffer);
const cold = process.env.COLD === '1';
const rounds = Number(process.env.ROUNDS ?? 31);
const shapes = process.env.SHAPES
  ? JSON.parse(process.env.SHAPES)
  : [
      [8, 48, 48, 16, 1],
      [8, 48, 48, 48, 2],
      [8, 24, 24, 48, 1],
      [8, 24, 24, 48, 2],
      [8, 12, 12, 96, 1],
      [8, 12, 12, 96, 2],
      [8, 6, 6, 192, 1],
      [8, 48, 48, 96, 2],
      [8, 24, 24, 144, 1],
    ];
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
const inplace = process.env.INPLACE === '1';
for (const [N, H, W, K, S] of shapes) {
  off = FLUSH + (16 << 20) + 2 + 64;
  const HO = Math.ceil(H / S),
    WO = Math.ceil(W / S);
  const PT = S === 1 ? 1 : Math.max(0, (HO - 1) * S + 3 - H) >> 1,
    PL = PT;
  const nx = N * H * W * K,
    ny = N * HO * WO * K,
    P = N * H * W;
  const x = alloc(nx),
    dy = alloc(ny),
    w = alloc(9 * K),
    g = alloc(K),
    be = alloc(K),
    st = alloc(2 * K);
  const dxa = alloc(nx),
    outa = alloc(nx),
    dga = alloc(K),
    dba = alloc(K);
  const dxb = alloc(nx),
    outb = alloc(nx),
    dgb = alloc(K),
    dbb = alloc(K),
    blk = alloc(16);
  for (let i = 0; i < nx; i++) heap[x + i] = 2 * Math.sin(i * 0.37) + 0.3 * Math.cos(i * 0.013);
  for (let i = 0; i < ny; i++) heap[dy + i] = Math.cos(i * 0.11);
  for (let i = 0; i < 9 * K; i++) heap[w + i] = Math.sin(i * 1.3);
  for (let c = 0; c < K; c++) {
    heap[g + c] = 1 + 0.3 * Math.sin(c);
    heap[be + c] = 0.5 + Math.cos(c * 0.7);
    heap[st + c] = 0.05 * Math.sin(c * 3);
    heap[st + K + c] = 1 / 1.45;
  }
  i32[blk] = x * 4;
  i32[blk + 1] = g * 4;
  i32[blk + 2] = be * 4;
  i32[blk + 3] = st * 4;
  i32[blk + 4] = (st + K) * 4;
  i32[blk + 5] = dbb * 4;
  i32[blk + 6] = dgb * 4;
  heap[blk + 7] = 6;
  const geo = [N, H, W, K, 3, 3, S, S, 1, 1, PT, PL, HO, WO];
  const A = () => {
    M.dw_input_grad(dy * 4, w * 4, dxa * 4, ...geo);
    M.bn_relu_backward(x * 4, dxa * 4, g * 4, be * 4, st * 4, (st + K) * 4, outa * 4, dga * 4, dba * 4, P, K, 6);
  };
  const B = () => {
    M.dw_input_grad_bn(dy * 4, w * 4, dxb * 4, ...geo, blk * 4);
    M.bn_backward_apply(x * 4, dxb * 4, g * 4, st * 4, (st + K) * 4, dgb * 4, dbb * 4, (inplace ? dxb : outb) * 4, P, K);
  };
  const t = { a: [], b: [] };
  for (let r = 0; r < 20; r++) {
    A();
    B();
  }
  for (let r = 0; r < rounds; r++)
    for (const v of r % 2 ? ['b', 'a'] : ['a', 'b']) {
      if (cold) flush();
      const t0 = performance.now();
      (v === 'a' ? A : B)();
      t[v].push(performance.now() - t0);
    }
  const ob = inplace ? dxb : outb;
  const rel = (a, b, n) => {
    let d = 0,
      m = 0;
    for (let i = 0; i < n; i++) {
      d = Math.max(d, Math.abs(heap[a + i] - heap[b + i]));
      m = Math.max(m, Math.abs(heap[a + i]));
    }
    return (d / m).toExponential(1);
  };
  console.log(
    `[${N},${H},${W},${K}] s${S}: apart ${med(t.a).toFixed(3)} ms | fused ${med(t.b).toFixed(3)} ms | fused/apart ${(med(t.b) / med(t.a)).toFixed(3)} (min ${(Math.min(...t.b) / Math.min(...t.a)).toFixed(3)}) | dx ${rel(outa, ob, nx)} dγ ${rel(dga, dgb, K)} dβ ${rel(dba, dbb, K)}`,
  );
}
