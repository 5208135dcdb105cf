import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import './gradients.js';
import { growHead } from './head.js';
import { mlp } from './presets.js';

describe('growHead', () => {
  it('adds output units; the old units keep their weights bitwise and their logits', () => {
    const model = mlp([8, 6, 4], { seed: 2 });
    const x = tf.randomNormal([5, 8], 0, 1, 'float32', 3);
    const before = tf.memory().numTensors;
    const grown = growHead(model, 7);
    expect(grown.numClasses).toBe(7);
    const k0 = model.params['dense_1/kernel'] as tf.Tensor;
    const k1 = grown.params['dense_1/kernel'] as tf.Tensor;
    expect(k1.shape).toEqual([6, 7]);
    const a = k0.arraySync() as number[][];
    const b = k1.arraySync() as number[][];
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 4; j++) expect(Object.is(b[i]?.[j], a[i]?.[j])).toBe(true);
      for (let j = 4; j < 7; j++) expect(b[i]?.[j]).toBe(0);
    }
    expect(Array.from((grown.params['dense_0/kernel'] as tf.Tensor).dataSync())).toEqual(Array.from((model.params['dense_0/kernel'] as tf.Tensor).dataSync()));
    const l0 = tf.tidy(() => model.logits(x).arraySync()) as number[][];
    const l1 = tf.tidy(() => grown.logits(x).arraySync()) as number[][];
    for (let n = 0; n < 5; n++) for (let j = 0; j < 4; j++) expect(l1[n]?.[j]).toBeCloseTo(l0[n]?.[j] as number, 6);
    expect(() => growHead(model, 4)).toThrow(/above the head's 4/);
    grown.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});
