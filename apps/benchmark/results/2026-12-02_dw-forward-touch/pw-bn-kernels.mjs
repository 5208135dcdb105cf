// Scratch benchmark kept with its figures (pw-bn-kernels.txt): a 1×1 conv and its batch norm by the separate kernels
// against the one-kernel pw_bn_forward / pw_bn_backward of pw-bn-and-relaxed.diff (tried and dropped), in one module
// built from 4d514a3 with that diff; COLD=1 writes 64 MB before every call.
//   node pw-bn-kernels.mjs M.wasm
import { readFileSync } from 'node:fs';
const memory = new WebAssembly.Memory({ initial: 8192 });
const E = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(process.argv[2])), { env: { memory } }).exports;
const heap = new Float32Array(memory.buffer);
let off = 8;
const alloc = (n) => {
  const o = off;
  off += n + 64;
  return o;
};
const shapes = [
  [18432, 8, 48, 1],
  [18432, 48, 8, 0],
  [4608, 16, 96, 1],
  [4608, 96, 16, 0],
  [1152, 24, 144, 1],
  [1152, 144, 24, 0],
  [288, 56, 336, 1],
  [72, 112, 1280, 1],
];
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
const R = Number(process.env.ROUNDS ?? 21);
const FL = alloc(16 << 20);
const cold = process.env.COLD === '1';
const flush = () => {
  for (let i = 0; i < 16 << 20; i += 16) heap[FL + i] += 1;
};
for (const [P, Ci, C, act] of shapes) {
  off = FL + (16 << 20) + 66;
  const x = alloc(P * Ci),
    w = alloc(Ci * C),
    z = alloc(P * C),
    y = alloc(P * C),
    g = alloc(C),
    b = alloc(C),
    st = alloc(3 * C),
    dy = alloc(P * C);
  const z2 = alloc(P * C),
    y2 = alloc(P * C),
    st2 = alloc(3 * C);
  const dz = alloc(P * C),
    dx = alloc(P * Ci),
    dw = alloc(Ci * C),
    dg = alloc(C),
    db = alloc(C),
    wt = alloc(Ci * C),
    S = alloc(64 * C),
    delta = alloc(P * C);
  const dx2 = alloc(P * Ci),
    dw2 = alloc(Ci * C),
    dg2 = alloc(C),
    db2 = alloc(C);
  for (let i = 0; i < P * Ci; i++) heap[x + i] = Math.sin(i * 0.37);
  for (let i = 0; i < Ci * C; i++) heap[w + i] = Math.cos(i * 0.7) * 0.3;
  for (let i = 0; i < C; i++) {
    heap[g + i] = 1 + 0.1 * Math.sin(i);
    heap[b + i] = 0.5 * Math.cos(i);
  }
  for (let i = 0; i < P * C; i++) heap[dy + i] = Math.cos(i * 0.11);
  const o = (f) => f * 4;
  const fwdOld = () => {
    E.pw_forward(o(x), o(w), o(z), P, Ci, C);
    (act ? E.bn_relu6_forward : E.bn_forward)(o(z), o(g), o(b), o(y), o(st), o(st + C), o(st + 2 * C), P, C, 1e-3);
  };
  const fwdNew = () => E.pw_bn_forward(o(x), o(w), o(z2), o(g), o(b), o(y2), o(st2), o(st2 + C), o(st2 + 2 * C), P, Ci, C, 1e-3, act);
  const bwdOld = () => {
    if (act) E.bn_relu6_backward(o(z), o(dy), o(g), o(b), o(st), o(st + 2 * C), o(dz), o(dg), o(db), P, C);
    else E.bn_backward(o(z), o(dy), o(g), o(st), o(st + 2 * C), o(dz), o(dg), o(db), P, C);
    E.pw_input_grad(o(dz), o(w), o(wt), o(dx), P, Ci, C);
    E.pw_filter_grad(o(x), o(dz), o(dw), P, Ci, C);
  };
  const bwdNew = () => E.pw_bn_backward(o(x), o(z2), o(dy), o(w), o(wt), o(S), o(delta), o(g), o(b), o(st2), o(st2 + 2 * C), o(dx2), o(dw2), o(dg2), o(db2), P, Ci, C, act);
  const same = (a, bb, n) => {
    for (let i = 0; i < n; i++) if (!Object.is(heap[a + i], heap[bb + i])) return `differ at ${i}: ${heap[a + i]} vs ${heap[bb + i]}`;
    return 'same';
  };
  fwdOld();
  fwdNew();
  bwdOld();
  bwdNew();
  const chk = [same(y, y2, P * C), same(st, st2, 3 * C), same(dx, dx2, P * Ci), same(dw, dw2, Ci * C), same(dg, dg2, C), same(db, db2, C)];
  const t = { fo: [], fn: [], bo: [], bn: [] };
  const time = (k, f) => {
    if (cold) flush();
    const t0 = performance.now();
    f();
    t[k].push(performance.now() - t0);
  };
  for (let r = 0; r < R + 5; r++) {
    const order =
      r % 2
        ? [
            ['fo', fwdOld],
            ['fn', fwdNew],
            ['bo', bwdOld],
            ['bn', bwdNew],
          ]
        : [
            ['fn', fwdNew],
            ['fo', fwdOld],
            ['bn', bwdNew],
            ['bo', bwdOld],
          ];
    for (const [k, f] of order) time(k, f);
  }
  for (const k in t) t[k] = med(t[k].slice(5));
  console.log(
    `P ${P} ${Ci}→${C} act ${act}: fwd ${t.fo.toFixed(3)} → ${t.fn.toFixed(3)} ms (${(t.fn / t.fo).toFixed(3)}), bwd ${t.bo.toFixed(3)} → ${t.bn.toFixed(3)} ms (${(t.bn / t.bo).toFixed(3)}); ${chk.join(' ')}`,
  );
}
