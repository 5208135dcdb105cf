/**
 * conv-speed: convolutions on wasm against the speed limit of the backend (issue 15). In one run,
 * per wasm target (SIMD, no SIMD, two threads):
 * - the one-thread ceiling: a 1024×1024×1024 matMul's GFLOP/s, measured at the start and at the end
 *   of the target's rows; every other row's GFLOP/s is given as a percentage of their mean;
 * - Conv2D, DepthwiseConv2D and SeparableConv2D at the shapes of paper 2's conv net and of MobileNetV2:
 *   forward, input gradient and filter gradient, exactly as forgetless's registered gradients run
 *   them (`conv2dBackpropInput` …), under the 0.1 formulation ('forward-conv'), 'im2col', 'composed'
 *   (before: the previous 'auto') and the default ('auto', after: with forgetless's SIMD depthwise
 *   kernels), interleaved round by round;
 * - a training step (SGD) of paper 2's conv net (batch 32) and of Keras's MobileNetV2 (α 0.35 and
 *   α 1.0, the pretrained models' width; 96×96, batch 8 (α 0.35 also at batch 32 in steady state), imported from tfjs-layers), under each formulation, with the conv/dense FLOPs of a step
 *   (forward + filter gradients + input gradients but the first layer's; batch norm and activations
 *   not counted);
 * - the fast per-example FIS and MAS of paper 2's conv net and of MobileNetV2 against the per-example
 *   autograd loop and one forward+backward pass, under each formulation.
 * The PyTorch peer (`finish`) runs the same two steps on one thread.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  type ArraySource,
  type ConvFormulation,
  type Model,
  type Task,
  type TrainContext,
  Rng,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  depthwiseBackpropFilter,
  depthwiseBackpropInput,
  loadLayersModelFromArtifacts,
  paper2ConvNet,
  setConvFormulation,
  softmaxCrossEntropy,
  trainStep,
  setConvBatchNormFusion,
  withLayerFusion,
} from '@forgetless/core';
import { fisherDiagonal, mas } from '@forgetless/importances';
import { randomImages } from '../data.js';
import { type Timing, pairedRounds, summarize, timeIt } from '../harness.js';
import { mobileNetV2, saveToMemory } from '../models/mobilenet-v2.js';
import { PeerUnavailable, runTorch } from '../peer/torch.js';
import type { FinishContext, Row, RunOptions, WorkloadResult } from '../workload.js';

const FORMULATIONS: readonly ConvFormulation[] = ['forward-conv', 'im2col', 'composed', 'auto'];
const LABEL: Record<ConvFormulation, string> = {
  'forward-conv': '0.1 (forward-conv)',
  im2col: 'im2col',
  composed: "before (composed: 'auto' without forgetless's SIMD kernels)",
  auto: 'after (auto: SIMD depthwise, 1×1, conv ∂W, few-channel forward, batch norm, ReLU6 kernels and optimizer updates; batch norm + ReLU6 fused)',
};
/** The row of stock tfjs-layers training a live tfjs-layers MobileNetV2 (not imported into forgetless). */
const FIT_MEASURE = 'MobileNetV2 step by stock tfjs-layers (its own model, trainOnBatch as fit runs it)';
/** The MobileNetV2 step with Adam (fine-tuning's default optimizer): forgetless's one-call update against tfjs's own applyGradients. */
const ADAM_MEASURE = 'MobileNetV2 training step, Adam';
/** tfjs's Adam as tfjs runs it: a subclass, which forgetless's one-call update declines. */
class StockAdam extends tf.AdamOptimizer {}
/** 'auto' with forgetless's layer fusions off (`withLayerFusion(false)`): batch norm and ReLU6 apart, the padding as its own op. */
const AUTO_UNFUSED = "auto, layer fusions off (conv, batch norm and ReLU6 apart, ZeroPadding2D as its own PadV2: 'auto' before them)";
/** 'auto' with only the conv + batch norm fusion off (`setConvBatchNormFusion(false)`): batch norm + ReLU6 still one kernel. */
const AUTO_CONV_BN_APART = "auto, conv + batch norm apart (three engine kernel calls each way per pair: 'auto' before 2026-12-02)";

/**
 * `CONV_SPEED_ONLY=depthwise` restricts the workload to what the SIMD depthwise kernels change: the
 * DepthwiseConv2D and SeparableConv2D op rows, the MobileNetV2 step and its per-example importances
 * (and the PyTorch MobileNetV2 step beside it); `CONV_SPEED_ONLY=mobilenet` to the same plus the
 * MobileNetV2 1×1 and stem (3×3 stride 2, 3→16) Conv2D op rows (what the SIMD 1×1, batch norm, ReLU6 and few-channel ∂W kernels change); unset,
 * everything runs.
 */
const depthwiseOnly = () => process.env.CONV_SPEED_ONLY === 'depthwise' || process.env.CONV_SPEED_ONLY === 'mobilenet';
const mobilenetOnly = () => process.env.CONV_SPEED_ONLY === 'mobilenet';

/** Runs fn (sync or async) under a formulation, restoring the default afterwards. */
async function under<T>(f: ConvFormulation, fn: () => T | Promise<T>): Promise<T> {
  setConvFormulation(f);
  try {
    return await fn();
  } finally {
    setConvFormulation('auto');
  }
}

interface ConvCase {
  name: string;
  kind: 'conv2d' | 'depthwise' | 'separable';
  n: number;
  h: number;
  c: number;
  /** Output channels (conv2d, separable's pointwise), or the depth multiplier (depthwise). */
  o: number;
  k: number;
  s: number;
  pad: 'same' | 'valid';
}

