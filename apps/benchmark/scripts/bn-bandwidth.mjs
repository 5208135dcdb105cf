// Batch norm (+ReLU6) kernels of forgetless's SIMD module against the memory bandwidth, per shape of
// the MobileNetV2 step (Keras MobileNetV2 α 0.35, 96², batch 8: the [P, C] = [N·H·W, channels] of its
// 52 batch norms), two builds of the module side by side in one process on tfjs-wasm's own heap:
// the calls alternate between them (A B B A …), so load and cache state fall on both alike.
// Beside them tfjs-wasm's Add and Relu on the same number of values: the streaming rate of stock
// wasm SIMD kernels here. GB/s counts the bytes a kernel must move at least: forward 2 reads of x +
// 1 write of y (statistics, then y), gradient 2 reads of x and dy + 1 write of ∂x; Add 2 reads + 1
// write, Relu 1 + 1.
//
//   npx turbo run build --filter=@forgetless/core
//   git show <rev>:packages/core/src/ops/depthwise-simd.wasm.ts > /tmp/old.wasm.ts
//   node apps/benchmark/scripts/bn-bandwidth.mjs /tmp/old.wasm.ts packages/core/src/ops/depthwise-simd.wasm.ts [reps]
// (BN_ONLY=18432x48,4608x48 for some shapes only; BN_COLD=1 for cold caches before each call)
// (either file may also be a raw .wasm built from the C sources)
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@forgetless/core';

const [oldPath, newPath, repsArg] = process.argv.slice(2);
if (!oldPath || !newPath) throw new Error('usage: node bn-bandwidth.mjs <old module .wasm.ts|.wasm> <new module .wasm.ts|.wasm> [reps]');
const reps = Number(repsArg ?? 31);

function bytesOf(path) {
  if (path.endsWith('.wasm')) return readFileSync(path);
  const m = /DEPTHWISE_SIMD_WASM =\s*'([^']+)'/.exec(readFileSync(path, 'utf8'));
  if (!m) throw new Error(`${path}: no DEPTHWISE_SIMD_WASM in it`);
  return Buffer.from(m[1], 'base64');
}

await useBackend('wasm');
const backend = tf.backend();
const memory = backend.wasm.asm?.memory ?? backend.wasm.wasmMemory;
const mods = [oldPath, newPath].map((p) => new WebAssembly.Instance(new WebAssembly.Module(bytesOf(p)), { env: { memory } }).exports);

// [P, C], calls per step of the fused (relu6) and plain batch norm, from tf.profile of the step
const SHAPES = [
  [18432, 48, 1, 0],
  [18432, 16, 2, 0],
  [18432, 8, 0, 1],
  [4608, 48, 4, 0],
  [4608, 8, 0, 2],
  [1152, 96, 5, 0],
  [1152, 48, 1, 0],
  [1152, 16, 0, 3],
  [288, 144, 8, 0],
  [288, 192, 5, 0],
  [288, 96, 1, 0],
  [288, 24, 0, 4],
  [288, 32, 0, 3],
  [72, 1280, 1, 0],
  [72, 336, 6, 0],
  [72, 192, 1, 0],
  [72, 112, 0, 1],
  [72, 56, 0, 3],
];

