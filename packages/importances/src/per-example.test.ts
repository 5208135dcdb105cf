import * as tf from '@tensorflow/tfjs-core';
import {
  type ApplyContext,
  type Layer,
  type LayerConfig,
  type Rng,
  type Sequential,
  DepthwiseConv2d,
  SeparableConv2d,
  conv2d,
  dense,
  disposeParams,
  flatten,
  sequential,
  toVariable,
  withConvFormulation,
} from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { allOf, convNet, denseBnNet, mlpNet, randomSource } from '../test/nets.js';
import { negLogLikelihood } from './fisher.js';
import { loopSums } from './loop.js';
import { masObjective } from './mas.js';
import { type ExampleObjective, type PerExampleOptions, type SumsRequest, hasFastPath, perExampleSums } from './per-example.js';

const TOL = 1e-5;

/** Fast sums against the per-example autograd loop, for every parameter and both statistics. */
function compare(
  model: Sequential,
  n: number,
  objective: (y: tf.Tensor1D) => ExampleObjective,
  request: Omit<SumsRequest, 'weights'> & { weighted?: boolean },
  options: PerExampleOptions = {},
): number {
  const src = randomSource(n, model.inputShape, model.numClasses, 7);
  const { x, y } = allOf(src);
  const weights = request.weighted ? (tf.randomUniform([n], 0, 1, 'float32', 3) as tf.Tensor1D) : undefined;
  const req: SumsRequest = { ...(request.square ? { square: true } : {}), ...(request.abs ? { abs: true } : {}), ...(weights ? { weights } : {}) };
  const fast = perExampleSums(model, x, objective(y), req, options);
  const loop = loopSums(model, x, objective(y), req);
  let worst = 0;
  for (const stat of ['square', 'abs'] as const) {
    const f = fast[stat];
    const l = loop[stat];
    expect(f === undefined).toBe(!request[stat]);
    if (!f || !l) continue;
    expect(Object.keys(f)).toEqual(Object.keys(model.params));
    for (const name of Object.keys(model.params)) {
      expect(f[name]?.shape, name).toEqual(model.params[name]?.shape);
      const e = relErr(f[name] as tf.Tensor, l[name] as tf.Tensor);
      expect(e, `${stat} ${name}`).toBeLessThanOrEqual(TOL);
      // a non-trivial reference: something was actually summed
      expect(tf.max(l[name] as tf.Tensor).dataSync()[0], `${stat} ${name} is all zero`).toBeGreaterThan(0);
      worst = Math.max(worst, e);
    }
  }
  disposeParams(fast.square);
  disposeParams(fast.abs);
  disposeParams(loop.square);
  disposeParams(loop.abs);
  tf.dispose([x, y]);
  weights?.dispose();
  return worst;
}

const nll = (classes?: number[]) => (y: tf.Tensor1D) => negLogLikelihood(y, classes);
const masSoftmax = () => masObjective('softmax', undefined);
const masLogits = () => masObjective('logits', undefined);

