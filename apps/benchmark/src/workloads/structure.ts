/**
 * Structural pruning (issue 16): whole channels removed through the dependency groups of
 * @forgetless/pruning, and what that buys, side by side with the unpruned model in one run:
 * - Keras's MobileNetV2 (α 0.35, 32×32×3, the first 6 inverted-residual blocks, 10 classes; built
 *   with tfjs-layers, saved to memory, imported, so residual Adds, depthwise convolutions and BNs
 *   are all in the graph) and paper 2's conv net (`paper2ConvNet`; timed at width 0.25: 16-32-64
 *   filters, trained for accuracy at width 0.5: 32-64-128);
 * - 0 / 30 / 50 / 70 % of the removable channels removed (magnitude, L2 group score, global,
 *   min width 4); parameters, FLOPs (2 × multiply-adds of dense and conv kernels), stored bytes
 *   (MobileNetV2: the saved model.json's float32 shards; conv net: 4 bytes per parameter and
 *   state), inference (batch 32) and one SGD training step (batch 32): median, min and max.
 * - paper 2's conv net also at width 1 (the paper's 64-128-256 filters): wasm 3 runs at batch 32,
 *   cpu 1 run at batch 1 (its convolution gradients are plain JavaScript: a batch-32 step there
 *   takes minutes).
 * - accuracy (wasm only, to keep the run short): the conv net trained 200 Adam steps on the
 *   embedded Fashion-MNIST subset, then pruned and fine-tuned 100 steps; beside it, unstructured
 *   magnitude pruning to the same parameter count, fine-tuned the same way with its masks held.
 *   The same for the pretrained MobileNetV2-style example the CLI ships (`apps/demo/examples/
 *   fashion-0-4`, uint8, Fashion-MNIST classes 0-4 as 28×28×3), fine-tuned 100 steps on the
 *   subset's training images of those classes.
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  type GraphModel,
  type LoadedLayersModel,
  ArraySource,
  Rng,
  type Sequential,
  type Task,
  disposeParams,
  evaluate,
  loadLayersModelFromArtifacts,
  paper2ConvNet,
  trainContinual,
} from '@forgetless/core';
import { taskSequence } from '@forgetless/datasets';
import { loadEmbedded } from '@forgetless/datasets/node';
import { loadLayersModel } from '@forgetless/pruning/node';
import {
  dependencyGroups,
  fineTune,
  groupScores,
  hostImportances,
  layersModelArtifacts,
  pruningMasks,
  removeGroups,
  removeGroupsFromLayersModel,
  selectGroups,
  timeInference,
  timeTrainStep,
  applyMasks,
} from '@forgetless/pruning';
import { mobileNetV2 } from '../models/mobilenet-v2.js';
import type { Row, RunOptions, WorkloadResult } from '../workload.js';

const FRACTIONS = [0, 0.3, 0.5, 0.7];
const QUICK_FRACTIONS = [0, 0.5];
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function toMemory(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved as tf.io.ModelArtifacts;
}

function batch(shape: number[], n: number, classes: number): { x: tf.Tensor; y: tf.Tensor1D } {
  const rng = new Rng(3);
  const x = tf.tensor(
    Float32Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    [n, ...shape],
  );
  const y = tf.tensor1d(
    Int32Array.from({ length: n }, () => rng.int(classes)),
    'int32',
  );
  return { x, y };
}

async function magnitude(model: GraphModel | Sequential): Promise<Record<string, Float32Array>> {
  const abs = Object.fromEntries(Object.entries(model.params).map(([n, v]) => [n, tf.abs(v)]));
  try {
    return await hostImportances(abs);
  } finally {
    disposeParams(abs);
  }
}

/** The groups to remove for `fraction` of the removable channels. */
async function plan(model: GraphModel | Sequential, fraction: number) {
  const deps = dependencyGroups(model);
  const scores = groupScores(deps, await magnitude(model), 'l2');
  return { deps, selection: selectGroups(deps, scores, { target: { channels: fraction }, minWidth: 4 }) };
}

