/**
 * The SIMD kernel check page (`kernels.html`): runs forgetless's WebAssembly SIMD kernels in this
 * browser, on the page's main thread, on tfjs-backend-wasm with SIMD on (where browsers compile the
 * kernels' module asynchronously), and compares every op they serve with the same op on tfjs's cpu
 * backend in this page, differentiated by tfjs's stock gradients: depthwise and 1×1 convolutions
 * (forward, ∂x, ∂W), training-mode batch norm, ReLU6 and its gradient, and one SGD step of a small
 * MobileNet-style forgetless model. The kernels' own call counts (`simdKernelsStatus`) show that they
 * served each op, not the composed fallback. The result is a table, and JSON in `#result` (read by
 * the e2e test, kernels.e2e.test.ts); `body[data-state]` is 'done' or 'error'. `?threads=N` asks
 * tfjs-wasm for N threads (its threaded build, where the page is cross-origin isolated);
 * `?activate=set-backend` activates wasm by `tf.setBackend` and runs a first op before the module's
 * compile has finished.
 */
import {
  DepthwiseConv2d,
  GlobalPool,
  Rng,
  Sequential,
  activation,
  batchNorm,
  conv2d,
  dense,
  ensureWasmKernels,
  kernelThreadsStatus,
  simdKernelsStatus,
  softmaxCrossEntropy,
  whenSimdKernelsReady,
  withGradientMode,
} from '@forgetless/core';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { activateBackend } from './backend.js';
import type { CheckGroup, KernelCheck } from './kernels-result.js';

/** A tensor's values and shape off its backend, to carry between cpu and wasm. */
type Host = { v: Float32Array; s: number[] };
const host = (t: tf.Tensor): Host => ({ v: t.dataSync().slice() as Float32Array, s: t.shape });
const dev = (h: Host): tf.Tensor => tf.tensor(h.v, h.s);

/** max |a − b| / max(max |b|, scale): the relative error of a against the reference b (on the scale given, where larger). */
function relErr(a: Host, b: Host, scale = 0): number {
  if (a.v.length !== b.v.length || a.s.join() !== b.s.join()) throw new Error(`shapes differ: [${a.s}] vs [${b.s}]`);
  let num = 0;
  let den = Math.max(scale, 1e-30);
  for (let i = 0; i < a.v.length; i++) {
    num = Math.max(num, Math.abs((a.v[i] as number) - (b.v[i] as number)));
    den = Math.max(den, Math.abs(b.v[i] as number));
  }
  return num / den;
}

const maxAbs = (h: Host) => h.v.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** The kernel calls made while fn runs. */
function callsDuring<T>(fn: () => T): { out: T; calls: Record<string, number> } {
  const before = simdKernelsStatus().calls;
  const out = fn();
  const after = simdKernelsStatus().calls;
  const calls: Record<string, number> = {};
  for (const [k, n] of Object.entries(after)) if (n - (before[k] ?? 0) > 0) calls[k] = n - (before[k] ?? 0);
  return { out, calls };
}

/** Random inputs, made once on cpu (seeded) and carried to both backends. */
function randoms(specs: { shape: number[]; mean?: number; std?: number }[], seed: number): Host[] {
  return tf.tidy(() => specs.map((s, i) => host(tf.randomNormal(s.shape, s.mean ?? 0, s.std ?? 1, 'float32', seed + i))));
}

interface OpCase {
  name: string;
  inputs: Host[];
  /** The outputs compared, computed from the inputs (on the active backend). */
  run: (t: tf.Tensor[]) => tf.Tensor[];
  labels: string[];
  expectedKernels: string[];
}

