// Helpers shared by the tests of every package.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/** max |a − b| / max(max |b|, tiny): the relative error of a against a reference b. */
export function relErr(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const x = a instanceof tf.Tensor ? a.dataSync() : a;
  const y = b instanceof tf.Tensor ? b.dataSync() : b;
  if (x.length !== y.length) throw new Error(`relErr: lengths differ (${x.length} vs ${y.length})`);
  let num = 0;
  let den = 1e-30;
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs((x[i] as number) - (y[i] as number)));
    den = Math.max(den, Math.abs(y[i] as number));
  }
  return num / den;
}

/** Runs fn and asserts tf.memory().numTensors is the same before and after. */
export async function expectNoLeak<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  expect(tf.memory().numTensors, 'tensors leaked').toBe(before);
  return out;
}