export function convCases(quick: boolean): ConvCase[] {
  if (quick) {
    return [
      { name: 'conv 3×3', kind: 'conv2d', n: 2, h: 8, c: 8, o: 8, k: 3, s: 1, pad: 'valid' },
      { name: 'conv 1×1', kind: 'conv2d', n: 2, h: 8, c: 8, o: 8, k: 1, s: 1, pad: 'same' },
      { name: 'depthwise 3×3', kind: 'depthwise', n: 2, h: 8, c: 8, o: 1, k: 3, s: 1, pad: 'same' },
      { name: 'separable 3×3', kind: 'separable', n: 2, h: 8, c: 8, o: 8, k: 3, s: 1, pad: 'same' },
    ];
  }
  return [
    { name: 'paper 2 conv1 5×5, 1→64', kind: 'conv2d', n: 32, h: 28, c: 1, o: 64, k: 5, s: 1, pad: 'valid' },
    { name: 'paper 2 conv2 3×3, 64→128', kind: 'conv2d', n: 32, h: 12, c: 64, o: 128, k: 3, s: 1, pad: 'valid' },
    { name: 'paper 2 conv3 3×3, 128→256', kind: 'conv2d', n: 32, h: 10, c: 128, o: 256, k: 3, s: 1, pad: 'valid' },
    { name: 'conv 3×3 stride 2, 32→64', kind: 'conv2d', n: 8, h: 24, c: 32, o: 64, k: 3, s: 2, pad: 'same' },
    // the first layer (after ZeroPadding2D): its filter gradient was the step's most expensive kernel before forgetless's few-channel ∂W kernel
    { name: 'MobileNetV2 stem 3×3 stride 2, 3→16 (97×97)', kind: 'conv2d', n: 8, h: 97, c: 3, o: 16, k: 3, s: 2, pad: 'valid' },
    { name: 'MobileNetV2 1×1 expand 16→96 (48×48)', kind: 'conv2d', n: 8, h: 48, c: 16, o: 96, k: 1, s: 1, pad: 'same' },
    { name: 'MobileNetV2 1×1 project 144→24 (24×24)', kind: 'conv2d', n: 8, h: 24, c: 144, o: 24, k: 1, s: 1, pad: 'same' },
    { name: 'MobileNetV2 depthwise 3×3, 144 (24×24)', kind: 'depthwise', n: 8, h: 24, c: 144, o: 1, k: 3, s: 1, pad: 'same' },
    { name: 'MobileNetV2 depthwise 3×3 stride 2, 96 (48×48)', kind: 'depthwise', n: 8, h: 48, c: 96, o: 1, k: 3, s: 2, pad: 'same' },
    { name: 'MobileNetV2 depthwise 3×3, 576 (6×6)', kind: 'depthwise', n: 8, h: 6, c: 576, o: 1, k: 3, s: 1, pad: 'same' },
    { name: 'separable 3×3, 144→48 (24×24)', kind: 'separable', n: 8, h: 24, c: 144, o: 48, k: 3, s: 1, pad: 'same' },
  ];
}

type Pass = 'forward' | 'input gradient' | 'filter gradient';

/** Multiply-adds of one pass of a case (forward, ∂x and ∂W the same count, but separable ∂W). */
function caseMacs(c: ConvCase, pass: Pass = 'forward'): number {
  const out = c.pad === 'same' ? Math.ceil(c.h / c.s) : Math.floor((c.h - c.k) / c.s) + 1;
  const positions = c.n * out * out;
  const dw = positions * c.k * c.k * c.c * (c.kind === 'separable' ? 1 : c.o);
  if (c.kind === 'conv2d') return positions * c.k * c.k * c.c * c.o;
  // separable ∂W: both kernels' gradients and the 1×1 conv's ∂x that the depthwise kernel's gradient needs
  // (`casePasses`: counted since 2026-11-30_conv-speed-dw2; the runs before counted the forward's work only)
  const pw = positions * c.c * c.o;
  return c.kind === 'depthwise' ? dw : dw + (pass === 'filter gradient' ? 2 : 1) * pw;
}

/** Closures for the three passes of a case (inputs made once; the caller disposes them). */
function casePasses(c: ConvCase): { passes: Record<Pass, () => tf.Tensor>; inputs: tf.Tensor[] } {
  const x = tf.randomNormal([c.n, c.h, c.h, c.c], 0, 1, 'float32', 1) as tf.Tensor4D;
  const kShape: [number, number, number, number] = [c.k, c.k, c.c, c.kind === 'conv2d' || c.kind === 'depthwise' ? c.o : 1];
  const f = tf.randomNormal(kShape, 0, 0.1, 'float32', 2) as tf.Tensor4D;
  const pw = tf.randomNormal([1, 1, c.c, c.o], 0, 0.1, 'float32', 3) as tf.Tensor4D;
  const y = tf.tidy(() => (c.kind === 'conv2d' ? tf.conv2d(x, f, c.s, c.pad) : tf.depthwiseConv2d(x, f, c.s, c.pad))) as tf.Tensor4D;
  const [yn, yh, yw] = y.shape;
  const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 4) as tf.Tensor4D;
  const dyPw = tf.randomNormal([yn, yh, yw, c.o], 0, 1, 'float32', 5) as tf.Tensor4D;
  const inputs = [x, f, pw, y, dy, dyPw];
  if (c.kind === 'conv2d') {
    return {
      inputs,
      passes: {
        forward: () => tf.conv2d(x, f, c.s, c.pad),
        'input gradient': () => conv2dBackpropInput(dy, f, x.shape, c.s, c.pad),
        'filter gradient': () => conv2dBackpropFilter(x, dy, f.shape, c.s, c.pad),
      },
    };
  }
  if (c.kind === 'depthwise') {
    return {
      inputs,
      passes: {
        forward: () => tf.depthwiseConv2d(x, f, c.s, c.pad),
        'input gradient': () => depthwiseBackpropInput(dy, f, x.shape, c.s, c.pad),
        'filter gradient': () => depthwiseBackpropFilter(x, dy, f.shape, c.s, c.pad),
      },
    };
  }
  // separable: depthwise then a 1×1 conv; the gradients of both kernels, ∂x through both
  return {
    inputs,
    passes: {
      forward: () => tf.tidy(() => tf.conv2d(tf.depthwiseConv2d(x, f, c.s, c.pad), pw, 1, 'same')),
      'input gradient': () => tf.tidy(() => depthwiseBackpropInput(conv2dBackpropInput(dyPw, pw, y.shape, 1, 'same'), f, x.shape, c.s, c.pad)),
      // both kernels' gradients, returned as one tensor (the harness reads and frees one)
      'filter gradient': () =>
        tf.tidy(() =>
          tf.concat([
            tf.reshape(conv2dBackpropFilter(y, dyPw, pw.shape, 1, 'same'), [-1]),
            tf.reshape(depthwiseBackpropFilter(x, conv2dBackpropInput(dyPw, pw, y.shape, 1, 'same'), f.shape, c.s, c.pad), [-1]),
          ]),
        ),
    },
  };
}

const gflopsOf = (t: Timing, gflop: number) => gflop / (t.median / 1000);

async function matmulTiming(size: number, runs: number): Promise<Timing> {
  const mm = matmulEntry(size);
  try {
    return await timeIt(mm.run, { warmup: 2, runs });
  } finally {
    mm.done();
  }
}

function row(measure: string, shape: string, backend: string, formulation: string, batch: number, t: Timing, gflop: number | '', ceiling: number): Row {
  const gs = gflop === '' ? '' : gflopsOf(t, gflop);
  return {
    measure,
    shape,
    backend,
    formulation,
    batch,
    median_ms: t.median,
    min_ms: t.min,
    max_ms: t.max,
    gflop,
    gflop_s: gs,
    matmul_gflop_s: ceiling,
    pct_of_matmul: gs === '' ? '' : Math.round((1000 * gs) / ceiling) / 10,
  };
}