/** Depthwise convolution: y, ∂x and ∂W of Σ y·δ. */
function depthwiseCase(n: number, h: number, w: number, c: number, m: number, k: number, s: number, seed: number): OpCase {
  const [ho, wo] = [Math.ceil(h / s), Math.ceil(w / s)];
  return {
    name: `depthwise ${k}×${k} stride ${s}, [${n},${h},${w},${c}]×${m}`,
    inputs: randoms([{ shape: [n, h, w, c] }, { shape: [k, k, c, m], std: 0.3 }, { shape: [n, ho, wo, c * m] }], seed),
    run: ([x, f, dy]) => {
      const fwd = (xx: tf.Tensor, ff: tf.Tensor) => tf.depthwiseConv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, s, 'same');
      const [dx, df] = tf.grads((xx, ff) => tf.sum(tf.mul(fwd(xx as tf.Tensor, ff as tf.Tensor), dy as tf.Tensor)))([x as tf.Tensor, f as tf.Tensor]);
      return [fwd(x as tf.Tensor, f as tf.Tensor), dx as tf.Tensor, df as tf.Tensor];
    },
    labels: ['forward', '∂x', '∂W'],
    expectedKernels: ['dw_forward', 'dw_input_grad', 'dw_filter_grad'],
  };
}

/** 1×1 convolution: y, ∂x and ∂W of Σ y·δ. */
function pointwiseCase(n: number, h: number, w: number, c: number, o: number, seed: number): OpCase {
  return {
    name: `1×1 conv, [${n},${h},${w},${c}] → ${o}`,
    inputs: randoms([{ shape: [n, h, w, c] }, { shape: [1, 1, c, o], std: 0.3 }, { shape: [n, h, w, o] }], seed),
    run: ([x, f, dy]) => {
      const fwd = (xx: tf.Tensor, ff: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, 1, 'valid');
      const [dx, df] = tf.grads((xx, ff) => tf.sum(tf.mul(fwd(xx as tf.Tensor, ff as tf.Tensor), dy as tf.Tensor)))([x as tf.Tensor, f as tf.Tensor]);
      return [fwd(x as tf.Tensor, f as tf.Tensor), dx as tf.Tensor, df as tf.Tensor];
    },
    labels: ['forward', '∂x', '∂W'],
    expectedKernels: ['pw_forward', 'pw_input_grad', 'pw_filter_grad'],
  };
}

/** ReLU6 and its gradient δ·[0 < x ≤ 6] (x spread over both sides of 0 and 6). */
function relu6Case(seed: number): OpCase {
  return {
    name: 'ReLU6, [2,9,9,12]',
    inputs: randoms([{ shape: [2, 9, 9, 12], mean: 3, std: 4 }, { shape: [2, 9, 9, 12] }], seed),
    run: ([x, dy]) => [tf.relu6(x as tf.Tensor), tf.grad((xx) => tf.sum(tf.mul(tf.relu6(xx), dy as tf.Tensor)))(x as tf.Tensor)],
    labels: ['forward', '∂x'],
    expectedKernels: ['relu6', 'relu6_grad'],
  };
}

/** Runs an op case on cpu (tfjs's stock gradients) and on wasm, and compares. */
async function checkOp(c: OpCase): Promise<CheckGroup> {
  await tf.setBackend('cpu');
  const ref = withGradientMode('stock', () => tf.tidy(() => c.run(c.inputs.map(dev)).map(host)));
  await tf.setBackend('wasm');
  const { out, calls } = callsDuring(() => tf.tidy(() => c.run(c.inputs.map(dev)).map(host)));
  return {
    name: c.name,
    rows: out.map((o, i) => ({ name: `${c.name}: ${c.labels[i]}`, relErr: relErr(o, ref[i] as Host), tolerance: 1e-5 })),
    kernelCalls: calls,
    expectedKernels: c.expectedKernels,
  };
}

/**
 * Training-mode batch norm as forgetless's batchNorm layer runs it (one kernel each way on wasm):
 * y, ∂x, ∂γ, ∂β and the moving statistics, against tfjs ops (tf.moments) differentiated by tfjs's
 * stock autodiff on cpu.
 */
