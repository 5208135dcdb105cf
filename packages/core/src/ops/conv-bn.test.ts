import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { artifactsOf } from '../keras/artifacts.test-helpers.js';
import { loadLayersModelFromArtifacts } from '../keras/load.js';
import type { Model } from '../contract.js';
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

describe('conv + batch norm (+ ReLU6) as one op on wasm', () => {
  it('a stock tfjs-layers model takes one SGD step the same to the bit fused as apart, as on cpu with tfjs gradients, with the pairs that qualify fused', async () => {
    const artifacts = await kerasArtifacts();
    const xs = tf.tidy(() => host(tf.randomNormal([3, 12, 12, 3], 0, 1, 'float32', 5)));
    const ref = (await withGradientMode('stock', () => step(artifacts, xs))).got; // cpu, tfjs's own gradients
    await onWasm(async () => {
      await expectNoLeak(async () => {
        const fused = await step(artifacts, xs);
        setConvBatchNormFusion(false);
        const apart = await step(artifacts, xs).finally(() => setConvBatchNormFusion(true));
        const offAll = await withLayerFusion(false, () => step(artifacts, xs));
        // fused: the expansion, the depthwise, the projection and the two 3×3 convs (five pairs); the stem and the biased conv run apart
        expect(count(apart.kernels, 'DepthwiseConv2dNative')).toBe(1);
        expect(count(fused.kernels, 'DepthwiseConv2dNative')).toBe(0);
        expect(count(apart.kernels, 'Conv2D') - count(fused.kernels, 'Conv2D')).toBe(4);
        expect(count(fused.kernels, 'Conv2D')).toBe(2);
        // each pair apart: conv, batch norm (a custom gradient around its kernel), conv ∂x and ∂W, batch norm ∂; fused: one custom gradient
        // batch norm kernels through the engine: 7 each way apart, 2 (the stem's, the biased conv's) fused; a custom gradient each either way
        const bnKernels = (ks: string[], grad: boolean) => ks.filter((k) => /^ForgetlessBatchNorm(Relu6)?Train(Grad)?$/.test(k) && k.endsWith('Grad') === grad).length;
        expect([bnKernels(apart.kernels, false), bnKernels(apart.kernels, true)]).toEqual([7, 7]);
        expect([bnKernels(fused.kernels, false), bnKernels(fused.kernels, true)]).toEqual([2, 2]);
        expect([count(apart.kernels, 'forward'), count(fused.kernels, 'forward')]).toEqual([7, 7]);
        expect(count(fused.kernels, 'DepthwiseConv2dNativeBackpropInput') + count(fused.kernels, 'DepthwiseConv2dNativeBackpropFilter')).toBe(0);
        // withLayerFusion(false) turns it off too
        expect(count(offAll.kernels, 'DepthwiseConv2dNative')).toBe(1);
        expect(fused.got.map((g) => g.name)).toEqual(ref.map((g) => g.name));
        fused.got.forEach((g, i) => {
          const a = apart.got[i] as Named;
          expect(sameBits(g.v, a.v), `${g.name}: fused and apart differ (rel ${relErr(g.v, a.v)})`).toBe(true);
          // relative to the weight's largest value, or 1 (a β whose gradient is zero but for rounding moves by ~1e-9)
          expect(maxAbsDiff(g.v, (ref[i] as Named).v) / Math.max(1, ...(ref[i] as Named).v.map(Math.abs)), g.name).toBeLessThanOrEqual(1e-5);
        });
        // every weight and moving statistic but those zero-gradient βs moved (a step that changed nothing would agree too)
        const moved = fused.got.filter((g, i) => maxAbsDiff(g.v, (fused.initial[i] as Named).v) > 1e-4).length;
        expect(moved).toBeGreaterThanOrEqual(fused.got.length - 2);
      });
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