/** The matMul the ceiling is measured with, as a closure for `pairedRounds` (its inputs disposed by `done`). */
function matmulEntry(size: number): { run: () => tf.Tensor; gflop: number; done: () => void } {
  const a = tf.randomNormal([size, size], 0, 1, 'float32', 7);
  const b = tf.randomNormal([size, size], 0, 1, 'float32', 8);
  return { run: () => tf.matMul(a, b), gflop: (2 * size ** 3) / 1e9, done: () => tf.dispose([a, b]) };
}

/**
 * One computation under each formulation, interleaved round by round with the matMul ceiling (so
 * load from other processes falls on all alike): the timings and the ceiling's GFLOP/s.
 */
async function withCeiling(
  run: (f: ConvFormulation) => () => unknown,
  size: number,
  rounds: number,
  warmup: number,
  extra: readonly (() => unknown)[] = [],
): Promise<{ t: Record<ConvFormulation, Timing>; ceiling: number; extra: Timing[] }> {
  const mm = matmulEntry(size);
  try {
    const timed = await pairedRounds([...FORMULATIONS.map(run), ...extra, mm.run], { rounds, warmup });
    const timing = (i: number) => (timed[i] as { timing: Timing }).timing;
    const t = Object.fromEntries(FORMULATIONS.map((f, i) => [f, timing(i)])) as Record<ConvFormulation, Timing>;
    return { t, ceiling: gflopsOf(timing(FORMULATIONS.length + extra.length), mm.gflop), extra: extra.map((_, i) => timing(FORMULATIONS.length + i)) };
  } finally {
    mm.done();
  }
}

/**
 * As `withCeiling`, with warm caches: per round each formulation (in a rotated order) runs once
 * untimed and then `reps` times back to back, their mean time the round's sample (the input and
 * output buffers in cache, as when the op follows the one that wrote its input); the matMul likewise
 * once untimed, once timed. `withCeiling`'s rows run each op right after another formulation or the
 * 12 MB matMul, so they read their inputs from memory.
 */
async function warmCeiling(
  run: (f: ConvFormulation) => () => unknown,
  size: number,
  rounds: number,
  reps: number,
  forms: readonly ConvFormulation[] = FORMULATIONS,
  extra: readonly (() => unknown)[] = [],
): Promise<{ t: Record<ConvFormulation, Timing>; ceiling: number; extra: Timing[] }> {
  const mm = matmulEntry(size);
  const entries = [...forms.map(run), ...extra, mm.run];
  const ceilingAt = entries.length - 1;
  const samples = entries.map(() => [] as number[]);
  const settle = async (out: unknown) => {
    const v = await out;
    if (v instanceof tf.Tensor) {
      await v.data();
      v.dispose();
    }
  };
  try {
    for (let r = 0; r < rounds; r++) {
      for (let e = 0; e < entries.length; e++) {
        const i = (e + r) % entries.length;
        const fn = entries[i] as () => unknown;
        const n = i === ceilingAt ? 1 : reps;
        await settle(fn());
        const t0 = performance.now();
        for (let k = 0; k < n; k++) await settle(fn());
        (samples[i] as number[]).push((performance.now() - t0) / n);
      }
    }
    const t = Object.fromEntries(forms.map((f, i) => [f, summarize(samples[i] as number[])])) as Record<ConvFormulation, Timing>;
    return { t, ceiling: gflopsOf(summarize(samples[ceilingAt] as number[]), mm.gflop), extra: extra.map((_, i) => summarize(samples[forms.length + i] as number[])) };
  } finally {
    mm.done();
  }
}

/** Multiply-adds of a Keras model's Conv2D, DepthwiseConv2D and Dense layers for one example; the first conv flagged. */
function kerasMacs(model: tfl.LayersModel): { total: number; first: number } {
  let total = 0;
  let first = -1;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls !== 'Conv2D' && cls !== 'DepthwiseConv2D' && cls !== 'Dense') continue;
    const kernel = layer.getWeights()[0] as tf.Tensor;
    const out = layer.outputShape as number[];
    const positions = cls === 'Dense' ? 1 : (out[1] as number) * (out[2] as number);
    const macs = positions * kernel.size;
    if (first < 0 && cls !== 'Dense') first = macs;
    total += macs;
  }
  return { total, first: Math.max(0, first) };
}

/** Step FLOPs from multiply-adds: 2 per MAC for the forward, the filter gradients and every input gradient but the first layer's. */
const stepGflop = (m: { total: number; first: number }, batch: number) => (2 * batch * (3 * m.total - m.first)) / 1e9;

/** Paper 2's conv net at width w (28×28×1 input): its conv/dense multiply-adds per example. */
function paper2Macs(w: number): { total: number; first: number } {
  const c = (n: number) => Math.max(1, Math.round(n * w));
  const conv1 = 24 * 24 * 25 * 1 * c(64);
  const conv2 = 10 * 10 * 9 * c(64) * c(128);
  const conv3 = 8 * 8 * 9 * c(128) * c(256);
  const dense = 8 * 8 * c(256) * 10;
  return { total: conv1 + conv2 + conv3 + dense, first: conv1 };
}

function context(model: Model, optimizer: tf.Optimizer): TrainContext {
  const task = { name: 'bench', classes: undefined } as unknown as Task;
  return { model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) };
}

/**
 * Keras's MobileNetV2 at a configuration (10 classes, seed 1), built with tfjs-layers and imported into
 * forgetless (the Keras model disposed), its multiply-adds, and a batch of random images with labels.
 */
async function mobilenetInputs(m: { alpha: number; size: number; blocks: number; batch: number }) {
  const keras = mobileNetV2({ alpha: m.alpha, size: m.size, blocks: m.blocks, classes: 10, seed: 1 });
  const macs = kerasMacs(keras);
  const loaded = await loadLayersModelFromArtifacts(await saveToMemory(keras), `mobilenet_v2 α${m.alpha} (memory)`);
  keras.dispose();
  const x = tf.randomUniform([m.batch, m.size, m.size, 3], 0, 1, 'float32', 1);
  const y = tf.tensor1d(
    Array.from({ length: m.batch }, (_, i) => i % 10),
    'int32',
  );
  return { loaded, macs, x, y };
}

/** A MobileNetV2 configuration's shape label, e.g. `α0.35 96×96×3`. */
const mobilenetShape = (m: { alpha: number; size: number; blocks: number }) => `α${m.alpha} ${m.size}×${m.size}×3${m.blocks === 16 ? '' : `, first ${m.blocks} blocks`}`;

/**
 * Stock tfjs-layers training its own live MobileNetV2 (`trainOnBatch`: what `fit` runs per batch),
 * 'composed' and 'auto' interleaved: what a tfjs user gets without forgetless's training step.
 */
