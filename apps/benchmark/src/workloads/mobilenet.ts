/**
 * A real, pretrained-style model: Keras's MobileNetV2 (α = 0.35, 96×96×3, 10 classes, the whole
 * network), built with stock tfjs-layers (`../models/mobilenet-v2.ts`), saved to in-memory artifacts
 * and imported with `loadLayersModelFromArtifacts`, so the model measured is the imported
 * `GraphModel`. Per backend, side by side in the same run:
 * - one SGD step (lr 0.01, mean cross-entropy, training mode) at batch 8: forgetless's `trainStep`
 *   on the imported model; the same step with stock tfjs-layers on the tfjs-layers model itself
 *   (`tf.variableGrads(() => loss(model.apply(x, { training: true })))` + the optimizer), with tfjs's
 *   own gradients (`setGradientMode('stock')`) and with forgetless's registered ones active (what a
 *   program that imports both gets); a failure is the row's status, with tfjs's message;
 * - the per-example empirical Fisher on the imported model, `fisherDiagonal(…, { path: 'fast' })`
 *   against `{ path: 'loop' }`, on the same N examples in one batch, per example, and one plain
 *   forward+backward pass over them (inference mode) for scale;
 * - memory beside each: the process's peak RSS (`process.resourceUsage().maxRSS`), tfjs's
 *   `tf.memory().numBytes` after the timed runs and, on wasm, the size of the wasm heap (which only
 *   grows: its high-water mark). Outside quick mode every part runs in a child process of its own
 *   (`--part`), so that the peak RSS is that part's; `rss_base_mb` is the same process's peak before
 *   the part began (Node, tfjs and the backend loaded).
 * The PyTorch peer (`finish`): torchvision's `mobilenet_v2(width_mult=0.35, num_classes=10)`, the
 * whole network, at the same input size, batch and N, on one thread; `vs_torch` on every row is
 * the project's time over torch's for the same measure (fast Fisher against functorch's
 * vmap(grad), the loop against torch's loop).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  type LoadedLayersModel,
  type Model,
  type Task,
  type TrainContext,
  Rng,
  ensureOwnGradients,
  loadLayersModelFromArtifacts,
  setGradientMode,
  softmaxCrossEntropy,
  trainStep,
} from '@forgetless/core';
import { fisherDiagonal } from '@forgetless/importances';
import { runInChild } from '../child.js';
import { randomImages } from '../data.js';
import { type Timing, timeIt } from '../harness.js';
import { mobileNetV2, saveToMemory } from '../models/mobilenet-v2.js';
import { PeerUnavailable, type TorchReport, type TorchRow, pythonPath, runTorch } from '../peer/torch.js';
import type { FinishContext, Row, RunOptions, WorkloadResult } from '../workload.js';

export interface MobilenetShape {
  alpha: number;
  size: number;
  /** Inverted-residual blocks after `expanded_conv` (16: the whole network). */
  blocks: number;
  /** Batch of the training step. */
  batch: number;
  /** Examples of the Fisher rows (one batch) and of the forward+backward pass. */
  samples: number;
  runs: number;
  warmup: number;
}

/** The sizes (the torch peer runs the same). tfjs's cpu backend takes about 35 s per step here, so it gets one warm-up. */
export function mobilenetShape(quick: boolean, backend = 'wasm'): MobilenetShape {
  if (quick) return { alpha: 0.35, size: 32, blocks: 2, batch: 2, samples: 2, runs: 2, warmup: 1 };
  return { alpha: 0.35, size: 96, blocks: 16, batch: 8, samples: 16, runs: 5, warmup: backend === 'cpu' ? 1 : 2 };
}

export function mobilenetLabel(s: MobilenetShape): string {
  return `MobileNetV2 α${s.alpha} ${s.size}×${s.size}×3${s.blocks === 16 ? '' : `, first ${s.blocks} blocks`}`;
}

/** The parts, each timed in a process of its own outside quick mode. */
export const MOBILENET_PARTS = {
  'step-forgetless': { measure: 'training step', implementation: 'forgetless trainStep, imported GraphModel' },
  'step-tfl-stock': { measure: 'training step', implementation: "tfjs-layers model, tfjs's own gradients" },
  'step-tfl-registered': { measure: 'training step', implementation: "tfjs-layers model, forgetless's gradients registered" },
  'forward-backward': { measure: 'forward+backward', implementation: 'forgetless, imported GraphModel' },
  'fisher-fast': { measure: 'FIS empirical', implementation: "forgetless fisherDiagonal, path 'fast'" },
  'fisher-loop': { measure: 'FIS empirical', implementation: "forgetless fisherDiagonal, path 'loop'" },
} as const;
export type MobilenetPart = keyof typeof MOBILENET_PARTS;

