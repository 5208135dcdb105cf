// Real Keras / tfjs-layers models through forgetless, end to end, on the cpu backend: every fixture
// of packages/core/test/fixtures/keras-models.ts (MobileNetV2 and InceptionV3 blocks, a nested
// Sequential, a fully convolutional super-resolution net, two text models, a shared layer, a small
// Sequential CNN) is built with stock tfjs-layers, saved with its own `model.save`, imported with
// `loadLayersModelFromArtifacts`, and checked against an independent reference each time:
//   1. predictions              ← stock tfjs-layers `model.predict`
//   2. gradients of a loss      ← tfjs autodiff (tfjs's own gradients) through the stock model
//                                 (per example; batch norms without scale given γ = 1, see below)
//   3. per-example importances  ← the per-example autograd loop (`path: 'loop'`)
//   4. quantized round trip     ← the quantized input bytes and manifest
//   5. pruning                  ← the weights stock `tf.loadLayersModel` reads back
//   6. training (EWC, frozen)   ← the weights before training, `tf.memory()`
//   7. live model + writeBack   ← the live model's own `predict`
// and, in child processes, the import order of @forgetless/core and tfjs's gradient registration.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  ArraySource,
  type LoadedLayersModel,
  type ParamMap,
  Rng,
  type Task,
  disposeParams,
  ensureOwnGradients,
  ensureWasmKernels,
  fromLayersModel,
  layersModelArtifacts,
  loadLayersModelFromArtifacts,
  setGradientMode,
  simdKernelsStatus,
  softmaxCrossEntropy,
  toModelArtifacts,
  trainContinual,
  withGradientMode,
  writeBack,
} from '@forgetless/core';
import { type ExampleObjective, fisherDiagonal, loopSums, magnitude, mas, perExampleSums, sig } from '@forgetless/importances';
import { wvaPlugin } from '@forgetless/optimizers';
import { prune } from '@forgetless/pruning';
import { ewc } from '@forgetless/regularizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KerasFixture, kerasFixtures, quantizeArtifacts, randomInput, saveArtifacts } from '../packages/core/test/fixtures/keras-models.js';
import { relErr } from './helpers.js';

const PREDICT_TOL = 1e-5;
const GRAD_TOL = 1e-4;
const IMPORTANCE_TOL = 1e-5;
/** One example's input and layer outputs, in values: what `maxBatchElements` counts per example. */
const exampleElements = (model: { layerShapes(e: readonly number[]): Record<string, { output: readonly number[] }> }, example: readonly number[]) =>
  Object.values(model.layerShapes(example)).reduce((sum, l) => sum + tf.util.sizeFromShape([...l.output]), tf.util.sizeFromShape([...example]));

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** True for a classifier (output [batch, classes]); the super-resolution net outputs images. */
const isClassifier = (keras: tfl.LayersModel): boolean => (keras.outputs[0] as tfl.SymbolicTensor).shape.length === 2;

/** Seeded labels in [0, k). */
function labels(n: number, k: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => rng.int(k));
}

/** A data source over the fixture's own seeded inputs (token ids for the text models), with seeded labels. */
function sourceFor(fixture: KerasFixture, keras: tfl.LayersModel, n: number, seed: number): ArraySource {
  const x = fixture.input(keras, n, seed);
  const values = x.dataSync() as Float32Array;
  const exampleShape = x.shape.slice(1);
  x.dispose();
  const k = (keras.outputs[0] as tfl.SymbolicTensor).shape.at(-1) as number;
  return new ArraySource({ x: Float32Array.from(values), y: labels(n, k, seed + 100), exampleShape, numClasses: k });
}

/** The source's examples as one batch. */
function allOf(source: ArraySource): { x: tf.Tensor; y: tf.Tensor1D } {
  const [batch] = [...source.batches(source.size)];
  if (!batch) throw new Error('empty source');
  return batch;
}

/** A copy of a tensor's bits. */
const bitsOf = (t: tf.Tensor): Uint8Array => new Uint8Array((t.dataSync() as Float32Array).slice().buffer);
const sameBits = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.from(a).equals(Buffer.from(b));

/** Host copies of the given variables. */
function snapshot(vars: Readonly<Record<string, tf.Tensor>>): Record<string, Uint8Array> {
  return Object.fromEntries(Object.entries(vars).map(([n, v]) => [n, bitsOf(v)]));
}

/** Every value finite. */
const allFinite = (t: tf.Tensor): boolean => (t.dataSync() as Float32Array).every((v) => Number.isFinite(v));

/** Keras weight name of each forgetless trainable parameter, checked to exist. */
function kerasNames(loaded: LoadedLayersModel, names: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of names) {
    const k = loaded.kerasName(n);
    expect(k, `forgetless parameter '${n}' has a Keras name`).toBeTypeOf('string');
    out.set(n, k as string);
  }
  return out;
}

/**
 * The scalar loss of check 2: mean softmax cross-entropy of the labels for a classifier, computed
 * from `logits` (forgetless) or from the stock model's probabilities; Σ output² for the
 * super-resolution net.
 */
function lossOf(classifier: boolean, y: tf.Tensor1D, out: { logits: tf.Tensor } | { probabilities: tf.Tensor } | { output: tf.Tensor }): tf.Scalar {
  if (!classifier) return tf.sum(tf.square((out as { output: tf.Tensor }).output)) as tf.Scalar;
  if ('logits' in out) return softmaxCrossEntropy(out.logits, y);
  const p = (out as { probabilities: tf.Tensor }).probabilities;
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(y, p.shape[1] as number), tf.log(p)), -1))) as tf.Scalar;
}

/**
 * The stock model check 2 differentiates: the saved model itself, loaded by stock tfjs-layers,
 * except that BatchNormalization layers with `scale: false` get `scale: true` and γ = 1 (the same
 * function): tfjs 4.22 cannot differentiate a batch norm without scale at all (`tf.batchNorm` with
 * no scale throws "Cannot read properties of undefined (reading 'dataId')" when it saves its
 * inputs for the backward pass). `added`: the Keras names of the γs added.
 */
