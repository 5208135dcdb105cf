import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { artifactsOf } from '../keras/artifacts.test-helpers.js';
import { loadLayersModelFromArtifacts } from '../keras/load.js';
import type { Model } from '../contract.js';
import type { LayerCapture } from '../layers/layer.js';
import { Rng } from '../rng.js';
import { setConvBatchNormFusion } from './conv-bn.js';
import { withLayerFusion } from './formulation.js';
import { withGradientMode } from './gradients.js';
import { netStepSetup, trainSteps } from './mobilenet-style.test-helpers.js';
import { type Host, dev, host, onWasm } from './wasm.test-helpers.js';

/** A Keras functional model with every kind of conv + batch norm pair (and two that must not fuse), as tfjs-layers builds it. */
async function kerasArtifacts(): Promise<tf.io.ModelArtifacts> {
  let seed = 20;
  const init = () => ({ kernelInitializer: tfl.initializers.glorotNormal({ seed: seed++ }) });
  const conv = (filters: number, kernelSize: number, padding: 'same' | 'valid' = 'same', useBias = false) =>
    tfl.layers.conv2d({ filters, kernelSize, padding, useBias, ...init(), ...(useBias ? { biasInitializer: tfl.initializers.glorotNormal({ seed: seed++ }) } : {}) });
  const bn = () => tfl.layers.batchNormalization({ momentum: 0.9, gammaInitializer: tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed++ }) });
  const relu6 = () => tfl.layers.reLU({ maxValue: 6 });
  const apply = (l: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => l.apply(x) as tfl.SymbolicTensor;
  const input = tfl.input({ shape: [12, 12, 3] });
  // the stem reads the model's input: not fused (its ∂x is not needed)
  let h = apply(relu6(), apply(bn(), apply(conv(8, 3), input)));
  // 1×1 expansion + batch norm + ReLU6
  h = apply(relu6(), apply(bn(), apply(conv(24, 1), h)));
  // ZeroPadding2D → depthwise 3×3 stride 2 'valid' (the padding folded in) + batch norm + ReLU6
  h = apply(
    tfl.layers.zeroPadding2d({
      padding: [
        [0, 1],
        [0, 1],
      ],
    }),
    h,
  );
  h = apply(tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', useBias: false, depthwiseInitializer: tfl.initializers.glorotNormal({ seed: seed++ }) }), h);
  h = apply(relu6(), apply(bn(), h));
  // 1×1 projection + batch norm, no activation
  const p = apply(bn(), apply(conv(8, 1), h));
  // a residual branch of two 3×3 convs with batch norm (Inception/ResNet style: the patch kernels), added
  const r = apply(bn(), apply(conv(8, 3), apply(relu6(), apply(bn(), apply(conv(8, 3), p)))));
  h = apply(tfl.layers.add(), [p, r]);
  // a conv with a bias before its batch norm: not fused
  h = apply(relu6(), apply(bn(), apply(conv(16, 1, 'valid', true), h)));
  const out = apply(tfl.layers.dense({ units: 4, ...init() }), apply(tfl.layers.globalAveragePooling2d({}), h));
  const keras = tfl.model({ inputs: input, outputs: out });
  const artifacts = await artifactsOf(keras);
  keras.dispose();
  return artifacts;
}

/**
 * A Keras functional model of InceptionV3's and ResNet's units, as tfjs-layers builds it: `conv2d_bn`
 * (Conv2D without bias → BatchNormalization(scale: false) → Activation('relu')) in a stem and two
 * concatenated branches, then a residual pair of 3×3 convs (batch norm → ReLU() layer; a batch norm
 * with center: false) added to the branches and followed by a ReLU that no batch norm feeds.
 */
async function inceptionArtifacts(): Promise<tf.io.ModelArtifacts> {
  let seed = 40;
  const init = () => ({ kernelInitializer: tfl.initializers.glorotNormal({ seed: seed++ }) });
  const conv = (filters: number, kernelSize: number, padding: 'same' | 'valid' = 'same') => tfl.layers.conv2d({ filters, kernelSize, padding, useBias: false, ...init() });
  const bnOpts = () => ({ momentum: 0.9, betaInitializer: tfl.initializers.randomNormal({ mean: 2.5, stddev: 2, seed: seed++ }) });
  const bn = (o: { scale?: boolean; center?: boolean } = {}) =>
    tfl.layers.batchNormalization({ ...bnOpts(), ...o, gammaInitializer: tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: seed++ }) });
  const relu = () => tfl.layers.activation({ activation: 'relu' });
  const apply = (l: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => l.apply(x) as tfl.SymbolicTensor;
  const convBn = (x: tfl.SymbolicTensor, filters: number, k: number, padding: 'same' | 'valid' = 'same') =>
    apply(relu(), apply(bn({ scale: false }), apply(conv(filters, k, padding), x)));
  const input = tfl.input({ shape: [12, 12, 3] });
  // the stem reads the model's input: its conv runs apart, its batch norm + ReLU as one kernel
  const stem = convBn(input, 8, 3, 'valid');
  const a = convBn(stem, 8, 1);
  const b = convBn(convBn(stem, 6, 1), 8, 3);
  const cat = apply(tfl.layers.concatenate({}), [a, b]);
  const r1 = apply(tfl.layers.reLU({}), apply(bn(), apply(conv(16, 3), cat)));
  const r2 = apply(bn({ center: false }), apply(conv(16, 3), r1));
  const h = apply(relu(), apply(tfl.layers.add(), [cat, r2]));
  const out = apply(tfl.layers.dense({ units: 4, ...init() }), apply(tfl.layers.globalAveragePooling2d({}), h));
  const keras = tfl.model({ inputs: input, outputs: out });
  const artifacts = await artifactsOf(keras);
  keras.dispose();
  return artifacts;
}