async function timeRow(model: GraphModel | Sequential, x: tf.Tensor, y: tf.Tensor1D, runs: number): Promise<Row> {
  const inference = await timeInference(model, x, { repeats: runs, warmup: 1 });
  const saved = model.getWeights({ state: true });
  const step = await timeTrainStep(model, x, y, { repeats: runs, warmup: 1 });
  model.setWeights(saved);
  disposeParams(saved);
  return {
    infer_ms: round(inference.median),
    infer_min_max: `${round(inference.min)}–${round(inference.max)}`,
    step_ms: round(step.median),
    step_min_max: `${round(step.min)}–${round(step.max)}`,
  };
}

export async function benchStructure(opts: RunOptions): Promise<WorkloadResult> {
  const rows: Row[] = [];
  // the cpu backend's convolution gradients are plain JavaScript: fewer runs there
  const runs = opts.quick ? 1 : opts.backend === 'cpu' ? 3 : 7;
  const n = opts.quick ? 2 : 32;
  // MobileNetV2 (imported)
  const keras = mobileNetV2({ alpha: 0.35, size: 32, blocks: opts.quick ? 1 : 6, classes: 10, seed: 1 });
  let loaded: LoadedLayersModel;
  try {
    loaded = await loadLayersModelFromArtifacts(await toMemory(keras), 'mobilenet_v2 (memory)');
  } finally {
    keras.dispose();
  }
  {
    const { x, y } = batch([32, 32, 3], n, 10);
    for (const fraction of opts.quick ? QUICK_FRACTIONS : FRACTIONS) {
      const { deps, selection } = await plan(loaded.model, fraction);
      const small = await removeGroupsFromLayersModel(loaded, deps, selection.removed);
      const saved = await layersModelArtifacts(small);
      const t = await timeRow(small.model, x, y, runs);
      process.stderr.write(`  structure mobilenet ${fraction}: ${JSON.stringify(t)}\n`);
      rows.push({
        model: 'MobileNetV2 α0.35 32×32 (6 blocks)',
        backend: opts.backend,
        channels_removed: `${fraction * 100} %`,
        params: selection.after.params,
        flops: selection.after.flops,
        stored_bytes: saved.weightData.byteLength,
        ...t,
        batch: n,
        runs,
        load_1min: round(loadavg()[0] as number, 1),
      });
      small.dispose();
    }
    tf.dispose([x, y]);
    loaded.dispose();
  }
  // paper 2's conv net: at width 0.25, and at the paper's width 1 (fewer runs; batch 1 on cpu)
  const convs = opts.quick
    ? [{ width: 0.125, runs, n }]
    : [
        { width: 0.25, runs, n },
        { width: 1, runs: opts.backend === 'cpu' ? 1 : 3, n: opts.backend === 'cpu' ? 1 : 32 },
      ];
  for (const conv of convs) {
    const model = paper2ConvNet({ width: conv.width, seed: 1 });
    const { x, y } = batch([28, 28, 1], conv.n, 10);
    for (const fraction of opts.quick ? QUICK_FRACTIONS : FRACTIONS) {
      const { deps, selection } = await plan(model, fraction);
      const small = await removeGroups(model, deps, selection.removed);
      const stored = 4 * [...Object.values(small.params), ...Object.values(small.state)].reduce((a, v) => a + v.size, 0);
      const t = await timeRow(small, x, y, conv.runs);
      process.stderr.write(`  structure conv ${conv.width} ${fraction}: ${JSON.stringify(t)}\n`);
      rows.push({
        model: `paper 2 conv net (width ${conv.width})`,
        backend: opts.backend,
        channels_removed: `${fraction * 100} %`,
        params: selection.after.params,
        flops: selection.after.flops,
        stored_bytes: stored,
        ...t,
        batch: conv.n,
        runs: conv.runs,
        load_1min: round(loadavg()[0] as number, 1),
      });
      small.dispose();
    }
    tf.dispose([x, y]);
    model.dispose();
  }
  const notes = [
    "Channels removed: a fraction of the removable channels (the output layer and channels tied to the input never shrink), ranked by the L2 norm of each group's weight magnitudes (kernels, biases, BN vectors, next layers' input rows), globally, every layer keeping ≥ 4 channels. FLOPs: 2 × multiply-adds of dense and convolution kernels. Times: batch 32, median of 7 runs (cpu: 3) after 1 warm-up (min–max beside); train step: SGD, softmax cross-entropy, training mode. Paper 2's conv net at width 1: 3 runs on wasm, and on cpu 1 run at batch 1 (columns batch, runs).",
  ];
  if (opts.backend === 'wasm') {
    const acc = await accuracyRows(opts);
    rows.push(...acc);
    rows.push(...(await mobileNetAccuracyRows(opts)));
    notes.push(
      "Accuracy rows (wasm): paper 2 conv net trained 200 Adam (1e-3) steps at batch 64 on the embedded Fashion-MNIST subset, then structurally pruned (as above) or pruned weight by weight (magnitude, global, to the same parameter count, masks held during fine-tuning), fine-tuned 100 steps; test accuracy on the subset's test images. MobileNetV2-style rows: the pretrained example of the CLI (apps/demo/examples/fashion-0-4: uint8 weights, classes 0-4 of Fashion-MNIST as 28×28×3 in [0, 1]), pruned the same two ways, fine-tuned 100 Adam (1e-3) steps at batch 64 (batch norm in training mode) on the subset's training images of classes 0-4, tested on its test images of those classes.",
    );
  }
  return { rows, notes };
}