describe('perExampleSums (fast) against the per-example autograd loop', () => {
  it.each(['relu', 'leakyRelu', 'tanh', 'sigmoid'] as const)('dense MLP with %s: Fisher squares, MAS absolutes, weighted squares', (act) => {
    const model = mlpNet(act, 3);
    compare(model, 12, nll(), { square: true, abs: true });
    compare(model, 12, masSoftmax, { abs: true });
    compare(model, 12, masLogits, { square: true, abs: true });
    compare(model, 12, nll(), { square: true, abs: true, weighted: true });
    model.dispose();
  });

  it('dense → batchNorm (inference) → tanh → dense', () => {
    const model = denseBnNet(2);
    compare(model, 10, nll(), { square: true, abs: true });
    compare(model, 10, masSoftmax, { square: true, abs: true, weighted: true });
    model.dispose();
  });

  it.each(['strided-same', 'valid-pool'] as const)('conv net (%s) with batchNorm and pooling', (kind) => {
    const model = convNet(kind, 4);
    compare(model, 9, nll(), { square: true, abs: true });
    compare(model, 9, masLogits, { square: true, abs: true, weighted: true });
    model.dispose();
  });

  it.each(['auto', 'im2col', 'forward-conv'] as const)('conv kernels under the %s formulation: strides, dilation, same/valid, odd sizes, in chunks', (formulation) => {
    const model = sequential(
      [
        conv2d(5, 3, { stride: 2, padding: 'same', activation: 'tanh' }),
        conv2d(9, [3, 2], { dilation: [2, 1], padding: 'valid', activation: 'relu' }),
        conv2d(4, 1, { padding: 'same' }),
        conv2d(3, [2, 3], { stride: [1, 2], padding: 'same', activation: 'tanh' }),
        flatten(),
        dense(3),
      ],
      { inputShape: [11, 9, 2], seed: 3 },
    );
    withConvFormulation(formulation, () => {
      compare(model, 5, nll(), { square: true, abs: true });
      compare(model, 3, masSoftmax, { square: true, abs: true }, { maxChunkElements: 900 });
    });
    model.dispose();
  });

  it.each(['auto', 'im2col', 'forward-conv'] as const)('depthwise and separable kernels under the %s formulation: multipliers, strides, dilation, in chunks', (formulation) => {
    const model = sequential(
      [
        new DepthwiseConv2d({ kernelSize: 3, stride: 2, padding: 'same', activation: 'tanh' }),
        new DepthwiseConv2d({ kernelSize: [3, 2], dilation: [2, 1], padding: 'valid' }),
        new DepthwiseConv2d({ kernelSize: 2, depthMultiplier: 2, padding: 'same', activation: 'relu' }),
        new SeparableConv2d({ filters: 4, kernelSize: 3, stride: [1, 2], padding: 'same', activation: 'tanh' }),
        flatten(),
        dense(3),
      ],
      { inputShape: [11, 9, 3], seed: 4 },
    );
    withConvFormulation(formulation, () => {
      compare(model, 5, nll(), { square: true, abs: true });
      compare(model, 3, masSoftmax, { square: true, abs: true }, { maxChunkElements: 700 });
    });
    model.dispose();
  });

  it('conv per-example gradients in chunks of one example give the same sums', () => {
    const model = convNet('strided-same', 5);
    compare(model, 7, masSoftmax, { square: true, abs: true }, { maxChunkElements: 1 });
    model.dispose();
  });

  it('splits a batch whose layer outputs exceed maxBatchElements into sub-batches: the sums of the loop (weighted too, a class mask too), at a lower peak', async () => {
    const model = convNet('strided-same', 5);
    const ex = model.inputShape as number[];
    const perExample = tf.util.sizeFromShape(ex) + Object.values(model.layerShapes(ex)).reduce((s, l) => s + tf.util.sizeFromShape(l.output), 0);
    // 3 examples a pass: sub-batches of 3, 3 and 1
    const maxBatchElements = 3 * perExample + 1;
    compare(model, 7, nll(), { square: true, abs: true, weighted: true }, { maxBatchElements });
    compare(model, 7, nll([1, 3]), { square: true }, { maxBatchElements });
    compare(model, 5, masSoftmax, { abs: true }, { maxBatchElements: 1 }); // one example a pass
    // the peak of tensor memory during the call, split and whole
    const { x, y } = allOf(randomSource(12, ex, model.numClasses, 3));
    const peak = async (opts: PerExampleOptions) => {
      let s: ReturnType<typeof perExampleSums> = {};
      const p = await tf.profile(() => {
        s = perExampleSums(model, x, negLogLikelihood(y, undefined), { square: true }, opts);
        return [];
      });
      const sums = s.square as Record<string, tf.Tensor>;
      return { bytes: p.peakBytes, sums };
    };
    await expectNoLeak(async () => {
      const whole = await peak({});
      const split = await peak({ maxBatchElements: 2 * perExample });
      expect(split.bytes).toBeLessThan(0.5 * whole.bytes);
      for (const [name, t] of Object.entries(whole.sums)) expect(relErr(split.sums[name] as tf.Tensor, t), name).toBeLessThanOrEqual(1e-6);
      disposeParams(whole.sums);
      disposeParams(split.sums);
    });
    expect(() => perExampleSums(model, x, negLogLikelihood(y, undefined), { square: true }, { maxBatchElements: 0 })).toThrow(
      'perExampleSums: maxBatchElements must be >= 1, got 0',
    );
    tf.dispose([x, y]);
    model.dispose();
  });

  it('respects a class mask in the objective', () => {
    const model = mlpNet('relu', 6);
    compare(model, 8, nll([0, 2]), { square: true });
    model.dispose();
  });

  it('falls back to the loop for a layer kind without a fast path', () => {
    const model = sequential([dense(5, { activation: 'tanh' }), new Scale(), dense(3)], { inputShape: [4], seed: 2 });
    expect(model.parametricLayers.map(hasFastPath)).toEqual([true, false, true]);
    compare(model, 6, nll(), { square: true, abs: true });
    model.dispose();
  });

  it('leaves no tensors behind', async () => {
    const model = convNet('valid-pool', 1);
    const { x, y } = allOf(randomSource(5, model.inputShape, 4));
    await expectNoLeak(() => {
      const s = perExampleSums(model, x, negLogLikelihood(y, undefined), { square: true, abs: true }, { maxChunkElements: 500 });
      disposeParams(s.square);
      disposeParams(s.abs);
      const l = loopSums(model, x, negLogLikelihood(y, undefined), { square: true });
      disposeParams(l.square);
    });
    tf.dispose([x, y]);
    model.dispose();
  });

  it('rejects a request for nothing and mis-shaped weights', () => {
    const model = mlpNet('relu');
    const { x, y } = allOf(randomSource(4, [5], 4));
    expect(() => perExampleSums(model, x, negLogLikelihood(y, undefined), {})).toThrow(/square and\/or abs/);
    const w = tf.ones([3]) as tf.Tensor1D;
    expect(() => perExampleSums(model, x, negLogLikelihood(y, undefined), { square: true, weights: w })).toThrow(/weights must have shape \[4\]/);
    tf.dispose([x, y, w]);
    model.dispose();
  });
});

/** A parametric layer kind with no fast path: y = x ⊙ s (per-feature scale). */
class Scale implements Layer {
  readonly kind = 'scale' as never;
  name = 'scale';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  build(inputShape: readonly number[], rng: Rng): number[] {
    this.params.scale = toVariable(tf.tensor1d(Array.from({ length: inputShape[0] as number }, () => 1 + rng.normal() * 0.5)), true);
    return [...inputShape];
  }
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const y = tf.mul(x, this.params.scale as tf.Variable);
    if (ctx.capture) ctx.capture[this.name] = { input: x, preActivation: y, output: y };
    return y;
  }
  config(): LayerConfig {
    return { kind: 'scale' as never };
  }
}
