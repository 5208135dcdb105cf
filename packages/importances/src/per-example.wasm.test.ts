// The fast paths on the wasm backend (its depthwise convolution, strided slices and matmuls).
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import {
  DepthwiseConv2d,
  type LayerCapture,
  SeparableConv2d,
  activation,
  batchNorm,
  conv2d,
  dense,
  disposeParams,
  flatten,
  sequential,
  setConvFormulation,
  setSimdPerExampleSums,
  simdKernelsStatus,
  withLayerFusion,
} from '@forgetless/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { convNet, mlpNet, randomSource, randomizeState } from '../test/nets.js';
import { fisherDiagonal } from './fisher.js';
import { mas } from './mas.js';
import { sig } from './sig.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

describe('per-example fast paths on wasm', () => {
  const cases = (['strided-same', 'valid-pool'] as const).flatMap((kind) => (['auto', 'im2col', 'forward-conv'] as const).map((f) => [kind, f] as const));
  it.each(cases)('conv net (%s, %s formulation): Fisher and MAS equal the per-example loop (rel err <= 1e-5)', async (kind, formulation) => {
    expect(tf.getBackend()).toBe('wasm');
    const model = convNet(kind, 3);
    const source = randomSource(6, model.inputShape, 4, 2);
    for (const run of [(path: 'fast' | 'loop') => fisherDiagonal(model, source, { path, batchSize: 4 }), (path: 'fast' | 'loop') => mas(model, source, { path, batchSize: 4 })]) {
      setConvFormulation(formulation); // an async run: set, not withConvFormulation (it would restore at the first await)
      const fast = await run('fast').finally(() => setConvFormulation('auto'));
      const loop = await run('loop');
      for (const k of Object.keys(model.params)) expect(relErr(fast[k] as tf.Tensor, loop[k] as tf.Tensor), k).toBeLessThanOrEqual(1e-5);
      disposeParams(fast);
      disposeParams(loop);
    }
    model.dispose();
  });

  it.each(['auto', 'composed'] as const)(
    'depthwise and separable net (%s formulation: SIMD per-example sums, or tap by tap): Fisher and MAS equal the per-example loop',
    async (formulation) => {
      const model = sequential(
        [
          new DepthwiseConv2d({ kernelSize: 3, stride: 2, padding: 'same', activation: 'tanh' }),
          new DepthwiseConv2d({ kernelSize: [3, 2], dilation: [2, 1], padding: 'valid' }),
          new SeparableConv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh' }),
          flatten(),
          dense(3),
        ],
        { inputShape: [11, 9, 3], seed: 4 },
      );
      const source = randomSource(6, model.inputShape, 3, 2);
      for (const run of [(path: 'fast' | 'loop') => fisherDiagonal(model, source, { path, batchSize: 4 }), (path: 'fast' | 'loop') => mas(model, source, { path, batchSize: 4 })]) {
        setConvFormulation(formulation);
        const fast = await run('fast').finally(() => setConvFormulation('auto'));
        const loop = await run('loop');
        for (const k of Object.keys(model.params)) expect(relErr(fast[k] as tf.Tensor, loop[k] as tf.Tensor), k).toBeLessThanOrEqual(1e-5);
        disposeParams(fast);
        disposeParams(loop);
      }
      model.dispose();
    },
  );

  it("batch norm + ReLU6 (MobileNet's blocks) run as one kernel under the taps: Fisher (empirical, exact) and MAS equal the per-example loop, and Fisher, MAS and SIG equal them run apart; no ReLU6 kernel runs, no tensor is left", async () => {
    const model = sequential(
      [
        conv2d(8, 3, { stride: 2, padding: 'same', useBias: false }),
        batchNorm(),
        activation('relu6'),
        new DepthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }),
        batchNorm({ center: false }),
        activation('relu6'),
        conv2d(6, 1, { useBias: false }),
        batchNorm(),
        flatten(),
        dense(3),
      ],
      { inputShape: [9, 9, 3], seed: 6 },
    );
    randomizeState(model, 7);
    const source = randomSource(6, model.inputShape, 3, 8);
    // the masks cut: each ReLU6's input (the batch norm's output, captured with the fusions off) has values ≤ 0
    const [batch] = [...source.batches(6, { limit: 6 })];
    const lows = withLayerFusion(false, () =>
      tf.tidy(() => {
        const capture: Record<string, LayerCapture> = {};
        model.logits((batch as { x: tf.Tensor }).x, { capture });
        return model.parametricLayers.filter((l) => l.kind === 'batchNorm').map((l) => tf.min((capture[l.name] as LayerCapture).preActivation).dataSync()[0] as number);
      }),
    );
    tf.dispose([batch?.x, batch?.y].filter((t): t is tf.Tensor => t !== undefined));
    expect(lows.length).toBe(3);
    for (const v of lows.slice(0, 2)) expect(v, "a ReLU6's smallest input").toBeLessThan(0);
    const runs = {
      empirical: (path: 'fast' | 'loop') => fisherDiagonal(model, source, { path, batchSize: 4 }),
      exact: (path: 'fast' | 'loop') => fisherDiagonal(model, source, { path, batchSize: 4, variant: 'exact' }),
      mas: (path: 'fast' | 'loop') => mas(model, source, { path, batchSize: 4 }),
    };
    const calls = () => ({ ...simdKernelsStatus().calls });
    for (const [what, run] of Object.entries(runs)) {
      const tensors = tf.memory().numTensors;
      const c0 = calls();
      const fast = await run('fast');
      const c1 = calls();
      // fused: the per-example batch norm sums ran (through the mask) inside the batch norms' backward
      // kernels, weighted by p(k|x) for the exact Fisher (one pass per class); the ReLU6 kernels did not
      const inBackward = (c1.bn_infer_backward_sums ?? 0) - (c0.bn_infer_backward_sums ?? 0);
      const apartSums = (c1.bn_example_sums ?? 0) - (c0.bn_example_sums ?? 0);
      const passes = what === 'exact' ? 2 * 3 : 2;
      expect(inBackward, `${what}: bn_infer_backward_sums calls (3 batch norms × ${passes} passes)`).toBe(3 * passes);
      expect(apartSums, `${what}: bn_example_sums calls`).toBe(0);
      expect((c1.relu6 ?? 0) - (c0.relu6 ?? 0), `${what}: relu6 calls`).toBe(0);
      expect((c1.relu6_grad ?? 0) - (c0.relu6_grad ?? 0), `${what}: relu6_grad calls`).toBe(0);
      const loop = await run('loop');
      const apart = await withLayerFusion(false, () => run('fast'));
      const c2 = calls();
      expect((c2.relu6_grad ?? 0) - (c1.relu6_grad ?? 0), `${what}: relu6_grad calls, fusions off`).toBeGreaterThan(0);
      // fused, the batch norm sums by tf ops (the mask as a tensor) where the SIMD sums are off
      setSimdPerExampleSums(false);
      const byOps = await run('fast').finally(() => setSimdPerExampleSums(true));
      expect((calls().bn_example_sums ?? 0) - (c2.bn_example_sums ?? 0), `${what}: bn_example_sums calls, SIMD sums off`).toBe(0);
      expect((calls().bn_infer_backward_sums ?? 0) - (c2.bn_infer_backward_sums ?? 0), `${what}: bn_infer_backward_sums calls, SIMD sums off`).toBe(0);
      for (const k of Object.keys(model.params)) {
        expect(relErr(fast[k] as tf.Tensor, loop[k] as tf.Tensor), `${what} ${k}: against the loop`).toBeLessThanOrEqual(1e-5);
        expect(relErr(fast[k] as tf.Tensor, apart[k] as tf.Tensor), `${what} ${k}: against the fusions off`).toBeLessThanOrEqual(1e-6);
        expect(relErr(byOps[k] as tf.Tensor, loop[k] as tf.Tensor), `${what} ${k}: tf ops' sums against the loop`).toBeLessThanOrEqual(1e-5);
      }
      for (const m of [fast, loop, apart, byOps]) disposeParams(m);
      expect(tf.memory().numTensors, `${what}: tensors left`).toBe(tensors);
    }
    const fused = await sig(model, source);
    const apart = await withLayerFusion(false, () => sig(model, source));
    for (const k of Object.keys(model.params)) expect(relErr(fused[k] as tf.Tensor, apart[k] as tf.Tensor), `SIG ${k}`).toBeLessThanOrEqual(1e-6);
    disposeParams(fused);
    disposeParams(apart);
    model.dispose();
  });

  it('MLP Fisher and SIG agree with the cpu backend', async () => {
    const source = randomSource(8, [5], 4, 2);
    const onWasm = async () => {
      const model = mlpNet('leakyRelu', 2);
      const out = [await fisherDiagonal(model, source, { variant: 'exact' }), await sig(model, source)];
      const data = out.map((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.dataSync().slice()])));
      out.forEach(disposeParams);
      model.dispose();
      return data;
    };
    const wasm = await onWasm();
    await tf.setBackend('cpu');
    const cpu = await onWasm();
    await tf.setBackend('wasm');
    wasm.forEach((m, i) => {
      for (const k of Object.keys(m)) expect(relErr(m[k] as Float32Array, cpu[i]?.[k] as Float32Array), k).toBeLessThanOrEqual(1e-5);
    });
  });
});