async function stockFitRows(
  m: { alpha: number; size: number; blocks: number; batch: number },
  x: tf.Tensor,
  y: tf.Tensor1D,
  shape: string,
  backend: string,
  rounds: number,
  ceiling: number,
): Promise<Row[]> {
  const live = mobileNetV2({ alpha: m.alpha, size: m.size, blocks: m.blocks, classes: 10, seed: 1 });
  live.compile({ optimizer: tf.train.sgd(0.01), loss: 'sparseCategoricalCrossentropy' });
  const yFit = tf.reshape(tf.cast(y, 'float32'), [m.batch, 1]);
  try {
    const forms = ['composed', 'auto'] as const;
    const fit = await pairedRounds(
      forms.map((f) => () => under(f, () => live.trainOnBatch(x, yFit))),
      { rounds, warmup: 2 },
    );
    const t = (i: number) => (fit[i] as { timing: Timing }).timing;
    process.stderr.write(`  conv-speed MobileNetV2 ${shape} stock tfjs-layers trainOnBatch: ${forms.map((_, i) => t(i).median.toFixed(0)).join(' → ')} ms\n`);
    return forms.map((f, i) => row(FIT_MEASURE, shape, backend, LABEL[f], m.batch, t(i), '', ceiling));
  } finally {
    yFit.dispose();
    live.dispose();
  }
}

/**
 * Before/after step timings of `model`, interleaved round by round with the matMul ceiling; `autoUnfused`
 * adds 'auto' with the layer fusions off (`withLayerFusion(false)`: 'auto' before them).
 */
async function stepPair(
  model: Model,
  x: tf.Tensor,
  y: tf.Tensor1D,
  size: number,
  rounds: number,
  autoUnfused = false,
): Promise<{ t: Record<ConvFormulation, Timing>; ceiling: number; unfused?: Timing }> {
  const optimizer = tf.train.sgd(0.01);
  try {
    const ctx = context(model, optimizer);
    const step = (f: ConvFormulation) => () => under(f, () => trainStep({ x, y }, ctx, []));
    const extra = autoUnfused ? [() => under('auto', () => withLayerFusion(false, () => trainStep({ x, y }, ctx, [])))] : [];
    const r = await withCeiling(step, size, rounds, 2, extra);
    return { t: r.t, ceiling: r.ceiling, ...(autoUnfused ? { unfused: r.extra[0] as Timing } : {}) };
  } finally {
    optimizer.dispose();
  }
}

/** The formulations a steady-state step row runs: before ('composed') and after ('auto'). */
const STEADY: readonly ConvFormulation[] = ['composed', 'auto'];
const STEADY_SUFFIX = ', steady state (back to back, as in a training loop)';

/**
 * `model`'s SGD step in a training loop's steady state: per round each of `STEADY` (rotated order)
 * runs one untimed step and then two timed ones back to back (their mean the round's sample), so each
 * timed step follows a step of its own kind, as every step of a loop does (its weights, activations'
 * buffers and the allocator's free lists as the previous step left them); the matMul once untimed,
 * once timed. `stepPair`'s rows time each step right after another formulation's step or the 12 MB
 * matMul (always the same one: 'auto' after 'composed', an extra after the one before it), so only
 * these rows compare 'auto' with a variant of itself fairly: `convBnApart` adds 'auto' with each conv +
 * batch norm pair apart.
 */
async function steadySteps(
  model: Model,
  x: tf.Tensor,
  y: tf.Tensor1D,
  size: number,
  rounds: number,
  convBnApart = false,
): Promise<{ t: Record<ConvFormulation, Timing>; ceiling: number; apart?: Timing }> {
  const optimizer = tf.train.sgd(0.01);
  try {
    const ctx = context(model, optimizer);
    const step = (f: ConvFormulation) => () => under(f, () => trainStep({ x, y }, ctx, []));
    // 'auto' with each conv + batch norm pair apart (`setConvBatchNormFusion(false)`), in the same rounds
    const apart = () => {
      setConvBatchNormFusion(false);
      try {
        return under('auto', () => trainStep({ x, y }, ctx, []));
      } finally {
        setConvBatchNormFusion(true);
      }
    };
    const r = await warmCeiling(step, size, rounds, 2, STEADY, convBnApart ? [apart] : []);
    return { t: r.t, ceiling: r.ceiling, ...(convBnApart ? { apart: r.extra[0] as Timing } : {}) };
  } finally {
    optimizer.dispose();
  }
}

/** The steady-state rows of a step (`steadySteps`), and its line on stderr. */
async function steadyRows(
  measure: string,
  shape: string,
  backend: string,
  batch: number,
  gflop: number,
  run: () => ReturnType<typeof steadySteps>,
  say: (m: string) => void,
): Promise<Row[]> {
  const { t, ceiling, apart } = await run();
  say(
    `${measure}${STEADY_SUFFIX}, batch ${batch}: ${STEADY.map((f) => t[f].median.toFixed(1)).join(' → ')} ms${apart ? `, conv + batch norm apart ${apart.median.toFixed(1)} ms` : ''} (matMul ${ceiling.toFixed(1)} GFLOP/s)`,
  );
  const rows = STEADY.map((f) => row(`${measure}${STEADY_SUFFIX}`, shape, backend, LABEL[f], batch, t[f], gflop, ceiling));
  if (apart) rows.push(row(`${measure}${STEADY_SUFFIX}`, shape, backend, AUTO_CONV_BN_APART, batch, apart, gflop, ceiling));
  return rows;
}

/**
 * The memory probe, timed alone at the start and at the end of a backend's rows as the matMul is:
 * tfjs's Add of two float32 tensors of 4·size² values (16 MB each at size 1024; the three together
 * outgrow the 32 MB L3), a stream of two reads and one write (gb_s: 12 bytes a value over the median).
 * The matMul is compute-bound and blind to memory traffic from outside this process, which slows
 * the steps' batch norms and depthwise convolutions; this row shows what the host left of the memory
 * bandwidth. (Timed inside the step rounds, right after a step or the matMul with the caches full of
 * their dirty lines, the same Add read 3.3, 6.8 and 7.3 GB/s in two runs 40 minutes apart, whatever
 * the host did: it measured the state the previous entry left, not the host.)
 */
async function streamRow(size: number, runs: number, label: string, backend: string): Promise<Row> {
  const n = 4 * size * size;
  const a = tf.randomUniform([n], 0, 1, 'float32', 9);
  const b = tf.randomUniform([n], 0, 1, 'float32', 10);
  try {
    const t = await timeIt(() => tf.add(a, b), { warmup: 2, runs });
    return {
      ...row(`memory stream (Add of two [${n}] float32: 2 reads + 1 write), alone, ${label}`, `[${n}]`, backend, '-', 1, t, '', 0),
      matmul_gflop_s: '',
      gb_s: Math.round((12 * n) / (t.median / 1000) / 1e8) / 10,
    };
  } finally {
    tf.dispose([a, b]);
  }
}