async function accuracyRows(opts: RunOptions): Promise<Row[]> {
  const [task] = taskSequence('permuted', { dataset: await loadEmbedded(), numTasks: 1, firstUnpermuted: true, validation: 0 });
  const t = task as NonNullable<typeof task>;
  const steps = opts.quick ? 5 : 200;
  const tune = opts.quick ? 3 : 100;
  const width = opts.quick ? 0.125 : 0.5;
  const trained = paper2ConvNet({ width, seed: 2 });
  const adam = tf.train.adam(1e-3);
  await trainContinual(trained, [t], { optimizer: adam, iterations: steps, batchSize: 64, evalLimit: 1 });
  adam.dispose();
  const accuracy = async (m: GraphModel | Sequential) => (await evaluate(m, t.test, opts.quick ? { limit: 100 } : {})).accuracy;
  const rows: Row[] = [
    {
      model: `paper 2 conv net (width ${width})`,
      backend: opts.backend,
      channels_removed: '0 %',
      params: trained.countParams(),
      accuracy_trained: round(await accuracy(trained), 4),
    },
  ];
  const base = trained.getWeights({ state: true });
  for (const fraction of (opts.quick ? QUICK_FRACTIONS : FRACTIONS).slice(1)) {
    trained.setWeights(base);
    const { deps, selection } = await plan(trained, fraction);
    const small = await removeGroups(trained, deps, selection.removed);
    const pruned = await accuracy(small);
    const opt1 = tf.train.adam(1e-3);
    await trainContinual(small, [t], { optimizer: opt1, iterations: tune, batchSize: 64, evalLimit: 1 });
    opt1.dispose();
    const structured = await accuracy(small);
    small.dispose();
    // unstructured at the same parameter count
    const sparsity = 1 - selection.after.params / selection.before.params;
    const abs = Object.fromEntries(Object.entries(trained.params).map(([k, v]) => [k, tf.abs(v)]));
    const masks = await pruningMasks(abs, { sparsity, biases: true });
    disposeParams(abs);
    applyMasks(trained.params, masks);
    const maskedBefore = await accuracy(trained);
    const opt2 = tf.train.adam(1e-3);
    await fineTune(trained, t, masks, { optimizer: opt2, iterations: tune, batchSize: 64, evalLimit: 1 });
    opt2.dispose();
    disposeParams(masks);
    const unstructured = await accuracy(trained);
    process.stderr.write(`  structure accuracy ${fraction}: structured ${pruned} → ${structured}, unstructured ${maskedBefore} → ${unstructured}\n`);
    rows.push({
      model: `paper 2 conv net (width ${width})`,
      backend: opts.backend,
      channels_removed: `${fraction * 100} %`,
      params: selection.after.params,
      structured_pruned: round(pruned, 4),
      structured_fine_tuned: round(structured, 4),
      unstructured_sparsity: round(sparsity, 4),
      unstructured_pruned: round(maskedBefore, 4),
      unstructured_fine_tuned: round(unstructured, 4),
    });
  }
  trained.setWeights(base);
  disposeParams(base);
  trained.dispose();
  return rows;
}

