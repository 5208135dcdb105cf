// Where a MobileNetV2 step's time goes: tf.profile of forgetless's SGD step (Keras MobileNetV2 α 0.35,
// 96², batch 8, 10 classes, wasm, 'auto'), its kernel times summed by kernel group (median over the
// profiles), beside the multiply-adds ×2 the conv-speed rows count for each group. The profiled steps run
// each conv + batch norm pair apart (`setConvBatchNormFusion(false)`: the fused op calls the same kernels,
// in the same order, out of tf.profile's sight); the timed steps run as a training loop does, fused.
//
//   npx turbo run build --filter=@forgetless/benchmark...
//   node apps/benchmark/scripts/step-kernels.mjs OUT.json [profiles=10]    profile, write OUT.json, print its table (ALPHA=1: the full-width net;
//                                                                          THREADS=2 [KERNEL_THREADS=1]: the threaded build)
//   node apps/benchmark/scripts/step-kernels.mjs --compare A.json B.json …   one table, a column per file (e.g. two builds
//                                                                            of the module, run alternately)
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';

const prod = (a) => a.reduce((x, y) => x * y, 1);
/** [name, which kernels, multiply-adds ×2 of one call] — the first group that matches takes a kernel */
const GROUPS = [
  ['1×1 conv forward', (k) => k.name === 'Conv2D' && k.in[1][0] === 1 && k.in[1][1] === 1, (k) => 2 * prod(k.in[0].slice(0, 3)) * k.in[1][2] * k.in[1][3]],
  ['1×1 conv ∂x', (k) => k.name === 'Conv2DBackpropInput', (k) => 2 * prod(k.in[0]) * k.in[1][2]],
  ['1×1 conv ∂W', (k) => k.name === 'Conv2DBackpropFilter', (k) => 2 * prod(k.in[0]) * k.in[1][3]],
  ['depthwise 3×3 forward', (k) => k.name === 'DepthwiseConv2dNative', (k) => 2 * prod(k.out[0]) * 9],
  ['depthwise 3×3 ∂x', (k) => k.name === 'DepthwiseConv2dNativeBackpropInput', (k) => 2 * prod(k.in[0]) * 9],
  ['depthwise 3×3 ∂W', (k) => k.name === 'DepthwiseConv2dNativeBackpropFilter', (k) => 2 * prod(k.in[1]) * 9],
  ['batch norm (+ReLU6 or ReLU) forward', (k) => /^ForgetlessBatchNorm(Relu)?Train$/.test(k.name)],
  ['batch norm (+ReLU6 or ReLU) gradient', (k) => /^ForgetlessBatchNorm(Relu)?TrainGrad$/.test(k.name)],
  [
    'stem 3×3 conv on 3 channels, forward (+ its PadV2)',
    (k) => k.name === 'PadV2' || (k.name === 'Conv2D' && k.in[0][3] === 3),
    (k) => (k.name === 'Conv2D' ? 2 * prod(k.out[0]) * 27 : 0),
  ],
  // its filter gradient: a Conv2D of the transposed input with the transposed δ, between two Transposes
  [
    'stem conv ∂W (Conv2D between two Transposes)',
    (k) => k.name === 'Conv2D' || (k.name === 'Transpose' && /97,97|3,3,3,16/.test(JSON.stringify(k.in))),
    (k) => (k.name === 'Conv2D' ? 2 * prod(k.in[1]) * 27 : 0),
  ],
  ['SGD update (one call)', (k) => k.name === 'ForgetlessSgdUpdate'],
  ['the rest (residual Adds, global Mean pool, dense, loss, Identity copies, Reshapes)', () => true],
];
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function summary({ steps, runs }) {
  const per = GROUPS.map(() => []);
  const calls = GROUPS.map(() => 0);
  const flops = GROUPS.map(() => 0);
  runs.forEach((r, ri) => {
    const s = GROUPS.map(() => 0);
    for (const k of r) {
      if (k.name === 'forward') continue; // tf.customGrad's wrapper: its kernel is counted under its own name
      const g = GROUPS.findIndex(([, f]) => f(k));
      s[g] += k.ms;
      if (ri === 0) {
        calls[g]++;
        flops[g] += GROUPS[g][2]?.(k) ?? 0;
      }
    }
    s.forEach((v, i) => per[i].push(v));
  });
  const m = per.map(med);
  return { per: m, tot: m.reduce((x, y) => x + y, 0), calls, flops, steps };
}