/**
 * Per-example importances of `model` on `samples` examples (one batch): one plain forward+backward
 * pass, and for each method the fast path and the per-example loop (timed on `loopSamples` and
 * scaled per example), under each formulation, all interleaved round by round (`pairedRounds`: each round
 * runs every entry once, in a rotated order), so that load from other processes falls on all alike.
 */
async function perExampleRows(
  label: string,
  model: Model,
  source: ArraySource,
  pe: { samples: number; loopSamples: number; rounds: number },
  methods: readonly ('FIS empirical' | 'MAS softmax')[],
  backend: string,
  shape: string,
): Promise<Row[]> {
  const vars = Object.values(model.params);
  const settle = async (map: Promise<Record<string, tf.Tensor>>) => {
    const r = await map;
    await Object.values(r)[0]?.data();
    tf.dispose(Object.values(r));
  };
  const fb = async () => {
    for (const { x, y } of source.batches(pe.samples, { limit: pe.samples })) {
      const { value, grads } = tf.variableGrads(() => softmaxCrossEntropy(model.apply(x), y), vars);
      await value.data();
      tf.dispose([value, x, y, ...Object.values(grads)]);
    }
  };
  const importance = (method: (typeof methods)[number], path: 'fast' | 'loop') => {
    const limit = path === 'fast' ? pe.samples : pe.loopSamples;
    const opts = { batchSize: pe.samples, limit, path };
    return () => settle(method === 'FIS empirical' ? fisherDiagonal(model, source, opts) : mas(model, source, opts));
  };
  type Entry = { f: ConvFormulation; what: 'fb' | 'fast' | 'loop'; method?: (typeof methods)[number]; run: () => Promise<void> };
  const entries: Entry[] = [];
  for (const f of FORMULATIONS) {
    entries.push({ f, what: 'fb', run: () => under(f, fb) });
    for (const m of methods) {
      entries.push({ f, what: 'fast', method: m, run: () => under(f, importance(m, 'fast')) });
      entries.push({ f, what: 'loop', method: m, run: () => under(f, importance(m, 'loop')) });
    }
  }
  const timed = await pairedRounds(
    entries.map((e) => e.run),
    { rounds: pe.rounds, warmup: 1 },
  );
  const t = (f: ConvFormulation, what: Entry['what'], method?: string) =>
    (timed[entries.findIndex((e) => e.f === f && e.what === what && e.method === method)] as { timing: Timing }).timing;
  const rows: Row[] = [];
  for (const f of FORMULATIONS) {
    const plain = t(f, 'fb');
    const base = { shape, backend, formulation: LABEL[f], batch: pe.samples, samples: pe.samples };
    rows.push({
      ...base,
      measure: `${label} forward+backward (all parameters)`,
      median_ms: plain.median,
      min_ms: plain.min,
      max_ms: plain.max,
      ms_per_example: plain.median / pe.samples,
    });
    for (const m of methods) {
      const fast = t(f, 'fast', m);
      const loop = t(f, 'loop', m);
      const fastPer = fast.median / pe.samples;
      const loopPer = loop.median / pe.loopSamples;
      rows.push({
        ...base,
        measure: `${label} ${m}, fast path`,
        median_ms: fast.median,
        min_ms: fast.min,
        max_ms: fast.max,
        ms_per_example: fastPer,
        x_loop: loopPer / fastPer,
        x_forward_backward: fast.median / plain.median,
      });
      rows.push({
        ...base,
        measure: `${label} ${m}, per-example loop (timed on ${pe.loopSamples}, per example × ${pe.samples})`,
        median_ms: loopPer * pe.samples,
        min_ms: (loop.min / pe.loopSamples) * pe.samples,
        max_ms: (loop.max / pe.loopSamples) * pe.samples,
        ms_per_example: loopPer,
        x_loop: 1,
        x_forward_backward: (loopPer * pe.samples) / plain.median,
      });
      process.stderr.write(
        `  conv-speed ${label} ${m} (${f}): fast ${fastPer.toFixed(2)} ms/example, loop ${loopPer.toFixed(2)}, forward+backward ${(plain.median / pe.samples).toFixed(2)}\n`,
      );
    }
  }
  return rows;
}

export interface ConvSpeedShapes {
  matmul: number;
  opRounds: number;
  paper2Width: number;
  paper2Batch: number;
  mobilenet: { alpha: number; size: number; blocks: number; batch: number };
  /**
   * The same step at full width (α 1.0): the width of the pretrained MobileNetV2 that ships in npm
   * packages (nsfwjs's is Keras's α 1.0 at 224²), where α 0.35 is the narrowest Keras offers.
   */
  mobilenetFull: { alpha: number; size: number; blocks: number; batch: number };
  /**
   * The α 0.35 step's steady-state rows again at a fine-tuning batch: MobileNetV2's ~5800 kernel
   * calls per step cost about the same at any batch, its multiply-adds grow with it.
   */
  mobilenetLargeBatch: number;
  stepRounds: number;
  perExample: { samples: number; loopSamples: number; rounds: number; mobilenet: { samples: number; loopSamples: number; rounds: number } };
}

export function convSpeedShapes(quick: boolean): ConvSpeedShapes {
  return quick
    ? {
        matmul: 128,
        opRounds: 2,
        paper2Width: 0.0625,
        paper2Batch: 2,
        mobilenet: { alpha: 0.35, size: 32, blocks: 2, batch: 2 },
        mobilenetFull: { alpha: 1, size: 32, blocks: 2, batch: 2 },
        mobilenetLargeBatch: 4,
        stepRounds: 2,
        perExample: { samples: 8, loopSamples: 2, rounds: 1, mobilenet: { samples: 2, loopSamples: 1, rounds: 1 } },
      }
    : {
        matmul: 1024,
        opRounds: 7,
        paper2Width: 1,
        paper2Batch: 32,
        mobilenet: { alpha: 0.35, size: 96, blocks: 16, batch: 8 },
        mobilenetFull: { alpha: 1, size: 96, blocks: 16, batch: 8 },
        mobilenetLargeBatch: 32,
        stepRounds: 7,
        perExample: { samples: 100, loopSamples: 20, rounds: 3, mobilenet: { samples: 16, loopSamples: 4, rounds: 3 } },
      };
}