/** The CLI's shipped example: a MobileNetV2-style net pretrained on Fashion-MNIST classes 0-4. */
const EXAMPLE = fileURLToPath(new URL('../../../demo/examples/fashion-0-4/model.json', import.meta.url));

/** Classes 0-4 of the embedded subset as the example takes them: gray replicated to RGB, x/255. */
async function fashion04(): Promise<Task> {
  const data = await loadEmbedded();
  const part = ({ images, labels }: { images: Uint8Array; labels: Uint8Array }) => {
    const keep = [...labels.keys()].filter((i) => (labels[i] as number) < 5);
    const d = data.rows * data.cols;
    const x = new Uint8Array(keep.length * d * 3);
    keep.forEach((i, k) => {
      for (let p = 0; p < d; p++) {
        const v = images[i * d + p] as number;
        x.set([v, v, v], (k * d + p) * 3);
      }
    });
    return new ArraySource({ x, y: Int32Array.from(keep, (i) => labels[i] as number), exampleShape: [data.rows, data.cols, 3], numClasses: 5 });
  };
  return { name: 'fashion-mnist 0-4', train: part(data.train), test: part(data.test) };
}

async function mobileNetAccuracyRows(opts: RunOptions): Promise<Row[]> {
  const task = await fashion04();
  const tune = opts.quick ? 3 : 100;
  const loaded = await loadLayersModel(EXAMPLE);
  const model = loaded.model;
  // quick mode (the smoke test): 100 test images
  const accuracy = async (m: GraphModel | Sequential) => (await evaluate(m, task.test, opts.quick ? { limit: 100 } : {})).accuracy;
  const name = 'MobileNetV2-style example (fashion-0-4, pretrained)';
  const rows: Row[] = [{ model: name, backend: opts.backend, channels_removed: '0 %', params: model.countParams(), accuracy_trained: round(await accuracy(model), 4) }];
  const base = model.getWeights({ state: true });
  for (const fraction of (opts.quick ? QUICK_FRACTIONS : FRACTIONS).slice(1)) {
    model.setWeights(base);
    const { deps, selection } = await plan(model, fraction);
    const small = await removeGroups(model, deps, selection.removed);
    const pruned = await accuracy(small);
    const opt1 = tf.train.adam(1e-3);
    const r1 = await trainContinual(small, [task], { optimizer: opt1, iterations: tune, batchSize: 64, evalLimit: 1 });
    opt1.dispose();
    const structured = r1.diverged ? Number.NaN : await accuracy(small);
    small.dispose();
    const sparsity = 1 - selection.after.params / selection.before.params;
    const abs = Object.fromEntries(Object.entries(model.params).map(([k, v]) => [k, tf.abs(v)]));
    const masks = await pruningMasks(abs, { sparsity, biases: true });
    disposeParams(abs);
    applyMasks(model.params, masks);
    const maskedBefore = await accuracy(model);
    const opt2 = tf.train.adam(1e-3);
    const r2 = await fineTune(model, task, masks, { optimizer: opt2, iterations: tune, batchSize: 64, evalLimit: 1 });
    opt2.dispose();
    disposeParams(masks);
    const unstructured = r2.diverged ? Number.NaN : await accuracy(model);
    process.stderr.write(`  structure mobilenet accuracy ${fraction}: structured ${pruned} → ${structured}, unstructured ${maskedBefore} → ${unstructured}\n`);
    rows.push({
      model: name,
      backend: opts.backend,
      channels_removed: `${fraction * 100} %`,
      params: selection.after.params,
      structured_pruned: round(pruned, 4),
      structured_fine_tuned: Number.isNaN(structured) ? 'diverged' : round(structured, 4),
      unstructured_sparsity: round(sparsity, 4),
      unstructured_pruned: round(maskedBefore, 4),
      unstructured_fine_tuned: Number.isNaN(unstructured) ? 'diverged' : round(unstructured, 4),
    });
  }
  model.setWeights(base);
  disposeParams(base);
  loaded.dispose();
  return rows;
}