function isPart(p: string): p is MobilenetPart {
  return Object.hasOwn(MOBILENET_PARTS, p);
}

const MB = 2 ** 20;
const round1 = (x: number) => Math.round(x * 10) / 10;

function wasmHeapMb(): number | '' {
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8;
  return heap ? round1(heap.byteLength / MB) : '';
}

/** A row with every column, in the report's order (blank where it does not apply). */
function emptyRow(s: MobilenetShape, backend: string, measure: string, implementation: string, examples: number): Row {
  return {
    model: mobilenetLabel(s),
    backend,
    measure,
    implementation,
    examples,
    median_ms: '',
    min_ms: '',
    max_ms: '',
    cpu_ms: '',
    ms_per_example: '',
    x_forward_backward: '',
    vs_torch: '',
    vs_torch_cpu: '',
    status: '',
    load_1min: round1(loadavg()[0] as number),
    rss_base_mb: '',
    peak_rss_mb: '',
    tf_mb_after: '',
    wasm_heap_mb: '',
  };
}

/** The Keras model, saved to memory and imported: the GraphModel forgetless measures. */
async function importedModel(s: MobilenetShape): Promise<LoadedLayersModel> {
  const keras = mobileNetV2({ alpha: s.alpha, size: s.size, blocks: s.blocks, classes: 10, seed: 1 });
  try {
    return await loadLayersModelFromArtifacts(await saveToMemory(keras), 'mobilenet_v2 (memory)');
  } finally {
    keras.dispose();
  }
}

function contextFor(model: Model, optimizer: tf.Optimizer): TrainContext {
  const task = { name: 'bench', classes: undefined } as unknown as Task;
  return { model, optimizer, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new Rng(0) };
}

/** A fixed random batch of images uniform in [0, 1), labels cycling through the 10 classes. */
function imageBatch(s: MobilenetShape, n: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.randomUniform([n, s.size, s.size, 3], 0, 1, 'float32', 1) as tf.Tensor4D,
    y: tf.tensor1d(
      Array.from({ length: n }, (_, i) => i % 10),
      'int32',
    ),
  };
}

/** Keras's categorical cross-entropy on the tfjs-layers model's softmax output, mean over the batch. */
function kerasLoss(probs: tf.Tensor, oneHot: tf.Tensor): tf.Scalar {
  return tf.mean(tf.neg(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(probs, 1e-7, 1 - 1e-7))), -1)));
}

/** Runs an importance and frees its result (after reading one value, so async backends finish). */
async function settleMap(map: Promise<Record<string, tf.Tensor>>): Promise<void> {
  const m = await map;
  await Object.values(m)[0]?.data();
  tf.dispose(Object.values(m));
}