async function checkBatchNorm(seed: number): Promise<CheckGroup> {
  const shape = [3, 7, 9, 13];
  const [x, dy, gamma, beta] = randoms([{ shape, mean: 1.5, std: 3 }, { shape }, { shape: [13], mean: 1, std: 0.3 }, { shape: [13], std: 0.3 }], seed) as [Host, Host, Host, Host];
  const layer = () => batchNorm({ momentum: 0.8, epsilon: 1e-3 });
  await tf.setBackend('cpu');
  const ref = withGradientMode('stock', () =>
    tf.tidy(() => {
      const [xt, dyt, g, b] = [x, dy, gamma, beta].map(dev) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
        const { mean, variance } = tf.moments(xx, [0, 1, 2]);
        return tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, 1e-3))), gg), bb);
      };
      const { mean, variance } = tf.moments(xt, [0, 1, 2]);
      const grads = tf.grads((a, bb, cc) => tf.sum(tf.mul(f(a as tf.Tensor, bb as tf.Tensor, cc as tf.Tensor), dyt)))([xt, g, b]);
      // moving statistics from 0 and 1: m·0.8 + batch·0.2
      return [f(xt, g, b), ...grads, tf.mul(mean, 0.2), tf.add(0.8, tf.mul(variance, 0.2))].map(host);
    }),
  );
  await tf.setBackend('wasm');
  const model = new Sequential([layer()], { inputShape: shape.slice(1) });
  const { out, calls } = callsDuring(() =>
    tf.tidy(() => {
      const [g, b] = [/\/gamma$/, /\/beta$/].map((re) => Object.entries(model.params).find(([k]) => re.test(k))?.[1]) as [tf.Variable, tf.Variable];
      g.assign(dev(gamma));
      b.assign(dev(beta));
      const xv = tf.variable(dev(x));
      const vars = [xv, g, b];
      let y: tf.Tensor | undefined;
      const { grads } = tf.variableGrads(() => {
        y = tf.keep(model.logits(xv, { training: true }));
        return tf.sum(tf.mul(y, dev(dy)));
      }, vars);
      const [mm, mv] = [/\/moving_mean$/, /\/moving_variance$/].map((re) => Object.entries(model.state).find(([k]) => re.test(k))?.[1]) as [tf.Variable, tf.Variable];
      const got = [y as tf.Tensor, ...vars.map((v) => grads[v.name] as tf.Tensor), mm, mv].map(host);
      xv.dispose();
      (y as tf.Tensor).dispose();
      return got;
    }),
  );
  model.dispose();
  const labels = ['forward', '∂x', '∂γ', '∂β', 'moving mean', 'moving variance'];
  return {
    name: 'batch norm (training), [3,7,9,13]',
    rows: out.map((o, i) => ({ name: `batch norm: ${labels[i]}`, relErr: relErr(o, ref[i] as Host), tolerance: 1e-5 })),
    kernelCalls: calls,
    expectedKernels: ['bn_forward', 'bn_backward'],
  };
}

/** A small MobileNet-style forgetless model: strided stem, inverted residual-free depthwise/pointwise blocks with batch norm and ReLU6 (fused into one kernel each way in training; the last batch norm, before the pooling, runs alone). */
function mobileNetStyle(): Sequential {
  return new Sequential(
    [
      conv2d(8, 3, { stride: 2, padding: 'same', useBias: false }),
      batchNorm(),
      activation('relu6'),
      new DepthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }),
      batchNorm(),
      activation('relu6'),
      conv2d(16, 1, { useBias: false }),
      batchNorm(),
      activation('relu6'),
      new DepthwiseConv2d({ kernelSize: 3, stride: 2, padding: 'same', useBias: false }),
      batchNorm(),
      activation('relu6'),
      conv2d(12, 1, { useBias: false }),
      batchNorm(),
      new GlobalPool('globalAvgPool'),
      dense(5),
    ],
    { inputShape: [18, 18, 3], seed: 4 },
  );
}

