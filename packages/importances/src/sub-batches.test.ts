import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { avgPool2d, batchNorm, conv2d, dense, flatten, sequential } from '@forgetless/core';
import { allOf, convNet, randomSource, randomizeState } from '../test/nets.js';
import { type FisherVariant, fisherDiagonal } from './fisher.js';
import { mas } from './mas.js';
import { sig } from './sig.js';
import { exampleElements, sumOverSubBatches } from './sub-batches.js';
import { taylor } from './taylor.js';

type Run = (maxBatchElements?: number) => Promise<ParamMap>;

describe('importances by sub-batches (maxBatchElements)', () => {
  it('every data-driven importance gives the whole batch’s values when the batch runs 3 examples a pass, at a lower peak of tensor memory, leaking nothing', async () => {
    // wide activations and few weights, so the layer outputs, not the sums, make the peak
    const model = sequential(
      [
        conv2d(8, 3, { padding: 'same', activation: 'relu' }),
        batchNorm(),
        conv2d(8, 3, { stride: 2, padding: 'same', activation: 'tanh' }),
        avgPool2d({ poolSize: 4 }),
        flatten(),
        dense(4),
      ],
      { inputShape: [16, 16, 3], seed: 3 },
    );
    randomizeState(model, 4);
    const source = randomSource(8, model.inputShape as number[], model.numClasses, 5);
    // 3 examples' input and layer outputs a pass: sub-batches of 3, 3 and 2
    const three = 3 * exampleElements(model, model.inputShape as number[]) + 1;
    const opts = (maxBatchElements?: number) => ({ batchSize: 8, ...(maxBatchElements ? { maxBatchElements } : {}) });
    const fisher =
      (variant: FisherVariant): Run =>
      (m) =>
        fisherDiagonal(model, source, { ...opts(m), variant, seed: 2 });
    const runs: Record<string, Run> = {
      'fisher empirical': fisher('empirical'),
      'fisher true': fisher('true'),
      'fisher exact': fisher('exact'),
      'fisher batched': fisher('batched'),
      'mas softmax': (m) => mas(model, source, opts(m)),
      sig: (m) => sig(model, source, opts(m)),
      taylor: (m) => taylor(model, source, opts(m)),
    };
    await expectNoLeak(async () => {
      for (const [what, run] of Object.entries(runs)) {
        let whole: ParamMap = {};
        let split: ParamMap = {};
        // tf.profile returns the engine's one profile object: read each peak before the next profile
        const wholePeak = (
          await tf.profile(async () => {
            whole = await run();
            return [];
          })
        ).peakBytes;
        const splitPeak = (
          await tf.profile(async () => {
            split = await run(three);
            return [];
          })
        ).peakBytes;
        expect(Object.keys(split), what).toEqual(Object.keys(model.params));
        for (const [name, t] of Object.entries(whole)) {
          expect(relErr(split[name] as tf.Tensor, t), `${what} ${name}`).toBeLessThanOrEqual(2e-6);
          // a real comparison: something was summed
          expect(
            tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0]),
            `${what} ${name} is all zero`,
          ).toBeGreaterThan(0);
        }
        expect(splitPeak, what).toBeLessThan(0.6 * wholePeak);
        disposeParams(whole);
        disposeParams(split);
      }
    });
    model.dispose();
  });

  it('a sub-batch that fails leaves no tensor behind: the sums of the ones before it are released', async () => {
    // (a failure inside the forward pass of `tf.grads` leaves the tensors its tape saved: tfjs's engine, not these sums)
    const model = convNet('strided-same', 2);
    const { x, y } = allOf(randomSource(7, model.inputShape as number[], model.numClasses, 3));
    const two = 2 * exampleElements(model, model.inputShape as number[]);
    await expectNoLeak(() => {
      let calls = 0;
      expect(() =>
        sumOverSubBatches(model, x, y, two, (xs) => {
          if (++calls === 3) throw new Error('sub-batch failed');
          return { s: tf.sum(xs) } as ParamMap;
        }),
      ).toThrow('sub-batch failed');
      expect(calls).toBe(3);
    });
    tf.dispose([x, y]);
    model.dispose();
  });

  it('rejects a maxBatchElements below 1 before reading any data, naming the function', async () => {
    const model = convNet('valid-pool', 1);
    const source = randomSource(4, model.inputShape as number[], model.numClasses);
    let read = 0;
    const counting = {
      ...source,
      exampleShape: source.exampleShape,
      numClasses: source.numClasses,
      size: source.size,
      batches: (...a: Parameters<typeof source.batches>) => {
        read++;
        return source.batches(...a);
      },
    };
    await expect(fisherDiagonal(model, counting, { maxBatchElements: 0 })).rejects.toThrow('fisherDiagonal: maxBatchElements must be >= 1, got 0');
    await expect(sig(model, counting, { maxBatchElements: -3 })).rejects.toThrow('sig: maxBatchElements must be >= 1, got -3');
    await expect(taylor(model, counting, { maxBatchElements: Number.NaN })).rejects.toThrow('taylor: maxBatchElements must be >= 1, got NaN');
    await expect(mas(model, counting, { maxBatchElements: 0.5 })).rejects.toThrow('mas: maxBatchElements must be >= 1, got 0.5');
    expect(read).toBe(0);
    model.dispose();
  });
});