/** Times one part in this process: its row, with the timing or the failure, and memory. */
export async function runMobilenetPart(part: MobilenetPart, s: MobilenetShape, backend: string): Promise<Row> {
  const { measure, implementation } = MOBILENET_PARTS[part];
  const examples = measure === 'training step' ? s.batch : s.samples;
  const row = emptyRow(s, backend, measure, implementation, examples);
  row.rss_base_mb = round1(process.resourceUsage().maxRSS / 1024);
  const opts = { runs: s.runs, warmup: s.warmup };
  let timing: Timing | undefined;
  const disposers: Array<() => void> = [];
  try {
    if (part === 'step-forgetless') {
      const loaded = await importedModel(s);
      disposers.push(() => loaded.dispose());
      const { x, y } = imageBatch(s, s.batch);
      const optimizer = tf.train.sgd(0.01);
      disposers.push(() => (tf.dispose([x, y]), optimizer.dispose()));
      const ctx = contextFor(loaded.model, optimizer);
      timing = await timeIt(() => trainStep({ x, y }, ctx, []), opts);
    } else if (part === 'step-tfl-stock' || part === 'step-tfl-registered') {
      const keras = mobileNetV2({ alpha: s.alpha, size: s.size, blocks: s.blocks, classes: 10, seed: 1 });
      disposers.push(() => keras.dispose());
      const { x, y } = imageBatch(s, s.batch);
      const oneHot = tf.oneHot(y, 10);
      const optimizer = tf.train.sgd(0.01);
      disposers.push(() => (tf.dispose([x, y, oneHot]), optimizer.dispose()));
      const vars = keras.trainableWeights.map((w) => w.read() as tf.Variable);
      // Importing tfjs-layers after @forgetless/core re-registers tfjs's own gradients (see the
      // notes); forgetless's entry points put theirs back with ensureOwnGradients(), so this row does too.
      if (part === 'step-tfl-registered') ensureOwnGradients();
      setGradientMode(part === 'step-tfl-stock' ? 'stock' : 'auto');
      disposers.push(() => setGradientMode('auto'));
      timing = await timeIt(
        () =>
          tf.tidy(() => {
            const { value, grads } = tf.variableGrads(() => kerasLoss(keras.apply(x, { training: true }) as tf.Tensor, oneHot), vars);
            optimizer.applyGradients(grads);
            return value;
          }),
        opts,
      );
    } else {
      const loaded = await importedModel(s);
      disposers.push(() => loaded.dispose());
      const model = loaded.model;
      if (part === 'forward-backward') {
        const { x, y } = imageBatch(s, s.samples);
        disposers.push(() => tf.dispose([x, y]));
        const vars = Object.values(model.params);
        ensureOwnGradients(); // as trainStep and the importances do (see the notes)
        timing = await timeIt(
          () =>
            tf.tidy(() => {
              const { value, grads } = tf.variableGrads(() => softmaxCrossEntropy(model.logits(x), y), vars);
              tf.dispose(Object.values(grads));
              return value;
            }),
          opts,
        );
      } else {
        const source = randomImages(s.samples, [s.size, s.size, 3], 7);
        const path = part === 'fisher-fast' ? 'fast' : 'loop';
        timing = await timeIt(() => settleMap(fisherDiagonal(model, source, { path, batchSize: s.samples, limit: s.samples })), opts);
      }
    }
    row.median_ms = timing.median;
    row.min_ms = timing.min;
    row.max_ms = timing.max;
    row.cpu_ms = timing.cpuMedian ?? '';
    row.ms_per_example = timing.median / examples;
    row.status = `ok (${timing.runs} runs)`;
  } catch (e) {
    row.status = `fails: ${(e as Error).message.split('\n')[0]}`;
  }
  row.peak_rss_mb = round1(process.resourceUsage().maxRSS / 1024);
  row.tf_mb_after = round1(tf.memory().numBytes / MB);
  row.wasm_heap_mb = wasmHeapMb();
  for (const d of disposers.reverse()) d();
  process.stderr.write(`  mobilenet ${part}: ${typeof row.median_ms === 'number' ? `${row.median_ms.toFixed(0)} ms` : row.status}\n`);
  return row;
}

/** Parts that do not run on a backend, and why (a row says so). */
function notRun(part: MobilenetPart, backend: string): string | undefined {
  if (part === 'step-tfl-registered' && backend === 'cpu') {
    return "not run: on cpu forgetless's registered gradients hand every kernel of this model to tfjs's own ('auto' replaces them on wasm only), so this is the row above";
  }
  return undefined;
}