type Named = { name: string } & Host;

/** One SGD step (lr 0.1, mean squared output, training mode) of a fresh import: every weight and moving statistic after it, and the kernels run. */
async function step(artifacts: tf.io.ModelArtifacts, xs: Host): Promise<{ got: Named[]; initial: Named[]; kernels: string[] }> {
  const { model } = await loadLayersModelFromArtifacts(artifacts);
  const weights = () => Object.entries(model.getWeights({ state: true })).map(([name, t]) => ({ name, ...host(t) }));
  const initial = tf.tidy(weights);
  let got: Named[] = [];
  const profile = await tf.profile(() => {
    got = tf.tidy(() => {
      const vars = Object.values(model.params);
      const { grads } = tf.variableGrads(() => tf.mean(tf.square(model.apply(dev(xs), { training: true, rng: new Rng(0) }))) as tf.Scalar, vars);
      for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 0.1)));
      return weights();
    });
    return [];
  });
  (model as Model).dispose();
  return { got, initial, kernels: profile.kernels.map((k) => k.name) };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
const count = (ks: string[], name: string) => ks.filter((k) => k === name).length;

type Steps = Record<'fused' | 'apart' | 'offAll', Awaited<ReturnType<typeof step>>> & { ref: Named[] };

/**
 * One SGD step of a fresh import of `artifacts` on cpu under tfjs's stock gradients (the reference), then
 * on wasm fused, with the conv + batch norm pairs apart, and with no fusion at all; `check` runs on
 * them inside wasm and a no-leak check. Every weight must come out fused as apart to the bit and within
 * 1e-5 of cpu (relative to its largest value, or 1: a β whose gradient is zero but for rounding moves by ~1e-9).
 */
async function stepsFusedApart(artifacts: tf.io.ModelArtifacts, seed: number, check: (r: Steps) => void): Promise<void> {
  const xs = tf.tidy(() => host(tf.randomNormal([3, 12, 12, 3], 0, 1, 'float32', seed)));
  const ref = (await withGradientMode('stock', () => step(artifacts, xs))).got; // cpu, tfjs's own gradients
  await onWasm(async () => {
    await expectNoLeak(async () => {
      const fused = await step(artifacts, xs);
      setConvBatchNormFusion(false);
      const apart = await step(artifacts, xs).finally(() => setConvBatchNormFusion(true));
      const offAll = await withLayerFusion(false, () => step(artifacts, xs));
      expect(fused.got.map((g) => g.name)).toEqual(ref.map((g) => g.name));
      fused.got.forEach((g, i) => {
        const a = apart.got[i] as Named;
        expect(sameBits(g.v, a.v), `${g.name}: fused and apart differ (rel ${relErr(g.v, a.v)})`).toBe(true);
        expect(maxAbsDiff(g.v, (ref[i] as Named).v) / Math.max(1, ...(ref[i] as Named).v.map(Math.abs)), g.name).toBeLessThanOrEqual(1e-5);
      });
      check({ fused, apart, offAll, ref });
    });
  });
}