async function differentiableTwin(artifacts: tf.io.ModelArtifacts): Promise<{ twin: tfl.LayersModel; added: Set<string> }> {
  const topology = structuredClone(artifacts.modelTopology) as Record<string, unknown>;
  const specs = artifacts.weightSpecs ?? [];
  const extra: tf.io.WeightsManifestEntry[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (typeof node === 'object' && node !== null) {
      const o = node as { class_name?: unknown; config?: Record<string, unknown> };
      if (o.class_name === 'BatchNormalization' && o.config && o.config.scale === false) {
        o.config.scale = true;
        const mean = specs.find((s) => s.name === `${String(o.config?.name)}/moving_mean`);
        if (!mean) throw new Error(`differentiableTwin: no moving_mean for batch norm '${String(o.config.name)}'`);
        extra.push({ name: `${String(o.config.name)}/gamma`, shape: [...mean.shape], dtype: 'float32' });
      }
      Object.values(o).forEach(visit);
    }
  };
  visit(topology);
  const data = new Uint8Array(artifacts.weightData as ArrayBuffer);
  const ones = new Float32Array(extra.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)).fill(1);
  const weightData = new Uint8Array(data.byteLength + ones.byteLength);
  weightData.set(data);
  weightData.set(new Uint8Array(ones.buffer), data.byteLength);
  const twin = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs: [...specs, ...extra], weightData: weightData.buffer }));
  return { twin, added: new Set(extra.map((s) => s.name)) };
}

/**
 * tfjs autodiff through the stock (twin) model in inference mode, gradient of `lossOf`, by Keras
 * weight name. One example at a time (the batch loss is their mean, for cross-entropy, or sum):
 * tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad (UpSampling2D's gradient) reads dy at the
 * images' batch stride, which is wrong for batches of more than one example.
 */
function stockGradients(twin: tfl.LayersModel, added: ReadonlySet<string>, classifier: boolean, x: tf.Tensor, y: tf.Tensor1D): Record<string, tf.Tensor> {
  const weights = twin.trainableWeights.filter((w) => !added.has(w.originalName));
  const vars = weights.map((w) => w.read() as tf.Variable);
  const n = x.shape[0] as number;
  return withGradientMode('stock', () =>
    tf.tidy(() => {
      let sums: tf.Tensor[] | undefined;
      for (let i = 0; i < n; i++) {
        const { value, grads } = tf.variableGrads(() => {
          const out = twin.apply(tf.slice(x, i, 1), { training: false }) as tf.Tensor;
          const yi = tf.slice(y, i, 1);
          return lossOf(classifier, yi, classifier ? { probabilities: out } : { output: out });
        }, vars);
        value.dispose();
        const g = vars.map((v) => grads[v.name] as tf.Tensor);
        sums = sums ? sums.map((s, j) => tf.add(s, g[j] as tf.Tensor)) : g;
      }
      const scale = classifier ? 1 / n : 1;
      return Object.fromEntries(weights.map((w, j) => [w.originalName, tf.mul((sums as tf.Tensor[])[j] as tf.Tensor, scale)]));
    }),
  );
}

/** Zeros among the stock-loaded weights named in `names`, and their total size. */
function stockZeros(model: tfl.LayersModel, names: ReadonlySet<string>): { zeros: number; size: number; found: Set<string> } {
  let zeros = 0;
  let size = 0;
  const found = new Set<string>();
  for (const w of model.weights) {
    if (!names.has(w.originalName)) continue;
    found.add(w.originalName);
    const v = w.read().dataSync();
    size += v.length;
    for (const x of v) if (x === 0) zeros++;
  }
  return { zeros, size, found };
}

/**
 * The layers frozen in check 6: the first top-level layer with weights through the importer's
 * `freeze` option, the second by `trainable: false` in the tfjs-layers model before saving (a
 * BatchNormalization layer for MobileNetV2, InceptionV3 and the CNN, whose moving statistics must
 * then stay put too, as in Keras).
 */
function layersToFreeze(keras: tfl.LayersModel): { byOption: string; byConfig: string } {
  const withWeights = keras.layers.filter((l) => l.weights.length > 0 && !(l instanceof tfl.LayersModel)).map((l) => l.name);
  const [byOption, byConfig] = withWeights;
  if (!byOption || !byConfig) throw new Error(`${keras.name}: fewer than two top-level layers with weights`);
  return { byOption, byConfig };
}

const weightsOfLayer = (all: Readonly<Record<string, tf.Tensor>>, layer: string): string[] => Object.keys(all).filter((n) => n.startsWith(`${layer}/`));

// ---------------------------------------------------------------------------------------------
// Per fixture
// ---------------------------------------------------------------------------------------------