export async function benchMobilenet(opts: RunOptions): Promise<WorkloadResult> {
  const s = mobilenetShape(opts.quick, opts.backend);
  if (opts.part) {
    if (!isPart(opts.part)) throw new Error(`mobilenet: unknown part '${opts.part}' (known: ${Object.keys(MOBILENET_PARTS).join(', ')})`);
    return { rows: [await runMobilenetPart(opts.part, s, opts.backend)], notes: [] };
  }
  const rows: Row[] = [];
  const scratch = opts.quick ? undefined : await mkdtemp(join(tmpdir(), 'forgetless-mobilenet-'));
  try {
    for (const part of Object.keys(MOBILENET_PARTS) as MobilenetPart[]) {
      const skip = notRun(part, opts.backend);
      if (skip) {
        const { measure, implementation } = MOBILENET_PARTS[part];
        rows.push({ ...emptyRow(s, opts.backend, measure, implementation, s.batch), status: skip, load_1min: '' });
        continue;
      }
      if (!scratch) {
        rows.push(await runMobilenetPart(part, s, opts.backend));
        continue;
      }
      let r: { rows: Row[]; error?: string } | undefined;
      try {
        r = (await runInChild(opts.backend, ['mobilenet'], false, scratch, part)).results.mobilenet;
      } catch (e) {
        r = { rows: [], error: (e as Error).message.split('\n')[0] ?? String(e) };
      }
      if (!r || r.error || r.rows.length !== 1) {
        const { measure, implementation } = MOBILENET_PARTS[part];
        rows.push({ ...emptyRow(s, opts.backend, measure, implementation, s.batch), status: `fails: ${r?.error ?? 'the child process returned no row'}` });
        continue;
      }
      rows.push(...r.rows);
    }
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  const fb = rows.find((r) => r.measure === 'forward+backward');
  for (const r of rows) {
    if (r.measure === 'FIS empirical' && typeof r.median_ms === 'number' && typeof fb?.median_ms === 'number') r.x_forward_backward = r.median_ms / fb.median_ms;
  }
  const fast = rows.find((r) => r.measure === 'FIS empirical' && String(r.implementation).includes("'fast'"));
  const loop = rows.find((r) => r.measure === 'FIS empirical' && String(r.implementation).includes("'loop'"));
  const notes = [
    `${mobilenetLabel(s)}: Keras's MobileNetV2 (alpha ${s.alpha}${s.blocks === 16 ? ', the whole network' : `, truncated after ${s.blocks} blocks`}, 10 classes, softmax output) built with tfjs-layers 4.22, saved to memory and imported with loadLayersModelFromArtifacts; forgetless rows run the imported GraphModel (its logits: the softmax is folded into the loss).`,
    `Training step: SGD lr 0.01, mean cross-entropy (the tfjs-layers rows: Keras's categorical cross-entropy on the softmax output), training mode (batch norm on batch statistics), random images uniform in [0, 1), batch ${s.batch}; median, min and max of ${s.runs} runs after ${opts.quick ? s.warmup : '2'} warm-up${opts.quick ? '' : 's (1 on cpu, where a step takes about 35 s)'}. FIS: empirical Fisher, inference mode, ${s.samples} random images in one batch (the loop: one backward pass per example); x_forward_backward: over one plain forward+backward pass (mean cross-entropy, all parameters, inference mode) over the same ${s.samples}.`,
    `Memory: peak_rss_mb is process.resourceUsage().maxRSS at the end of the part, rss_base_mb the same before it began (Node, tfjs and the backend loaded), ${opts.quick ? 'all parts in one process (quick mode)' : 'each part in a child process of its own'}; tf_mb_after is tf.memory().numBytes after the timed runs (the model's variables and anything kept); wasm_heap_mb the wasm backend's heap, whose size is its high-water mark.`,
  ];
  if (rows.some((r) => String(r.implementation).startsWith('tfjs-layers') && /^fails: .*'Conv2DBackpropFilter'/.test(String(r.status)))) {
    notes.push(
      `wasm: why the tfjs-layers step fails with forgetless's gradients registered too: tfjs-layers' Conv2D layers (Conv1, every 1×1 expand and project, Conv_1) run tf.fused.conv2d, whose gradient is a customGrad inside tfjs-core that calls conv2DBackpropFilter directly, so no registered gradient is consulted for it (forgetless's Conv2D one, which forms ∂filter from forward convolutions where the kernel is missing, included). The backward pass reaches Conv_1 first, hence the same message in both modes; wasm also lacks DepthwiseConv2dNativeBackpropFilter/Input, which forgetless's registered DepthwiseConv2dNative gradient covers. forgetless's own layers, which the imported model uses, run the unfused ops and train.`,
    );
  }
  notes.push(
    "Gradients: importing tfjs-layers after @forgetless/core replaces forgetless's registered gradients with tfjs's own (its bundle runs tfjs-core's gradient registration again; checked: tf.getGradient('Conv2D') changes on that import). forgetless's entry points (trainStep, the importances) call ensureOwnGradients(), which puts them back; the plain forward+backward and the tfjs-layers row 'forgetless's gradients registered' call it too, and without it the forward+backward fails on wasm with the Conv2DBackpropFilter message. 'tfjs's own gradients' is setGradientMode('stock').",
  );
  if (typeof fast?.ms_per_example === 'number' && typeof loop?.ms_per_example === 'number') {
    notes.push(`${opts.backend}: the fast per-example Fisher is ×${(loop.ms_per_example / fast.ms_per_example).toFixed(2)} the loop's speed.`);
  }
  return { rows, notes };
}

/** The measure a torch row stands beside. */
const TORCH_MATCH: Record<string, TorchRow['workload']> = {
  'training step': 'step',
  'forward+backward': 'forward backward',
};

/** The torch peer on the same shapes; fills `vs_torch` on the project's rows. */
export async function finishMobilenet(ctx: FinishContext): Promise<WorkloadResult> {
  const s = mobilenetShape(ctx.quick);
  const common = [
    '--only-mobilenet',
    '--mobilenet',
    `${s.alpha},${s.size},${s.batch},${s.blocks}`,
    '--mobilenet-samples',
    String(s.samples),
    '--runs',
    String(s.runs),
    '--warmup',
    String(s.warmup),
  ];
  // one process per part outside quick mode, so that the peak RSS is the part's
  const partLists = ctx.quick ? ['step,forward backward,fisher loop,fisher vmap'] : ['step', 'forward backward', 'fisher loop', 'fisher vmap'];
  const reports: TorchReport[] = [];
  try {
    for (const parts of partLists) {
      const load = loadavg()[0] as number;
      const r = await runTorch([...common, '--mobilenet-parts', parts], 1);
      for (const row of r.rows) (row as TorchRow & { load?: number }).load = load;
      reports.push(r);
    }
  } catch (e) {
    if (e instanceof PeerUnavailable) return { rows: [], notes: [`torch peer skipped: ${e.message}`] };
    throw e;
  }
  const info = reports[0] as TorchReport;
  const torchRows = reports.flatMap((r) => r.rows);
  const rows: Row[] = [];
  const implementations: Record<string, string> = {
    step: 'torchvision mobilenet_v2, loss.backward + SGD',
    'forward backward': 'torchvision mobilenet_v2, autograd.grad',
    'fisher loop': 'torchvision mobilenet_v2, loop of autograd.grad',
    'fisher vmap': 'torchvision mobilenet_v2, functorch vmap(grad)',
  };
  for (const t of torchRows) {
    const measure = t.workload === 'step' ? 'training step' : t.workload === 'forward backward' ? 'forward+backward' : 'FIS empirical';
    const row = emptyRow(s, 'torch 1 thread', measure, implementations[t.workload] ?? t.workload, t.samples);
    Object.assign(row, {
      median_ms: t.median_ms,
      min_ms: t.min_ms,
      max_ms: t.max_ms,
      cpu_ms: t.cpu_median_ms ?? '',
      ms_per_example: t.median_ms / t.samples,
      status: `ok (${t.runs} runs)`,
      load_1min: round1((t as TorchRow & { load?: number }).load ?? 0),
      peak_rss_mb: round1(t.peak_rss_mb ?? 0),
    });
    rows.push(row);
  }
  const fb = torchRows.find((t) => t.workload === 'forward backward');
  for (const r of rows) {
    if (r.measure === 'FIS empirical' && fb) r.x_forward_backward = (r.median_ms as number) / fb.median_ms;
  }
  // project / torch on the per-backend rows (same measure; fast Fisher against vmap, loop against loop)
  for (const r of ctx.results.mobilenet?.rows ?? []) {
    if (typeof r.ms_per_example !== 'number') continue;
    const impl = String(r.implementation);
    const workload = TORCH_MATCH[String(r.measure)] ?? (impl.includes("'fast'") ? 'fisher vmap' : impl.includes("'loop'") ? 'fisher loop' : undefined);
    const t = torchRows.find((q) => q.workload === workload);
    if (!t) continue;
    r.vs_torch = r.ms_per_example / (t.median_ms / t.samples);
    if (typeof r.cpu_ms === 'number' && t.cpu_median_ms) r.vs_torch_cpu = r.cpu_ms / Number(r.examples) / (t.cpu_median_ms / t.samples);
  }
  const params = torchRows[0]?.params;
  const notes = [
    `torch: PyTorch ${info.torch} (Python ${info.python}, ${pythonPath()}), torchvision's mobilenet_v2(width_mult=${s.alpha}, num_classes=10)${s.blocks === 16 ? ', the whole network' : `, truncated after ${s.blocks} blocks (then its 1×1 conv to 1280, pooling, classifier)`}${params ? ` (${params} parameters)` : ''}, NCHW, at the same size, batch and examples; one thread (set_num_threads; OpenBLAS/OpenMP told the same; BLAS ${info.blas}); median of ${s.runs} runs after a warm-up, ${ctx.quick ? 'all parts in one process' : 'each part in a process of its own'} (peak_rss_mb: ru_maxrss after the part). torchvision differs from Keras's MobileNetV2 only in padding (symmetric 1 where Keras pads stride-2 convolutions ((0, 1), (0, 1))), batch-norm epsilon (1e-5 against 1e-3) and a dropout(0.2) before the classifier: the same layers, channels and parameter count.`,
    "vs_torch: the row's time per example over torch's for the same measure (training step against torch's step; forward+backward against torch's; the fast Fisher against functorch's vmap(grad); the loop against torch's loop); above 1, slower than torch. vs_torch_cpu: the same from CPU times (cpu_ms: the median CPU time, user + system, of the measuring process per run), which other processes' load affects far less than wall times.",
  ];
  return { rows, notes };
}