describe('conv + batch norm (+ ReLU6 or ReLU) as one op on wasm', () => {
  it('a stock tfjs-layers model takes one SGD step the same to the bit fused as apart, as on cpu with tfjs gradients, with the pairs that qualify fused', async () => {
    await stepsFusedApart(await kerasArtifacts(), 5, ({ fused, apart, offAll }) => {
      // fused: the expansion, the depthwise, the projection and the two 3×3 convs (five pairs); the stem and the biased conv run apart
      expect(count(apart.kernels, 'DepthwiseConv2dNative')).toBe(1);
      expect(count(fused.kernels, 'DepthwiseConv2dNative')).toBe(0);
      expect(count(apart.kernels, 'Conv2D') - count(fused.kernels, 'Conv2D')).toBe(4);
      expect(count(fused.kernels, 'Conv2D')).toBe(2);
      // each pair apart: conv, batch norm (a custom gradient around its kernel), conv ∂x and ∂W, batch norm ∂; fused: one custom gradient
      // batch norm kernels through the engine: 7 each way apart, 2 (the stem's, the biased conv's) fused; a custom gradient each either way
      const bnKernels = (ks: string[], grad: boolean) => ks.filter((k) => /^ForgetlessBatchNorm(Relu)?Train(Grad)?$/.test(k) && k.endsWith('Grad') === grad).length;
      expect([bnKernels(apart.kernels, false), bnKernels(apart.kernels, true)]).toEqual([7, 7]);
      expect([bnKernels(fused.kernels, false), bnKernels(fused.kernels, true)]).toEqual([2, 2]);
      expect([count(apart.kernels, 'forward'), count(fused.kernels, 'forward')]).toEqual([7, 7]);
      expect(count(fused.kernels, 'DepthwiseConv2dNativeBackpropInput') + count(fused.kernels, 'DepthwiseConv2dNativeBackpropFilter')).toBe(0);
      // withLayerFusion(false) turns it off too
      expect(count(offAll.kernels, 'DepthwiseConv2dNative')).toBe(1);
      // every weight and moving statistic but those zero-gradient βs moved (a step that changed nothing would agree too)
      const moved = fused.got.filter((g, i) => maxAbsDiff(g.v, (fused.initial[i] as Named).v) > 1e-4).length;
      expect(moved).toBeGreaterThanOrEqual(fused.got.length - 2);
    });
  });

  it("InceptionV3's and ResNet's units (batch norm without γ or β, then ReLU) take one SGD step the same to the bit fused as apart, as on cpu with tfjs gradients, the ReLUs inside the batch norms' kernels", async () => {
    await stepsFusedApart(await inceptionArtifacts(), 6, ({ fused, apart, offAll }) => {
      const kernels = (ks: string[]) => ['Conv2D', 'Relu', 'ForgetlessBatchNormReluTrain', 'ForgetlessBatchNormTrain', 'ForgetlessBatchNormReluTrainGrad'].map((k) => count(ks, k));
      // fused: five conv + batch norm pairs in one op each (out of tf.profile's sight); the stem's conv apart, its batch norm + ReLU one
      // kernel each way; the ReLU after the Add, which no batch norm feeds, is tfjs's
      expect(kernels(fused.kernels)).toEqual([1, 1, 1, 0, 1]);
      // the pairs apart: six convs; five batch norms with their ReLU inside, one (center: false) without
      expect(kernels(apart.kernels)).toEqual([6, 1, 5, 1, 5]);
      // no fusion at all: every ReLU is tfjs's
      expect(kernels(offAll.kernels)).toEqual([6, 6, 0, 6, 0]);
      // scale: false and center: false came through as batch norms without γ and without β
      expect(fused.got.filter((g) => /gamma$/.test(g.name)).length).toBe(2);
      expect(fused.got.filter((g) => /beta$/.test(g.name)).length).toBe(5);
      fused.got.forEach((g, i) => {
        expect(maxAbsDiff(g.v, ((offAll.got[i] as Named) ?? g).v) / Math.max(1, ...g.v.map(Math.abs)), `${g.name} against no fusion`).toBeLessThanOrEqual(1e-5);
      });
      // the masks matter: every weight and moving statistic moved (a step that changed nothing would agree too)
      const moved = fused.got.filter((g, i) => maxAbsDiff(g.v, (fused.initial[i] as Named).v) > 1e-4).length;
      expect(moved).toBe(fused.got.length);
    });
  });

  it('under a capture the ZeroPadding2D runs apart; with capturePads it is folded into the depthwise conv, whose capture holds the unpadded input and the pads, and the logits are those of the plain forward', async () => {
    const artifacts = await kerasArtifacts();
    const xs = tf.tidy(() => host(tf.randomNormal([2, 12, 12, 3], 0, 1, 'float32', 6)));
    await onWasm(async () => {
      const { model } = await loadLayersModelFromArtifacts(artifacts);
      const dw = model.parametricLayers.find((l) => l.kind === 'depthwiseConv2d');
      expect(dw, 'the depthwise conv').toBeDefined();
      const name = (dw as { name: string }).name;
      await expectNoLeak(async () => {
        const x = dev(xs);
        const kernelsOf = async (f: () => tf.Tensor) => {
          let out: Float32Array = new Float32Array();
          const info = await tf.profile(() => {
            const y = f();
            out = y.dataSync() as Float32Array;
            y.dispose();
          });
          return { out, pads: info.kernels.filter((k) => k.name === 'PadV2').length };
        };
        const apart: Record<string, LayerCapture> = {};
        const folded: Record<string, LayerCapture> = {};
        // the captured tensors kept out of the forward's scope, the rest of it disposed
        const keepCaptures = (capture: Record<string, LayerCapture>, y: tf.Tensor) => {
          for (const c of Object.values(capture)) for (const t of [c.input, c.preActivation, c.output]) tf.keep(t);
          return y;
        };
        const plain = await kernelsOf(() => tf.tidy(() => model.logits(x)));
        const a = await kernelsOf(() => tf.tidy(() => keepCaptures(apart, model.logits(x, { capture: apart }))));
        const f = await kernelsOf(() => tf.tidy(() => keepCaptures(folded, model.logits(x, { capture: folded, capturePads: true }))));
        // the plain forward folds it (no PadV2 kernel); a capture alone runs it; capturePads folds it again
        expect([plain.pads, a.pads, f.pads]).toEqual([0, 1, 0]);
        const ca = apart[name] as LayerCapture;
        const cf = folded[name] as LayerCapture;
        expect(ca.pads).toBeUndefined();
        expect(cf.pads).toEqual([
          [0, 1],
          [0, 1],
        ]);
        expect(ca.input.shape).toEqual([2, 13, 13, 24]);
        expect(cf.input.shape).toEqual([2, 12, 12, 24]);
        // the padded input is the unpadded one with a row and a column of zeros after it
        const unpadded = tf.slice(ca.input, [0, 0, 0, 0], [2, 12, 12, 24]);
        expect(Array.from(unpadded.dataSync())).toEqual(Array.from(cf.input.dataSync()));
        unpadded.dispose();
        expect(Array.from(f.out)).toEqual(Array.from(plain.out));
        expect(relErr(a.out, plain.out)).toBeLessThanOrEqual(1e-5);
        tf.dispose([x, ...new Set([...Object.values(apart), ...Object.values(folded)].flatMap((c) => [c.input, c.preActivation, c.output]))]);
      });
      model.dispose();
    });
  });

  it('a forgetless Sequential net (conv, batch norm, ReLU6, depthwise, …) trains three steps the same to the bit fused as apart, without leaking', async () => {
    await onWasm(async () => {
      const run = async (fuse: boolean) => {
        setConvBatchNormFusion(fuse);
        try {
          const { model, x, y, ctx } = netStepSetup(tf.train.sgd(0.1), { useBias: false });
          const out = await expectNoLeak(async () => {
            const losses = await trainSteps(ctx, x, y, 3);
            const kernels = (await tf.profile(() => tf.tidy(() => void model.apply(x, { training: true })))).kernels.map((k) => k.name);
            return { losses, kernels, weights: tf.tidy(() => Object.entries(model.getWeights({ state: true })).map(([n, t]) => ({ name: n, ...host(t) }))) };
          });
          tf.dispose([x, y]);
          model.dispose();
          return out;
        } finally {
          setConvBatchNormFusion(true);
        }
      };
      const [apart, fused] = [await run(false), await run(true)];
      expect(fused.losses.every(Number.isFinite)).toBe(true);
      expect(fused.losses).toEqual(apart.losses);
      expect(fused.losses[2]).not.toBe(fused.losses[0]);
      fused.weights.forEach((w, i) => expect(sameBits(w.v, (apart.weights[i] as Named).v), w.name).toBe(true));
      // the first conv reads the input (apart); the depthwise and the 1×1 run fused
      expect(count(apart.kernels, 'DepthwiseConv2dNative')).toBe(1);
      expect(count(fused.kernels, 'DepthwiseConv2dNative')).toBe(0);
      expect(count(fused.kernels, 'Conv2D')).toBe(1);
    });
  });
});