export async function benchConvSpeed(opts: RunOptions): Promise<WorkloadResult> {
  if (tf.getBackend() !== 'wasm') return { rows: [], notes: [`${opts.backend}: not run: this workload measures the wasm backend's convolutions.`] };
  const rows: Row[] = [];
  const notes: string[] = [];
  const s = convSpeedShapes(opts.quick);
  const b = opts.backend;
  const say = (m: string) => process.stderr.write(`  conv-speed ${m}\n`);
  const mmFlop = (2 * s.matmul ** 3) / 1e9;
  const mmName = `matMul ${s.matmul}×${s.matmul}×${s.matmul}`;
  const start = await matmulTiming(s.matmul, opts.quick ? 2 : 9);
  rows.push(row(`${mmName}, alone, at the start`, '-', b, '-', 1, start, mmFlop, gflopsOf(start, mmFlop)));
  rows.push(await streamRow(s.matmul, opts.quick ? 2 : 9, 'at the start', b));
  say(`${mmName}: ${start.median.toFixed(1)} ms`);

  // ops: forward, input gradient, filter gradient, under each formulation, interleaved
  for (const c of convCases(opts.quick).filter(
    (c) => !depthwiseOnly() || c.kind !== 'conv2d' || (mobilenetOnly() && (c.name.startsWith('MobileNetV2 1×1') || c.name.startsWith('MobileNetV2 stem'))),
  )) {
    const { passes, inputs } = casePasses(c);
    const shape = `x [${c.n},${c.h},${c.h},${c.c}], ${c.k}×${c.k}${c.s > 1 ? ` stride ${c.s}` : ''}, ${c.pad}`;
    try {
      for (const pass of ['forward', 'input gradient', 'filter gradient'] as const) {
        const fn = passes[pass];
        const gflop = (2 * caseMacs(c, pass)) / 1e9;
        // timed to the op's return (wasm runs synchronously), the output disposed unread: reading it back
        // copies it out of the heap (1–2 ms for these shapes), which a training step never does
        const op = (f: ConvFormulation) => () => under(f, () => tf.dispose(tf.tidy(() => fn())));
        const { t, ceiling } = await withCeiling(op, s.matmul, s.opRounds, 1);
        for (const f of FORMULATIONS) rows.push(row(`${c.kind} ${pass}: ${c.name}`, shape, b, LABEL[f], c.n, t[f], gflop, ceiling));
        say(`${c.name} ${pass}: ${FORMULATIONS.map((f) => t[f].median.toFixed(1)).join(' → ')} ms (matMul ${ceiling.toFixed(1)} GFLOP/s)`);
        // warm caches too: every formulation under CONV_SPEED_ONLY=depthwise; otherwise 'auto' alone, for the
        // depthwise and separable ops, whose rows above read their inputs from memory after the 12 MB matMul
        // (in a training step an op reads what the op before it has just written)
        if (depthwiseOnly() || c.kind !== 'conv2d') {
          const forms: readonly ConvFormulation[] = depthwiseOnly() ? FORMULATIONS : ['auto'];
          const warm = await warmCeiling(op, s.matmul, s.opRounds, 3, forms);
          for (const f of forms) rows.push(row(`${c.kind} ${pass}, warm caches: ${c.name}`, shape, b, LABEL[f], c.n, warm.t[f], gflop, warm.ceiling));
          say(`${c.name} ${pass}, warm: ${forms.map((f) => warm.t[f].median.toFixed(2)).join(' → ')} ms (matMul ${warm.ceiling.toFixed(1)} GFLOP/s)`);
        }
      }
    } finally {
      tf.dispose(inputs);
    }
  }

  // training steps
  if (!depthwiseOnly()) {
    const model = paper2ConvNet({ width: s.paper2Width, seed: 1 });
    const x = tf.randomUniform([s.paper2Batch, 784], 0, 1, 'float32', 1);
    const y = tf.tensor1d(
      Array.from({ length: s.paper2Batch }, (_, i) => i % 10),
      'int32',
    );
    try {
      const { t, ceiling } = await stepPair(model, x, y, s.matmul, s.stepRounds);
      const gflop = stepGflop(paper2Macs(s.paper2Width), s.paper2Batch);
      for (const f of FORMULATIONS)
        rows.push(row('paper 2 conv net training step', s.paper2Width === 1 ? 'full width' : `width ×${s.paper2Width}`, b, LABEL[f], s.paper2Batch, t[f], gflop, ceiling));
      say(`paper 2 step: ${FORMULATIONS.map((f) => t[f].median.toFixed(0)).join(' → ')} ms (matMul ${ceiling.toFixed(1)} GFLOP/s)`);
      rows.push(
        ...(await steadyRows(
          'paper 2 conv net training step',
          s.paper2Width === 1 ? 'full width' : `width ×${s.paper2Width}`,
          b,
          s.paper2Batch,
          gflop,
          () => steadySteps(model, x, y, s.matmul, s.stepRounds),
          say,
        )),
      );
    } finally {
      tf.dispose([x, y]);
      model.dispose();
    }
  }
  {
    const m = s.mobilenet;
    const { loaded, macs, x, y } = await mobilenetInputs(m);
    try {
      const { t, ceiling, unfused } = await stepPair(loaded.model, x, y, s.matmul, s.stepRounds, true);
      const gflop = stepGflop(macs, m.batch);
      const shape = mobilenetShape(m);
      for (const f of FORMULATIONS) rows.push(row('MobileNetV2 training step', shape, b, LABEL[f], m.batch, t[f], gflop, ceiling));
      if (unfused) rows.push(row('MobileNetV2 training step', shape, b, AUTO_UNFUSED, m.batch, unfused, gflop, ceiling));
      say(
        `MobileNetV2 step: ${FORMULATIONS.map((f) => t[f].median.toFixed(0)).join(' → ')} ms, auto, fusions off ${unfused?.median.toFixed(0)} ms (matMul ${ceiling.toFixed(1)} GFLOP/s)`,
      );
      rows.push(...(await steadyRows('MobileNetV2 training step', shape, b, m.batch, gflop, () => steadySteps(loaded.model, x, y, s.matmul, s.stepRounds, true), say)));
      // the same steady-state step at a fine-tuning batch
      {
        const big = s.mobilenetLargeBatch;
        const xb = tf.randomUniform([big, m.size, m.size, 3], 0, 1, 'float32', 2);
        const yb = tf.tensor1d(
          Array.from({ length: big }, (_, i) => i % 10),
          'int32',
        );
        try {
          rows.push(...(await steadyRows('MobileNetV2 training step', shape, b, big, stepGflop(macs, big), () => steadySteps(loaded.model, xb, yb, s.matmul, s.stepRounds), say)));
        } finally {
          tf.dispose([xb, yb]);
        }
      }
      rows.push(...(await stockFitRows(m, x, y, shape, b, s.stepRounds, ceiling)));
      // Adam: the update in one SIMD call (`adam-wasm.ts`, bit for bit tfjs's) against tfjs's applyGradients (~14 ops per variable)
      {
        const mm = matmulEntry(s.matmul);
        const opts = [tf.train.adam(1e-5), new StockAdam(1e-5, 0.9, 0.999)];
        try {
          const steps = opts.map((o) => {
            const ctx = context(loaded.model, o);
            return () => trainStep({ x, y }, ctx, []);
          });
          for (const st of steps) st().dispose(); // tfjs's first step creates the moments
          const timed = await pairedRounds([...steps, mm.run], { rounds: s.stepRounds, warmup: 2 });
          const tm = (i: number) => (timed[i] as { timing: Timing }).timing;
          const adamCeiling = gflopsOf(tm(2), mm.gflop);
          rows.push(row(ADAM_MEASURE, shape, b, 'after: one-call Adam update (forgetless SIMD, bit for bit tfjs)', m.batch, tm(0), gflop, adamCeiling));
          rows.push(row(ADAM_MEASURE, shape, b, "before: tfjs's Adam applyGradients", m.batch, tm(1), gflop, adamCeiling));
          say(`MobileNetV2 step, Adam: tfjs's applyGradients ${tm(1).median.toFixed(0)} → one call ${tm(0).median.toFixed(0)} ms`);
        } finally {
          mm.done();
          for (const o of opts) o.dispose();
        }
      }
      const pe = s.perExample.mobilenet;
      rows.push(...(await perExampleRows('MobileNetV2', loaded.model, randomImages(pe.samples, [m.size, m.size, 3], 7), pe, ['FIS empirical', 'MAS softmax'], b, shape)));
    } finally {
      tf.dispose([x, y]);
      loaded.dispose();
    }
  }

  // the same step at full width (α 1.0), the pretrained models' width: steps under each formulation and stock tfjs-layers
  {
    const m = s.mobilenetFull;
    const { loaded, macs, x, y } = await mobilenetInputs(m);
    try {
      const { t, ceiling } = await stepPair(loaded.model, x, y, s.matmul, s.stepRounds);
      const gflop = stepGflop(macs, m.batch);
      const shape = mobilenetShape(m);
      for (const f of FORMULATIONS) rows.push(row('MobileNetV2 training step', shape, b, LABEL[f], m.batch, t[f], gflop, ceiling));
      say(`MobileNetV2 α${m.alpha} step: ${FORMULATIONS.map((f) => t[f].median.toFixed(0)).join(' → ')} ms (matMul ${ceiling.toFixed(1)} GFLOP/s)`);
      rows.push(...(await steadyRows('MobileNetV2 training step', shape, b, m.batch, gflop, () => steadySteps(loaded.model, x, y, s.matmul, s.stepRounds, true), say)));
      rows.push(...(await stockFitRows(m, x, y, shape, b, s.stepRounds, ceiling)));
    } finally {
      tf.dispose([x, y]);
      loaded.dispose();
    }
  }

  // per-example FIS and MAS of paper 2's conv net against the loop and one forward+backward pass
  if (!depthwiseOnly()) {
    const model = paper2ConvNet({ width: s.paper2Width, seed: 1 });
    try {
      const pe = s.perExample;
      const shape = s.paper2Width === 1 ? 'full width' : `width ×${s.paper2Width}`;
      rows.push(...(await perExampleRows('paper 2 conv net', model, randomImages(pe.samples, [28, 28, 1], 7), pe, ['FIS empirical', 'MAS softmax'], b, shape)));
    } finally {
      model.dispose();
    }
  }

  const end = await matmulTiming(s.matmul, opts.quick ? 2 : 9);
  rows.push(row(`${mmName}, alone, at the end`, '-', b, '-', 1, end, mmFlop, gflopsOf(end, mmFlop)));
  rows.push(await streamRow(s.matmul, opts.quick ? 2 : 9, 'at the end', b));
  if (depthwiseOnly())
    notes.push(
      `CONV_SPEED_ONLY=${process.env.CONV_SPEED_ONLY}: only the DepthwiseConv2D and SeparableConv2D ops${mobilenetOnly() ? ", MobileNetV2's 1×1 and stem Conv2D ops" : ''}, the MobileNetV2 step and its per-example importances ran. Each op also has a 'warm caches' row: per round each formulation (rotated order) runs once untimed, then three times back to back (their mean is the round's sample), the matMul once untimed and once timed; the other op rows run each op right after another formulation or the 12 MB matMul, so with the inputs out of cache.`,
    );
  if (!depthwiseOnly())
    notes.push(
      "Ops, 'warm caches' rows (DepthwiseConv2D and SeparableConv2D, 'auto' only): per round the op runs once untimed, then three times back to back (their mean is the round's sample), the matMul once untimed and once timed, as an op reads its inputs in a training step, just written by the op before it; the other op rows run each op right after another formulation or the 12 MB matMul, so with its inputs out of cache.",
    );
  notes.push(
    `pct_of_matmul: a row's GFLOP/s over matmul_gflop_s, the GFLOP/s of a ${mmName} matMul timed in the same rounds as the row (each round runs every formulation and the matMul in a rotated order, so load from other processes falls on all alike); the matMul alone at the start and end of each backend's rows shows how much that load moved.`,
    "Ops: exactly what forgetless's registered gradients run (conv2dBackpropInput/Filter, depthwiseBackpropInput/Filter; separable = depthwise then a 1×1 conv, its filter gradient both kernels'), under 'forward-conv' (forgetless 0.1's formulation, with tfjs-backend-wasm's own kernels), 'im2col' (forgetless's Slice and MaxPoolGrad kernels), before ('composed', the 'auto' of the 2026-11-30 conv-speed-auto run: per op the fastest composition of tfjs ops, and forgetless's Identity, Cast, Sum, Mean and LeakyRelu kernels on wasm) and after ('auto', the default: the same plus forgetless's WebAssembly SIMD kernels where the module runs: depthwise convolutions forward, ∂x and ∂W (2026-11-30_conv-speed-simd), and since 2026-11-30_conv-speed-pw 1×1 unit-stride convolutions forward, ∂x and ∂W, training-mode batch norm (one kernel each way, the moving statistics folded in), ReLU6 and its gradient, and a PadV2 in place; not on wasm-nosimd, where 'auto' falls back to 'composed'), interleaved round by round (median of the rounds), each timed to its return (wasm runs synchronously) with its output disposed unread (the runs before 2026-11-30_conv-speed-simd read it back, a copy out of the heap of 1–2 ms for a [8, 24, 24, 144] output). gflop: 2 × multiply-adds of the pass (the same count for forward, ∂x and ∂W, but separable ∂W: its row computes the 1×1 conv's ∂x too, to reach the depthwise kernel's gradient, and counts it since 2026-11-30_conv-speed-dw2).",
    `${FIT_MEASURE}: the same builder's tfjs-layers model compiled with SGD (lr 0.01) and sparse categorical cross-entropy, one trainOnBatch per sample, 'composed' and 'auto' interleaved (${s.stepRounds} rounds after 2 warm-ups each): tfjs-layers' own ops and gradients, which reach forgetless's wasm kernels by kernel name (Tile, the ClipByValue gradient of ReLU(max_value), Conv2DBackpropInput/Filter, depthwise, PadV2, Sum/Mean) but not its batch norm or batch norm + ReLU6 (tfjs-layers composes moments and FusedBatchNorm) nor its 1×1 forward (tfjs-layers calls FusedConv2D, XNNPACK's). No gflop: the timings are not from the matMul's rounds.`,
    `Steps${STEADY_SUFFIX.replace(', ', ': ')}: the same step, before ('composed') and after ('auto') only; per round each runs one untimed step and then two timed ones back to back (their mean is the round's sample), the matMul once untimed and once timed, in a rotated order: each timed step follows a step of its own kind, as in a training loop, where the other step rows time a step right after another formulation's step or the 12 MB matMul (caches and the heap's free lists as that left them).`,
    `Steps: one SGD step (lr 0.01, mean cross-entropy, training mode), the four formulations interleaved (MobileNetV2: and 'auto' with the layer fusions off, conv, batch norm and ReLU6 apart and ZeroPadding2D as its own PadV2: the 'auto' before them; its steady-state rows also 'auto' with only each conv + batch norm pair apart, the 'auto' before 2026-12-02; α 0.35's steady-state rows again at batch ${s.mobilenetLargeBatch}, a fine-tuning batch, on the same model); gflop counts the Conv2D/DepthwiseConv2D/Dense multiply-adds ×2 of the forward pass, the filter gradients and the input gradients but the first layer's; batch norm, activations and pooling are not counted, so gflop_s is a lower bound of the work done. Beside the matMul alone, at the start and at the end of each backend's rows, a memory stream alone (tfjs's Add of two float32 tensors of ${4 * s.matmul ** 2} values, ${(48 * s.matmul ** 2) / 1e6} MB moved; its gb_s): the matMul ceiling is compute-bound and blind to memory traffic from other processes on the host, which slows the steps' batch norms and depthwise convolutions, so a step's pct_of_matmul is to be read beside those rows.`,
    "MobileNetV2 training step, Adam (lr 1e-5, the 'auto' formulation): fine-tuning's default optimizer, its update as one SIMD call per variable (`adam-wasm.ts`: θ, m, v bit for bit what tfjs's applyGradients leaves) against tfjs's own applyGradients (a subclass of AdamOptimizer, which the one-call path declines; ~14 kernel calls per variable, 158 variables), interleaved with the matMul; the moments exist before timing.",
    `Per-example importances (inference mode): paper 2's conv net on ${s.perExample.samples} random 28×28 images, MobileNetV2 on ${s.perExample.mobilenet.samples} random images (FIS and MAS), each in one batch; the loop (one backward pass per example) on the first ${s.perExample.loopSamples} (MobileNetV2: ${s.perExample.mobilenet.loopSamples}), scaled per example. Every entry (forward+backward, fast path, loop; under each formulation) is interleaved round by round with the others: median, min and max of ${s.perExample.rounds} rounds after one warm-up round. x_loop: the loop's time per example over the fast path's; x_forward_backward: time over one plain forward+backward pass (mean cross-entropy, all parameters) over the same examples. Memory stays bounded: the per-example gradients are built in chunks of at most 2^23 floats (maxChunkElements).`,
  );
  return { rows, notes };
}