describe.each(kerasFixtures.map((f) => [f.name, f] as const))('%s', (name, fixture) => {
  let keras: tfl.LayersModel;
  let artifacts: tf.io.ModelArtifacts;
  let loaded: LoadedLayersModel;
  let classifier: boolean;

  beforeAll(async () => {
    keras = fixture.build(1);
    classifier = isClassifier(keras);
    artifacts = await saveArtifacts(keras);
    loaded = await loadLayersModelFromArtifacts(artifacts, name);
  });

  afterAll(() => {
    loaded?.dispose();
    keras?.dispose();
  });

  it('1. predicts what stock tfjs-layers predicts', () => {
    const inputs = [fixture.input(keras, 3, 7)];
    // the fully convolutional net takes any image size: a non-square one too
    if (!classifier) inputs.push(tf.randomNormal([2, 5, 7, 3], 0, 1, 'float32', 3));
    for (const x of inputs) {
      const ref = keras.predict(x) as tf.Tensor;
      const viaLoaded = loaded.predict(x);
      const viaModel = loaded.model.predict(x);
      expect(viaLoaded.shape).toEqual(ref.shape);
      expect(relErr(viaLoaded, ref), `loaded.predict, input [${x.shape}]`).toBeLessThanOrEqual(PREDICT_TOL);
      expect(relErr(viaModel, ref), `model.predict, input [${x.shape}]`).toBeLessThanOrEqual(PREDICT_TOL);
      // logits leave out only the final softmax
      const logits = loaded.model.logits(x);
      const fromLogits = loaded.outputSoftmax ? tf.softmax(logits) : logits;
      expect(relErr(fromLogits, ref), `logits (softmaxed: ${loaded.outputSoftmax})`).toBeLessThanOrEqual(PREDICT_TOL);
      expect(loaded.outputSoftmax).toBe(classifier);
      tf.dispose([x, ref, viaLoaded, viaModel, logits, fromLogits]);
    }
  });

  it('2. gradients of the loss equal tfjs autodiff through the stock model, for every trainable weight', async () => {
    const n = 3;
    const x = fixture.input(keras, n, 11);
    const k = (keras.outputs[0] as tfl.SymbolicTensor).shape.at(-1) as number;
    const y = tf.tensor1d(labels(n, k, 12), 'int32');
    const { twin, added } = await differentiableTwin(artifacts);
    const ref = stockGradients(twin, added, classifier, x, y);
    // the twin computes the stock model's function
    const [a, b] = [keras.predict(x) as tf.Tensor, twin.predict(x) as tf.Tensor];
    expect(relErr(b, a), 'the differentiable twin predicts as the stock model').toBeLessThanOrEqual(1e-6);
    tf.dispose([a, b]);
    twin.dispose();

    const names = Object.keys(loaded.model.params);
    const toKeras = kerasNames(loaded, names);
    expect([...toKeras.values()].sort(), "the trainable weights are the stock model's").toEqual(Object.keys(ref).sort());
    // forgetless: on cpu 'auto' mostly runs tfjs's gradients; 'custom' runs forgetless's own (those of wasm)
    for (const mode of ['auto', 'custom'] as const) {
      ensureOwnGradients();
      const vars = Object.values(loaded.model.params);
      const ours = withGradientMode(mode, () =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const z = loaded.model.logits(x, { training: false });
            return lossOf(classifier, y, classifier ? { logits: z } : { output: z });
          }, vars);
          value.dispose();
          return Object.fromEntries(names.map((name, i) => [name, grads[(vars[i] as tf.Variable).name] ?? tf.zerosLike(vars[i] as tf.Variable)]));
        }),
      );
      for (const name of names) {
        const r = ref[toKeras.get(name) as string] as tf.Tensor;
        const o = ours[name] as tf.Tensor;
        expect(o.shape, `${name} (${mode})`).toEqual(r.shape);
        expect(relErr(o, r), `∂loss/∂${name} (gradient mode ${mode})`).toBeLessThanOrEqual(GRAD_TOL);
      }
      disposeParams(ours);
    }
    tf.dispose([x, y, ...Object.values(ref)]);
  });

  it("3. per-example Fisher and MAS ('fast') equal the per-example loop; SIG and magnitude are finite and shaped like the params", async () => {
    const model = loaded.model;
    const names = Object.keys(model.params);
    const source = sourceFor(fixture, keras, 4, 21);
    const compare = (fast: ParamMap, loop: ParamMap, what: string) => {
      expect(Object.keys(fast), what).toEqual(names);
      expect(Object.keys(loop), what).toEqual(names);
      for (const n of names) {
        expect((fast[n] as tf.Tensor).shape, `${what} ${n}`).toEqual((model.params[n] as tf.Variable).shape);
        expect(relErr(fast[n] as tf.Tensor, loop[n] as tf.Tensor), `${what} ${n}`).toBeLessThanOrEqual(IMPORTANCE_TOL);
      }
      // a non-trivial reference
      expect(
        names.some((n) => (tf.max(loop[n] as tf.Tensor).dataSync()[0] as number) > 0),
        `${what}: all zero`,
      ).toBe(true);
      disposeParams(fast);
      disposeParams(loop);
    };
    if (classifier) {
      for (const variant of ['empirical', 'exact'] as const) {
        const fast = await fisherDiagonal(model, source, { path: 'fast', variant, batchSize: 2 });
        const loop = await fisherDiagonal(model, source, { path: 'loop', variant, batchSize: 2 });
        if (variant === 'empirical') {
          // the batch of 4 as two sub-batches of 2 (maxBatchElements: two examples' input and layer outputs): the loop's values too
          const split = await fisherDiagonal(model, source, { path: 'fast', batchSize: 4, maxBatchElements: 2 * exampleElements(model, source.exampleShape) });
          for (const n of names) expect(relErr(split[n] as tf.Tensor, loop[n] as tf.Tensor), `Fisher by sub-batches ${n}`).toBeLessThanOrEqual(IMPORTANCE_TOL);
          disposeParams(split);
        }
        compare(fast, loop, `Fisher (${variant})`);
      }
      for (const output of ['softmax', 'logits'] as const) {
        const fast = await mas(model, source, { path: 'fast', output, batchSize: 2 });
        const loop = await mas(model, source, { path: 'loop', output, batchSize: 2 });
        compare(fast, loop, `MAS (${output})`);
      }
    } else {
      // Fisher and MAS are defined on class scores; for the image-to-image net the same
      // per-example engine runs on a regression objective, Σ output² per example
      const { x, y } = allOf(source);
      const objective: ExampleObjective = (z) =>
        tf.sum(
          tf.square(z),
          z.shape.slice(1).map((_, i) => i + 1),
        );
      const fast = perExampleSums(model, x, objective, { square: true, abs: true });
      const loop = loopSums(model, x, objective, { square: true, abs: true });
      compare(fast.square as ParamMap, loop.square as ParamMap, 'per-example Σ g² (Fisher-like)');
      compare(fast.abs as ParamMap, loop.abs as ParamMap, 'per-example Σ |g| (MAS-like)');
      tf.dispose([x, y]);
    }
    const shared = model.sharedLayers.size > 0;
    if (shared) {
      // SIG is a signal per connection of one call; a layer called at several nodes is refused by name
      await expect(sig(model, source, { batchSize: 2 })).rejects.toThrow(/layer 'shared' is shared \(called at several nodes\)/);
    }
    if (!shared) {
      // SIG of a batch of 4 as two sub-batches of 2 equals SIG of the whole batch
      const whole = await sig(model, source, { batchSize: 4 });
      const split = await sig(model, source, { batchSize: 4, maxBatchElements: 2 * exampleElements(model, source.exampleShape) });
      for (const n of names) expect(relErr(split[n] as tf.Tensor, whole[n] as tf.Tensor), `SIG by sub-batches ${n}`).toBeLessThanOrEqual(IMPORTANCE_TOL);
      disposeParams(whole);
      disposeParams(split);
    }
    for (const [what, importances] of [...(shared ? [] : ([['SIG', await sig(model, source, { batchSize: 2 })]] as const)), ['magnitude', magnitude(model)]] as const) {
      expect(Object.keys(importances), what).toEqual(names);
      for (const n of names) {
        expect((importances[n] as tf.Tensor).shape, `${what} ${n}`).toEqual((model.params[n] as tf.Variable).shape);
        expect(allFinite(importances[n] as tf.Tensor), `${what} ${n} finite`).toBe(true);
      }
      disposeParams(importances);
    }
  });

  it("3w. on wasm ('auto': SIMD per-example filter-gradient and batch-norm sums, SIG's tap sums, inference batch norm kernels) the uint8-quantized model's fast per-example Fisher (empirical, exact) and MAS equal the per-example loop on cpu under tfjs's stock gradients, and SIG equals SIG on cpu; no tensor left", async () => {
    const q = await loadLayersModelFromArtifacts(quantizeArtifacts(artifacts, 'uint8'), `${name} (uint8)`);
    const model = q.model;
    const names = Object.keys(model.params);
    const source = sourceFor(fixture, keras, 4, 31);
    const { x, y: labelsOf } = allOf(source);
    const objective: ExampleObjective = (z) =>
      tf.sum(
        tf.square(z),
        z.shape.slice(1).map((_, i) => i + 1),
      );
    /** Fisher (empirical), MAS (softmax) and Fisher (exact: the squares weighted by p(k|x)) of a classifier, Σ g² and Σ |g| of Σ output² otherwise: host copies by parameter. */
    const labels = classifier ? ['Fisher (empirical)', 'MAS', 'Fisher (exact)'] : ['Σ g²', 'Σ |g|'];
    const run = async (path: 'fast' | 'loop'): Promise<Record<string, Float32Array>[]> => {
      let maps: ParamMap[];
      if (classifier)
        maps = [
          await fisherDiagonal(model, source, { path, batchSize: 4 }),
          await mas(model, source, { path, batchSize: 4 }),
          await fisherDiagonal(model, source, { path, batchSize: 4, variant: 'exact' }),
        ];
      else {
        const sums = path === 'fast' ? perExampleSums(model, x, objective, { square: true, abs: true }) : loopSums(model, x, objective, { square: true, abs: true });
        maps = [sums.square as ParamMap, sums.abs as ParamMap];
      }
      const out = maps.map((m) => Object.fromEntries(names.map((n) => [n, (m[n] as tf.Tensor).dataSync().slice() as Float32Array])));
      maps.forEach(disposeParams);
      return out;
    };
    // SIG (one forward pass; not for a layer called at several nodes), as host copies
    const shared = model.sharedLayers.size > 0;
    const sigOf = async (): Promise<Record<string, Float32Array> | undefined> => {
      if (shared) return undefined;
      const m = await sig(model, source, { batchSize: 4 });
      const out = Object.fromEntries(names.map((n) => [n, (m[n] as tf.Tensor).dataSync().slice() as Float32Array]));
      disposeParams(m);
      return out;
    };
    // the reference: the loop on cpu, tfjs's own gradients; SIG on cpu (tap views and matMuls)
    setGradientMode('stock');
    const ref = await run('loop').finally(() => setGradientMode('auto'));
    const sigRef = await sigOf();
    await tf.setBackend('wasm');
    ensureWasmKernels();
    try {
      const calls = () => ({ ...simdKernelsStatus().calls });
      const before = calls();
      const tensors = tf.memory().numTensors;
      // (profiled: the kernels it ran)
      const profile = await tf.profile(() => run('fast') as unknown as Promise<tf.TensorContainer>);
      const fast = profile.result as unknown as Awaited<ReturnType<typeof run>>;
      const sigWasm = await sigOf();
      expect(tf.memory().numTensors, 'tensors left by the fast path and SIG').toBe(tensors);
      const ran = (k: string) => (calls()[k] ?? 0) - (before[k] ?? 0);
      // the SIMD per-example kernels served the layers that have them
      const kinds = new Set(keras.layers.flatMap((l) => (l instanceof tfl.LayersModel ? l.layers : [l])).map((l) => l.getClassName()));
      // (Σ g², Σ |g| and the exact Fisher's weighted Σ w·g²: the batch norms' sums inside their backward kernel, none after it)
      if (kinds.has('BatchNormalization')) {
        expect(ran('bn_infer_backward_sums'), 'bn_infer_backward_sums calls').toBeGreaterThan(0);
        expect(ran('bn_example_sums'), 'bn_example_sums calls').toBe(0);
      }
      // (the per-example filter gradients and their sums: the loop over examples in one kernel call, `conv_example_sums` and
      // `dw_example_sums`; a depthwise depth multiplier > 1 keeps its loop of `dw_filter_grad` calls)
      if (kinds.has('Conv2D')) expect(ran('conv_example_sums'), 'per-example conv filter gradients').toBeGreaterThan(0);
      if (kinds.has('DepthwiseConv2D')) expect(ran('dw_example_sums') + ran('dw_filter_grad'), 'per-example depthwise filter gradients').toBeGreaterThan(0);
      // each ZeroPadding2D folded into the conv after it (its capture holding the pads), as in training
      if (kinds.has('ZeroPadding2D')) expect(profile.kernels.filter((k) => k.name === 'PadV2').length, 'PadV2 kernels in the fast path').toBe(0);
      if (!shared && (kinds.has('Conv2D') || kinds.has('DepthwiseConv2D'))) expect(ran('tap_abs_sums'), "SIG's tap sums").toBeGreaterThan(0);
      for (const n of names) if (sigRef) expect(relErr(sigWasm?.[n] as Float32Array, sigRef[n] as Float32Array), `SIG ${n}`).toBeLessThanOrEqual(GRAD_TOL);
      fast.forEach((m, i) => {
        for (const n of names) expect(relErr(m[n] as Float32Array, ref[i]?.[n] as Float32Array), `${labels[i]} ${n}`).toBeLessThanOrEqual(GRAD_TOL);
      });
      expect(
        names.some((n) => Math.max(...((ref[0] as Record<string, Float32Array>)[n] as Float32Array)) > 0),
        'a non-trivial reference',
      ).toBe(true);
    } finally {
      await tf.setBackend('cpu');
      tf.dispose([x, labelsOf]);
      q.dispose();
    }
  });

  it.each(['uint8', 'uint16', 'float16'] as const)('4. quantized (%s): loading then saving unchanged gives byte-identical weights, quantization kept', async (dtype) => {
    const q = quantizeArtifacts(artifacts, dtype);
    const qLoaded = await loadLayersModelFromArtifacts(q, `${name} (${dtype})`);
    try {
      // the dequantized model predicts what stock tfjs-layers predicts from the same quantized artifacts
      const stock = await tfl.loadLayersModel(tf.io.fromMemory(q));
      const x = fixture.input(keras, 2, 31);
      const ref = stock.predict(x) as tf.Tensor;
      const mine = qLoaded.predict(x);
      expect(relErr(mine, ref), 'predictions of the quantized model').toBeLessThanOrEqual(PREDICT_TOL);
      tf.dispose([x, ref, mine]);
      stock.dispose();

      const saved = await layersModelArtifacts(qLoaded);
      const inSpecs = q.weightSpecs as tf.io.WeightsManifestEntry[];
      const inData = new Uint8Array(q.weightData as ArrayBuffer);
      expect(saved.weightSpecs.map((s) => s.name)).toEqual(inSpecs.map((s) => s.name));
      // weight by weight: spec (dtype, shape, quantization) and bytes
      let off = 0;
      for (const [i, spec] of inSpecs.entries()) {
        const out = saved.weightSpecs[i] as tf.io.WeightsManifestEntry;
        expect(out, `spec of ${spec.name}`).toEqual(spec);
        const len = (spec.quantization ? ({ uint8: 1, uint16: 2, float16: 2 }[spec.quantization.dtype as string] ?? 4) : 4) * spec.shape.reduce((a, b) => a * b, 1);
        expect(sameBits(saved.weightData.subarray(off, off + len), inData.subarray(off, off + len)), `bytes of ${spec.name}`).toBe(true);
        off += len;
      }
      expect(sameBits(saved.weightData, inData), 'all weight bytes').toBe(true);
      expect(saved.report.filter((r) => r.action !== 'unchanged').map((r) => `${r.name}: ${r.action}`)).toEqual([]);
      // the model.json's manifest
      const manifest = saved.modelJson.weightsManifest as tf.io.WeightsManifestConfig;
      const written = manifest.flatMap((g) => g.weights);
      expect(written).toEqual(inSpecs);
      for (const w of written) expect(w.quantization?.dtype, w.name).toBe(dtype);
    } finally {
      qLoaded.dispose();
    }
  });

  it.each(['float32', 'uint8'] as const)('5. magnitude pruning to 50 %% (%s weights), saved, read back by stock tfjs-layers with exactly the requested zeros', async (dtype) => {
    const input = dtype === 'float32' ? artifacts : quantizeArtifacts(artifacts, 'uint8');
    const mine = await loadLayersModelFromArtifacts(input, `${name} (${dtype})`);
    try {
      const sparsity = 0.5;
      const result = await prune(mine.model, { sparsity, importance: 'magnitude' });
      const masked = Object.values(result.masks).reduce((n, m) => n + m.size, 0);
      expect(masked).toBeGreaterThan(0);
      const want = Math.round(sparsity * masked);
      const saved = await layersModelArtifacts(mine);
      const stock = await tfl.loadLayersModel(tf.io.fromMemory(toModelArtifacts(saved)));
      const prunedNames = new Set(Object.keys(result.masks).map((n) => mine.kerasName(n) as string));
      const z = stockZeros(stock, prunedNames);
      expect([...z.found].sort(), 'every pruned weight is in the stock model').toEqual([...prunedNames].sort());
      expect(z.size).toBe(masked);
      expect(z.zeros, `zeros among the pruned weights as stock tfjs reads them (of ${masked})`).toBe(want);
      if (dtype === 'uint8') {
        // still uint8 in the file
        for (const s of saved.weightSpecs) expect(s.quantization?.dtype, s.name).toBe('uint8');
      } else {
        const x = fixture.input(keras, 2, 41);
        const a = stock.predict(x) as tf.Tensor;
        const b = mine.predict(x);
        expect(relErr(b, a), 'the pruned model predicts alike in forgetless and stock tfjs-layers').toBeLessThanOrEqual(PREDICT_TOL);
        tf.dispose([x, a, b]);
      }
      disposeParams(result.masks);
      stock.dispose();
    } finally {
      mine.dispose();
    }
  });

  it('6. a short continual run with EWC changes the trainable weights, leaves frozen layers bitwise unchanged and leaks no tensor', async () => {
    if (!classifier) {
      // the training loop's loss is classification: a model that outputs images is refused, clearly
      const task: Task = { name: 't', train: sourceFor(fixture, keras, 4, 50), test: sourceFor(fixture, keras, 2, 60) };
      const optimizer = tf.train.sgd(0.05);
      await expect(trainContinual(loaded.model, [task], { optimizer, iterations: 1, batchSize: 2 })).rejects.toThrow(/need one score per class/);
      optimizer.dispose();
      return;
    }
    const live = fixture.build(1);
    const { byOption, byConfig } = layersToFreeze(live);
    live.getLayer(byConfig).trainable = false;
    const frozenArtifacts = await saveArtifacts(live);
    live.dispose();
    const mine = await loadLayersModelFromArtifacts(frozenArtifacts, `${name} (frozen)`, { freeze: [byOption] });
    try {
      const model = mine.model;
      const all = { ...model.params, ...model.state };
      for (const layer of [byOption, byConfig]) {
        expect(weightsOfLayer(model.params, layer), `${layer} is frozen: none of its weights trains`).toEqual([]);
        expect(weightsOfLayer(model.state, layer).length, `${layer}'s weights are kept as state`).toBeGreaterThan(0);
      }
      const frozenNames = [...weightsOfLayer(all, byOption), ...weightsOfLayer(all, byConfig)];
      const frozenBefore = snapshot(Object.fromEntries(frozenNames.map((n) => [n, all[n] as tf.Tensor])));
      const trainableBefore = snapshot(model.params);
      expect(Object.keys(trainableBefore).length).toBeGreaterThan(0);

      const task = (i: number): Task => ({ name: `task ${i}`, train: sourceFor(fixture, keras, 4, 50 + i), test: sourceFor(fixture, keras, 2, 60 + i) });
      const before = tf.memory().numTensors;
      const optimizer = tf.train.sgd(0.05);
      const plugin = ewc({ lambda: 10, importance: { method: 'fisher', limit: 4 } });
      // two tasks of two steps: EWC's penalty is zero at the first step of task 2 (θ = θ*), not at the second
      await trainContinual(model, [task(0), task(1)], { optimizer, plugins: [plugin], iterations: 2, batchSize: 2, seed: 1, learningRate: 0.05 });
      expect(plugin.terms.length, 'EWC consolidated task 1').toBe(1);
      plugin.dispose();
      optimizer.dispose();
      expect(tf.memory().numTensors, 'tensors leaked by training').toBe(before);

      // every trainable parameter moves, but a BatchNormalization offset β whose output reaches a
      // training-mode batch norm only through channel-linear ops (add, 1×1 conv): that batch norm
      // subtracts the batch mean, so ∂loss/∂β is zero in exact arithmetic (MobileNetV2's
      // block_1_project_BN and block_2_project_BN); its layer's γ still moves
      const bnLayers = new Set(mine.bindings.filter((b) => b.className === 'BatchNormalization').map((b) => b.keras));
      const unchanged = Object.entries(model.params)
        .filter(([n, v]) => sameBits(bitsOf(v), trainableBefore[n] as Uint8Array))
        .map(([n]) => n);
      expect(
        unchanged.filter((n) => !(n.endsWith('/beta') && bnLayers.has(n.slice(0, -'/beta'.length)))),
        'trainable parameters left unchanged by training',
      ).toEqual([]);
      const trainableLayers = new Set(Object.keys(model.params).map((n) => n.slice(0, n.lastIndexOf('/'))));
      const stillLayers = [...trainableLayers].filter((l) => weightsOfLayer(model.params, l).every((n) => unchanged.includes(n)));
      expect(stillLayers, 'trainable layers none of whose weights changed').toEqual([]);
      const moved = frozenNames.filter((n) => !sameBits(bitsOf(all[n] as tf.Tensor), frozenBefore[n] as Uint8Array));
      expect(moved, 'weights of frozen layers that changed').toEqual([]);
    } finally {
      mine.dispose();
    }
  });

  it('7. a live tf.LayersModel: fromLayersModel, trained (WVA + SI), writeBack, predicts what forgetless predicts', async () => {
    const live = fixture.build(2);
    const x = fixture.input(live, 3, 71);
    const mine = await fromLayersModel(live);
    try {
      const first = live.predict(x) as tf.Tensor;
      const start = mine.predict(x);
      expect(relErr(start, first), 'imported live model').toBeLessThanOrEqual(PREDICT_TOL);

      if (classifier) {
        const task = (i: number): Task => ({ name: `task ${i}`, train: sourceFor(fixture, live, 4, 80 + i), test: sourceFor(fixture, live, 2, 90 + i) });
        const optimizer = tf.train.sgd(0.05);
        const plugin = wvaPlugin({ lambda: 1, importance: { method: 'si' } });
        await trainContinual(mine.model, [task(0), task(1)], { optimizer, plugins: [plugin], iterations: 1, batchSize: 2, seed: 2 });
        plugin.dispose();
        optimizer.dispose();
      } else {
        // not a classifier (no training loop for it): change every weight by hand instead
        for (const v of Object.values(mine.model.params)) tf.tidy(() => v.assign(tf.mul(v, 1.25)));
      }

      const trained = mine.predict(x);
      expect(sameBits(bitsOf(trained), bitsOf(start)), 'training changed the predictions').toBe(false);
      writeBack(mine, live);
      // every live weight is now the forgetless value, bit for bit
      const all: Record<string, tf.Tensor> = { ...mine.model.params, ...mine.model.state };
      const byKeras = new Map(mine.entries.filter((e) => e.core).map((e) => [e.spec.name, e.core as string]));
      for (const w of live.weights) {
        const core = byKeras.get(w.originalName);
        expect(core, `live weight ${w.originalName} is bound`).toBeTypeOf('string');
        expect(sameBits(bitsOf(w.read()), bitsOf(all[core as string] as tf.Tensor)), `live ${w.originalName} = forgetless ${core}`).toBe(true);
      }
      const after = live.predict(x) as tf.Tensor;
      expect(relErr(after, trained), 'live model after writeBack').toBeLessThanOrEqual(PREDICT_TOL);
      tf.dispose([first, start, trained, after]);
    } finally {
      mine.dispose();
      live.dispose();
      x.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Import order, in plain Node child processes
// ---------------------------------------------------------------------------------------------

// What re-registers tfjs's stock gradients after @forgetless/core has put its own in place:
// - node_modules/@tensorflow/tfjs-core/dist/index.js (tfjs-core's ESM entry) imports only
//   './base_side_effects' (engine, flags, platforms, op handler) and registers the optimizers; it
//   does NOT import './register_all_gradients'. Its Node entry (package.json "main",
//   dist/tf-core.node.js) does not register gradients either.
// - tfjs-layers does: its ESM entry (tfjs-layers/dist/index.js) has
//   `import '@tensorflow/tfjs-core/dist/register_all_gradients'`, and its Node bundle
//   (dist/tf-layers.node.js, "main") carries a copy of that file that registers every gradient
//   into the shared global registry when required.
// - The umbrella @tensorflow/tfjs (tfjs/src/index.ts) re-exports tfjs-core, tfjs-layers and
//   tfjs-converter and imports tfjs-backend-cpu/-webgl; so `import '@tensorflow/tfjs'` runs
//   register_all_gradients through tfjs-layers.
// Two children therefore import the built @forgetless/core, then tfjs's gradients, each way:
// - 'dist': `@tensorflow/tfjs-core/dist/register_all_gradients.js` itself, as a bundler resolves
//   it. Plain Node cannot load that ESM file (its imports have no extensions: ERR_MODULE_NOT_FOUND
//   for './gradients/Abs_grad'), so the child runs with a resolve hook that adds '.js' /
//   '/index.js', as bundlers do;
// - 'layers': `@tensorflow/tfjs-layers`, which is what `import '@tensorflow/tfjs'` runs in Node.
// Each then switches to wasm (which has no Conv2DBackpropFilter kernel: the stock Conv2D gradient
// fails there) and trains a conv net (core's paper-2 CNN, trainContinual) and an imported
// MobileNetV2 block (trainStep) for two steps each. forgetless's entry points call
// ensureOwnGradients(), which re-registers its gradients, so both must succeed.
describe('import order: @forgetless/core, then tfjs registers its gradients again, then wasm training', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  let dir = '';

  const resolveHook = `// Resolves extensionless relative ESM imports as bundlers do ('./x' → './x.js' or './x/index.js').
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    if (!/^\\.\\.?\\//.test(specifier) || !['ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT'].includes(e?.code)) throw e;
    for (const candidate of [specifier + '.js', specifier + '/index.js']) {
      try {
        return await nextResolve(candidate, context);
      } catch {}
    }
    throw e;
  }
}
`;

  const script = `import { readFileSync } from 'node:fs';
import * as core from '@forgetless/core';
import * as tf from '@tensorflow/tfjs-core';

const variant = process.argv[2];
const own = core.ownGradientKernels();
const mine = new Map(own.map((k) => [k, tf.getGradient(k)]));
await import(variant === 'dist' ? '@tensorflow/tfjs-core/dist/register_all_gradients.js' : '@tensorflow/tfjs-layers');
const replaced = own.filter((k) => tf.getGradient(k) !== mine.get(k));
const stockConv = tf.getGradient('Conv2D');
const backend = await core.useBackend('wasm');

const rng = new core.Rng(3);
const source = (shape, k, n) =>
  new core.ArraySource({
    x: Float32Array.from({ length: n * shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    y: Int32Array.from({ length: n }, () => rng.int(k)),
    exampleShape: shape,
    numClasses: k,
  });
const snapshot = (m) => Object.fromEntries(Object.entries(m.params).map(([n, v]) => [n, v.dataSync().slice()]));
// parameters training left bitwise unchanged, but batch-norm offsets β (whose gradient is zero in
// exact arithmetic when a training-mode batch norm follows through channel-linear ops, as in MobileNetV2)
const isBeta = (m, n) => m.layers.some((l) => l.kind === 'batchNorm' && n === l.name + '/beta');
const unchanged = (m, s) => Object.entries(m.params).filter(([n, v]) => v.dataSync().every((x, i) => x === s[n][i])).map(([n]) => n).filter((n) => !isBeta(m, n));
const finite = (m) => Object.values(m.params).every((v) => v.dataSync().every(Number.isFinite));

const before = tf.memory().numTensors;
// core's paper-2 CNN (conv2d, batchNorm, leaky ReLU, maxPool), two steps through trainContinual
const net = core.paper2ConvNet({ width: 0.1, seed: 1 });
const s1 = snapshot(net);
const opt1 = tf.train.sgd(0.05);
const r = await core.trainContinual(net, [{ name: 't', train: source([28, 28, 1], 10, 8), test: source([28, 28, 1], 10, 4) }], { optimizer: opt1, iterations: 2, batchSize: 4 });
const cnn = { steps: r.timings[0].steps, unchanged: unchanged(net, s1), finite: finite(net) };

// an imported Keras MobileNetV2 block (conv, depthwise conv, batch norm, ReLU6, add), two trainStep calls
const a = JSON.parse(readFileSync(new URL('./mobilenet.json', import.meta.url), 'utf8'));
const loaded = await core.loadLayersModelFromArtifacts({ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs, weightData: new Uint8Array(Buffer.from(a.weightData, 'base64')).buffer }, 'mobilenet');
const s2 = snapshot(loaded.model);
const opt2 = tf.train.sgd(0.05);
const task = { name: 'm', train: source(a.exampleShape, a.classes, 4), test: source(a.exampleShape, a.classes, 2) };
const ctx = { model: loaded.model, optimizer: opt2, tasks: [task], taskIndex: 0, task, step: 0, taskStep: 0, epoch: 0, rng: new core.Rng(1) };
const losses = [];
for (const batch of task.train.batches(2)) {
  const loss = core.trainStep(batch, ctx, []);
  losses.push(loss.dataSync()[0]);
  tf.dispose([loss, batch.x, batch.y]);
}
const mobilenet = { steps: losses.length, losses, unchanged: unchanged(loaded.model, s2), finite: finite(loaded.model) };
const restored = own.filter((k) => tf.getGradient(k) === mine.get(k));
net.dispose();
loaded.dispose();
opt1.dispose();
opt2.dispose();
const leaked = tf.memory().numTensors - before;

// the stock Conv2D gradient that the import put in place: it runs on wasm too now, through the
// Conv2DBackpropFilter kernel @forgetless/core registers there (wasm has none of its own)
let stockConvError = null;
tf.registerGradient(stockConv);
try {
  tf.tidy(() => {
    const x = tf.ones([1, 4, 4, 1]);
    const w = tf.variable(tf.ones([3, 3, 1, 1]));
    tf.variableGrads(() => tf.sum(tf.conv2d(x, w, 1, 'same')), [w]);
  });
} catch (e) {
  stockConvError = String(e?.message ?? e);
}
console.log(JSON.stringify({ variant, backend, own, replaced, restored, cnn, mobilenet, leaked, stockConvError }));
`;

  const predictScript = `const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const core = require('@forgetless/core');
const tf = require('@tensorflow/tfjs-core');

(async () => {
  await core.useBackend('cpu');
  const a = JSON.parse(readFileSync(join(__dirname, 'mobilenet.json'), 'utf8'));
  const loaded = await core.loadLayersModelFromArtifacts({ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs, weightData: new Uint8Array(Buffer.from(a.weightData, 'base64')).buffer }, 'mobilenet');
  const x = tf.tensor(a.input.values, a.input.shape);
  console.log(JSON.stringify({ prediction: Array.from(loaded.predict(x).dataSync()) }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
`;
  let mobilenetPrediction: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'forgetless-import-order-'));
    // the child resolves packages as an app in this repository would: through its node_modules
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await writeFile(join(dir, 'resolve-js.mjs'), resolveHook);
    await writeFile(join(dir, 'register-hook.mjs'), "import { register } from 'node:module';\nregister('./resolve-js.mjs', import.meta.url);\n");
    await writeFile(join(dir, 'train.mjs'), script);
    const m = kerasFixtures.find((f) => f.name === 'mobileNetV2Block')?.build(5);
    if (!m) throw new Error('no mobileNetV2Block fixture');
    const a = await saveArtifacts(m);
    const exampleShape = (m.inputs[0] as tfl.SymbolicTensor).shape.slice(1) as number[];
    const classes = (m.outputs[0] as tfl.SymbolicTensor).shape.at(-1) as number;
    const x = randomInput(m, 2, 9);
    const p = m.predict(x) as tf.Tensor;
    mobilenetPrediction = Array.from(p.dataSync());
    const input = { values: Array.from(x.dataSync()), shape: x.shape };
    tf.dispose([x, p]);
    m.dispose();
    await writeFile(
      join(dir, 'mobilenet.json'),
      JSON.stringify({
        modelTopology: a.modelTopology,
        weightSpecs: a.weightSpecs,
        weightData: Buffer.from(a.weightData as ArrayBuffer).toString('base64'),
        exampleShape,
        classes,
        input,
      }),
    );
    await writeFile(join(dir, 'predict.cjs'), predictScript);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // The CommonJS entry (dist/index.cjs, an esbuild bundle that honours package.json "sideEffects")
  // must import the same Keras model as the ESM entry: its layer converters register themselves
  // by side effect.
  it('the CommonJS entry imports a Keras conv model too (predictions of stock tfjs-layers)', async () => {
    let stdout = '';
    try {
      ({ stdout } = await promisify(execFile)(process.execPath, ['predict.cjs'], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } }));
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`the child process failed: ${err.stderr || err.message}`);
    }
    const line = stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .at(-1);
    if (!line) throw new Error(`no result from the child:\n${stdout}`);
    const r = JSON.parse(line) as { prediction: number[] };
    expect(relErr(r.prediction, mobilenetPrediction)).toBeLessThanOrEqual(PREDICT_TOL);
  });

  it.each(['dist', 'layers'] as const)('gradients registered again by %s: training on wasm still works', async (variant) => {
    const args = [...(variant === 'dist' ? ['--import', './register-hook.mjs'] : []), 'train.mjs', variant];
    let stdout = '';
    try {
      ({ stdout } = await promisify(execFile)(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } }));
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`the child process failed: ${err.stderr || err.message}`);
    }
    const line = stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .at(-1);
    if (!line) throw new Error(`no result from the child:\n${stdout}`);
    const r = JSON.parse(line);
    expect(r.backend).toBe('wasm');
    // the import really did replace forgetless's gradients (else this test proves nothing) ...
    expect(r.own.length).toBeGreaterThan(0);
    expect(r.replaced, 'kernels whose gradient the import replaced').toContain('Conv2D');
    // (the stock Conv2D gradient runs on wasm as well: @forgetless/core registers the Conv2DBackpropFilter kernel it calls)
    expect(r.stockConvError, 'the stock Conv2D gradient on wasm').toBeNull();
    // ... and training put every one back and trained
    expect(r.restored).toEqual(r.own);
    for (const which of ['cnn', 'mobilenet'] as const) {
      expect(r[which].steps, which).toBe(2);
      expect(r[which].finite, `${which}: finite weights`).toBe(true);
      expect(r[which].unchanged, `${which}: parameters training left unchanged`).toEqual([]);
    }
    expect(r.mobilenet.losses.every(Number.isFinite)).toBe(true);
    expect(r.leaked, 'tensors leaked in the child').toBe(0);
  });
});