/** One SGD step (learning rate 0.1, training mode) of the model on cpu (stock gradients) and on wasm from the same weights: its gradients, and the weights and moving statistics after it. */
async function checkModelStep(seed: number): Promise<CheckGroup> {
  const [x] = randoms([{ shape: [6, 18, 18, 3] }], seed) as [Host];
  const labels = Float32Array.from([0, 1, 2, 3, 4, 1]);
  const step = (model: Sequential): Host[] =>
    tf.tidy(() => {
      const xt = dev(x);
      const y = tf.tensor1d(labels, 'int32');
      const vars = Object.values(model.params) as tf.Variable[];
      const { grads } = tf.variableGrads(() => softmaxCrossEntropy(model.logits(xt, { training: true, rng: new Rng(0) }), y) as tf.Scalar, vars);
      const g = vars.map((v) => host(grads[v.name] as tf.Tensor));
      for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 0.1)));
      return [...g, ...[...vars, ...(Object.values(model.state) as tf.Variable[])].map(host)];
    });
  await tf.setBackend('cpu');
  const onCpu = mobileNetStyle();
  const init = [...Object.values(onCpu.params), ...Object.values(onCpu.state)].map((v) => host(v as tf.Variable));
  // the gradients (an update of 0.1·∂ can vanish below float32's rounding of a weight near 1), then the weights and moving statistics after the step
  const names = [...Object.keys(onCpu.params).map((k) => `∂${k}`), ...Object.keys(onCpu.params), ...Object.keys(onCpu.state)];
  const ref = withGradientMode('stock', () => step(onCpu));
  onCpu.dispose();
  await tf.setBackend('wasm');
  const model = mobileNetStyle();
  tf.tidy(() => [...Object.values(model.params), ...Object.values(model.state)].forEach((v, i) => (v as tf.Variable).assign(dev(init[i] as Host))));
  const { out, calls } = callsDuring(() => step(model));
  model.dispose();
  return {
    name: 'one SGD step of a MobileNet-style forgetless model, batch 6, 18×18×3',
    rows: out.map((o, i) => {
      // ∂γ of a batch norm whose ReLU6 output a convolution takes into another batch norm: the loss is
      // invariant to its scale but for ReLU6's clipping, so ∂γ is ~0 (1e-5 where ∂β is 5e-2) and two float32
      // computations on cpu (tfjs's autodiff, forgetless's closed form) already differ by 3e-3 of it: it is
      // compared on the scale of its layer's ∂γ and ∂β, the same units (Σδ·x̂ and Σδ)
      const beta = /^∂(.+)\/gamma$/.exec(names[i] as string) ? names.indexOf((names[i] as string).replace(/gamma$/, 'beta')) : -1;
      const scale = beta >= 0 ? maxAbs(ref[beta] as Host) : 0;
      return { name: `SGD step: ${names[i]}${beta >= 0 ? ' (on the scale of ∂γ, ∂β)' : ''}`, relErr: relErr(o, ref[i] as Host, scale), tolerance: 1e-4 };
    }),
    kernelCalls: calls,
    expectedKernels: [
      'dw_forward',
      'dw_input_grad',
      'dw_filter_grad',
      'pw_forward',
      'pw_input_grad',
      'pw_filter_grad',
      'bn_forward',
      'bn_backward',
      'bn_relu_forward',
      'bn_relu_backward',
    ],
  };
}