/** The PyTorch peer's steps (one thread), beside the wasm rows, with the same FLOP counts. */
export async function finishConvSpeed(ctx: FinishContext): Promise<WorkloadResult> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const s = convSpeedShapes(ctx.quick);
  const mine = ctx.results['conv-speed']?.rows ?? [];
  const gflopOf = (measure: string, shape?: string) =>
    mine.find((r) => r.measure === measure && (shape === undefined || r.shape === shape) && typeof r.gflop === 'number')?.gflop as number | undefined;
  try {
    const m = s.mobilenet;
    const steps = depthwiseOnly()
      ? undefined
      : await runTorch(
          [
            '--steps-only',
            '--mlp',
            ctx.quick ? '784-30-15-10' : '784-300-150-10',
            '--conv-width',
            String(s.paper2Width),
            '--conv-batches',
            String(s.paper2Batch),
            '--runs',
            ctx.quick ? '2' : '5',
          ],
          1,
        );
    const torchMobile = (c: typeof m) =>
      runTorch(['--mobilenet', `${c.alpha},${c.size},${c.batch},${c.blocks}`, '--mobilenet-parts', 'step', '--only-mobilenet', '--runs', ctx.quick ? '2' : '5'], 1);
    const mob = await torchMobile(m);
    const full = await torchMobile(s.mobilenetFull);
    const tagged = [...(steps?.rows ?? []).map((r) => ({ r, c: m })), ...mob.rows.map((r) => ({ r, c: m })), ...full.rows.map((r) => ({ r, c: s.mobilenetFull }))];
    for (const { r, c } of tagged) {
      if (r.workload !== 'step' || r.model === 'mlp') continue;
      const measure = r.model === 'conv' ? 'paper 2 conv net training step' : 'MobileNetV2 training step';
      const gflop = gflopOf(measure, r.model === 'conv' ? undefined : mobilenetShape(c));
      const t = { median: r.median_ms, min: r.min_ms, max: r.max_ms, runs: r.runs };
      rows.push({
        measure,
        shape: r.model === 'conv' ? (s.paper2Width === 1 ? 'full width' : `width ×${s.paper2Width}`) : `torchvision mobilenet_v2(width_mult=${c.alpha}), ${c.size}×${c.size}×3`,
        backend: 'torch 1 thread',
        formulation: `PyTorch ${mob.torch}`,
        batch: r.batch,
        median_ms: t.median,
        min_ms: t.min,
        max_ms: t.max,
        gflop: gflop ?? '',
        gflop_s: gflop ? gflop / (t.median / 1000) : '',
        pct_of_matmul: '',
      });
    }
    notes.push(
      `torch: PyTorch ${mob.torch} on one thread (BLAS ${mob.blas}), NCHW, the same shapes and batch, median of ${ctx.quick ? 2 : 5} runs after a warm-up; gflop as the forgetless rows count it.`,
    );
  } catch (e) {
    notes.push(`torch peer: ${e instanceof PeerUnavailable ? 'unavailable' : 'failed'}: ${(e as Error).message.split('\n')[0]}`);
  }
  return { rows, notes };
}