function table(files) {
  const ss = files.map((f) => summary(JSON.parse(readFileSync(f, 'utf8'))));
  const last = ss[ss.length - 1];
  const out = [
    `| kernel group | calls | GFLOP | ${files.map((f) => `${f}: ms`).join(' | ')} | % of kernel time | GFLOP/s |`,
    `| --- | ---: | ---: | ${files.map(() => '---:').join(' | ')} | ---: | ---: |`,
  ];
  GROUPS.forEach(([name], i) => {
    const f = last.flops[i] / 1e9;
    out.push(
      `| ${name} | ${last.calls[i]} | ${f ? f.toFixed(3) : ''} | ${ss.map((s) => s.per[i].toFixed(1)).join(' | ')} | ${((100 * last.per[i]) / last.tot).toFixed(0)} % | ${f ? (f / (last.per[i] / 1e3)).toFixed(1) : ''} |`,
    );
  });
  const F = last.flops.reduce((x, y) => x + y, 0) / 1e9;
  out.push(
    `| all kernels (the medians summed) | ${last.calls.reduce((x, y) => x + y, 0)} | ${F.toFixed(3)} | ${ss.map((s) => s.tot.toFixed(1)).join(' | ')} | 100 % | ${(F / (last.tot / 1e3)).toFixed(1)} |`,
  );
  out.push(
    `| the step, timed: median (min–max) | | | ${ss.map((s) => `${med(s.steps).toFixed(1)} (${Math.min(...s.steps).toFixed(1)}–${Math.max(...s.steps).toFixed(1)})`).join(' | ')} | | |`,
  );
  return out.join('\n');
}

const args = process.argv.slice(2);
if (args[0] === '--compare') {
  console.log(table(args.slice(1)));
} else {
  const [out, n] = args;
  if (!out) throw new Error('usage: node step-kernels.mjs OUT.json [profiles] | --compare A.json B.json …');
  const tf = await import('@tensorflow/tfjs-core');
  const { setConvBatchNormFusion, setKernelThreads, trainStep, useBackend } = await import('@forgetless/core');
  const { mobileNetV2Step, stepContext } = await import('./ab-lib.mjs');
  // THREADS=N: tfjs's threaded build on N threads, forgetless's kernels on KERNEL_THREADS of them (default: all)
  await useBackend('wasm', process.env.THREADS ? { threads: Number(process.env.THREADS) } : {});
  if (process.env.KERNEL_THREADS) setKernelThreads(Number(process.env.KERNEL_THREADS));
  const model = await mobileNetV2Step(Number(process.env.ALPHA ?? 0.35));
  const x = tf.randomUniform([8, 96, 96, 3], 0, 1, 'float32', 1);
  const y = tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32');
  const ctx = await stepContext(model, tf.train.sgd(0.01));
  const step = () => trainStep({ x, y }, ctx, []);
  const load = [loadavg()[0]];
  for (let i = 0; i < 5; i++) await step();
  const steps = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await step();
    steps.push(performance.now() - t0);
  }
  const runs = [];
  setConvBatchNormFusion(false);
  for (let r = 0; r < Number(n ?? 10); r++) {
    const prof = await tf.profile(() => step());
    runs.push(prof.kernels.map((k) => ({ name: k.name, in: k.inputShapes, out: k.outputShapes, ms: k.kernelTimeMs })));
  }
  load.push(loadavg()[0]);
  writeFileSync(out, JSON.stringify({ load, steps, runs }));
  console.log(`load average ${load.map((l) => l.toFixed(2)).join(' → ')}\n${table([out])}`);
}