export async function runKernelCheck(): Promise<KernelCheck> {
  const t0 = performance.now();
  const params = new URLSearchParams(location.search);
  // `?threads=N`: tfjs-wasm's threaded build with N threads, where the page is cross-origin isolated (tfjs's own choice otherwise)
  const threads = Number(params.get('threads') ?? '');
  if (Number.isInteger(threads) && threads > 0) setThreadsCount(threads);
  let firstOp: KernelCheck['firstOp'];
  let before: number;
  if (params.get('activate') === 'set-backend') {
    // an application that activates wasm itself: where the browser refuses to compile the module
    // synchronously, the first ops run on the composed fallback while it compiles asynchronously
    await activateBackend('cpu');
    await tf.setBackend('wasm');
    ensureWasmKernels();
    before = tf.memory().numTensors;
    const group = await checkOp({ ...depthwiseCase(2, 12, 12, 16, 1, 3, 1, 90), expectedKernels: [] });
    firstOp = { group: { ...group, name: `first op: ${group.name}` }, status: simdKernelsStatus() };
    await whenSimdKernelsReady();
  } else {
    await activateBackend('wasm'); // awaits the module's asynchronous compile
    before = tf.memory().numTensors;
  }
  const statusBefore = simdKernelsStatus();
  const memory = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer;
  const groups: CheckGroup[] = [];
  groups.push(await checkOp(depthwiseCase(2, 12, 12, 16, 1, 3, 1, 10)));
  groups.push(await checkOp(depthwiseCase(2, 13, 11, 12, 1, 3, 2, 20)));
  groups.push(await checkOp(depthwiseCase(1, 9, 10, 6, 2, 3, 1, 30)));
  groups.push(await checkOp(pointwiseCase(2, 10, 10, 24, 20, 40)));
  groups.push(await checkOp(pointwiseCase(3, 7, 5, 13, 6, 50)));
  // large enough to split over the kernel threads on the threaded build (`kernelThreads` below)
  const jobs = kernelThreadsStatus().jobs;
  groups.push(await checkOp(pointwiseCase(8, 24, 24, 32, 96, 55)));
  groups.push(await checkOp(depthwiseCase(8, 48, 48, 32, 1, 3, 2, 57)));
  groups.push(await checkBatchNorm(60));
  groups.push(await checkOp(relu6Case(70)));
  groups.push(await checkModelStep(80));
  await tf.setBackend('wasm');
  return {
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    tfjsWasmThreads: getThreadsCount(),
    wasmMemoryShared: typeof SharedArrayBuffer !== 'undefined' && memory instanceof SharedArrayBuffer,
    ...(firstOp ? { firstOp } : {}),
    statusBefore,
    statusAfter: simdKernelsStatus(),
    kernelThreads: { ...kernelThreadsStatus(), jobs: kernelThreadsStatus().jobs - jobs },
    groups,
    numTensors: { before, after: tf.memory().numTensors },
    millis: performance.now() - t0,
  };
}

function render(r: KernelCheck): void {
  const s = r.statusBefore;
  const summary = document.querySelector('#summary') as HTMLElement;
  summary.textContent =
    s.state === 'active'
      ? `forgetless's SIMD kernels run here: the ${s.variant} variant, compiled ${s.compile === 'async' ? 'asynchronously' : 'synchronously'}; tfjs-backend-wasm on ${r.tfjsWasmThreads} thread(s)${r.crossOriginIsolated ? ' (cross-origin isolated)' : ''}.`
      : `forgetless's SIMD kernels do not run here (${s.state}${s.reason ? `: ${s.reason}` : ''}); the composed fallback served.`;
  const body = document.querySelector('#checks tbody') as HTMLElement;
  for (const g of r.firstOp ? [r.firstOp.group, ...r.groups] : r.groups) {
    const missing = g.expectedKernels.filter((k) => !g.kernelCalls[k]);
    for (const row of g.rows) {
      const tr = document.createElement('tr');
      const ok = row.relErr <= row.tolerance && missing.length === 0;
      for (const text of [row.name, row.relErr.toExponential(2), `≤ ${row.tolerance}`, ok ? 'ok' : missing.length ? `kernels not used: ${missing.join(', ')}` : 'too far'])
        tr.append(Object.assign(document.createElement('td'), { textContent: text }));
      body.append(tr);
    }
  }
  (document.querySelector('#result') as HTMLElement).textContent = JSON.stringify(r, null, 1);
}

runKernelCheck().then(
  (r) => {
    render(r);
    document.body.dataset.state = 'done';
  },
  (e: unknown) => {
    (document.querySelector('#summary') as HTMLElement).textContent = `the check failed: ${(e as Error).stack ?? String(e)}`;
    document.body.dataset.state = 'error';
  },
);