const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const fmt = (a) => `${med(a).toFixed(3)} (${Math.min(...a).toFixed(3)}–${Math.max(...a).toFixed(3)})`;
console.log(
  `load average at start ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; ${reps} timed calls of each after 5 warm-up`,
);
console.log('kernel         P×C         calls  old ms median (min–max)    new ms median (min–max)    old GB/s new GB/s  Add GB/s Relu GB/s  new/old');
let totOld = 0;
let totNew = 0;
const only = process.env.BN_ONLY?.split(',');
// BN_COLD=1: each call with cold caches (a 64 MB buffer written before it), as a batch norm's saved x is in the step
const cold = process.env.BN_COLD ? new Float32Array(16 << 20) : undefined;
for (const [P, C, fused, plain] of SHAPES) {
  if (only && !only.includes(`${P}x${C}`)) continue;
  const n = P * C;
  const alloc = (k) => backend.wasm._malloc(4 * k);
  const [x, dy, y, dx, g, b, st, v, dg, db] = [n, n, n, n, C, C, 2 * C, C, C, C].map(alloc);
  const heap = () => new Float32Array(memory.buffer);
  const fill = (ptr, k, f) => {
    const h = heap();
    for (let i = 0; i < k; i++) h[ptr / 4 + i] = f(i);
  };
  fill(x, n, (i) => Math.sin(i * 0.37) * 2 + (i % C) * 0.01);
  fill(dy, n, (i) => Math.cos(i * 0.11));
  fill(g, C, (i) => 1 + 0.1 * Math.sin(i));
  fill(b, C, (i) => 2 + 0.3 * Math.cos(i));
  const ta = tf.tensor2d(
    new Float32Array(n).map((_, i) => Math.sin(i)),
    [P, C],
  );
  const tb = tf.tensor2d(
    new Float32Array(n).map((_, i) => Math.cos(i)),
    [P, C],
  );
  const stream = (f) => {
    const ts = [];
    for (let r = 0; r < reps + 5; r++) {
      if (cold) cold.fill(r);
      const t0 = performance.now();
      const o = f();
      o.dataSync !== undefined;
      const t = performance.now() - t0;
      o.dispose();
      if (r >= 5) ts.push(t);
    }
    return ts;
  };
  const add = stream(() => tf.add(ta, tb));
  const relu = stream(() => tf.relu(ta));
  ta.dispose();
  tb.dispose();
  const kinds = [];
  if (fused)
    kinds.push(
      [
        'bn+relu6 fwd',
        fused,
        3,
        (e) => (e.bn_relu_forward ? e.bn_relu_forward(x, g, b, y, st, v, st + 4 * C, P, C, 1e-3, 6) : e.bn_relu6_forward(x, g, b, y, st, v, st + 4 * C, P, C, 1e-3)),
      ],
      [
        'bn+relu6 grad',
        fused,
        5,
        (e) => (e.bn_relu_backward ? e.bn_relu_backward(x, dy, g, b, st, st + 4 * C, dx, dg, db, P, C, 6) : e.bn_relu6_backward(x, dy, g, b, st, st + 4 * C, dx, dg, db, P, C)),
      ],
    );
  if (plain)
    kinds.push(
      ['bn fwd', plain, 3, (e) => e.bn_forward(x, g, b, y, st, v, st + 4 * C, P, C, 1e-3)],
      ['bn grad', plain, 5, (e) => e.bn_backward(x, dy, g, st, st + 4 * C, dx, dg, db, P, C)],
    );
  for (const [name, calls, passes, run] of kinds) {
    const ts = [[], []];
    for (let r = 0; r < reps + 5; r++)
      for (const i of r % 2 ? [1, 0] : [0, 1]) {
        if (cold) cold.fill(r + i); // evicts the tensors from every cache level (L3 32 MB here)
        const t0 = performance.now();
        run(mods[i]);
        const t = performance.now() - t0;
        if (r >= 5) ts[i].push(t);
      }
    const gbs = (t, k) => ((4 * n * k) / (t * 1e-3) / 1e9).toFixed(1);
    totOld += calls * med(ts[0]);
    totNew += calls * med(ts[1]);
    console.log(
      `${name.padEnd(14)} ${`${P}×${C}`.padEnd(11)} ${String(calls).padStart(5)}  ${fmt(ts[0]).padEnd(26)} ${fmt(ts[1]).padEnd(26)} ${gbs(med(ts[0]), passes).padStart(8)} ${gbs(med(ts[1]), passes).padStart(8)} ${gbs(med(add), 3).padStart(9)} ${gbs(med(relu), 2).padStart(9)}  ${(med(ts[1]) / med(ts[0])).toFixed(2)}`,
    );
  }
  for (const p of [x, dy, y, dx, g, b, st, v, dg, db]) backend.wasm._free(p);
}
console.log(
  `per step (calls × median): old ${totOld.toFixed(2)} ms, new ${totNew.toFixed(2)} ms; load average at end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
