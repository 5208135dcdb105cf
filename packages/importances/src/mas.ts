/**
 * Memory Aware Synapses (Aljundi et al. 2018):
 *   Ω = mean_n |∂ F(x_n) / ∂θ|
 * with F(x) = Σ_k softmax_k(x)² (`output: 'softmax'`, the papers' form, default) or
 * F(x) = Σ_k z_k(x)², the squared L2 norm of the raw outputs (`output: 'logits'`, Aljundi's form).
 * A per-example absolute value, computed exactly from one backward pass per batch (`per-example.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DataSource, type ParamMap, type Model, assertFinite, disposeParams, maskLogits } from '@forgetless/core';
import { type GradientPath, checkPath } from './fisher.js';
import { loopSums } from './loop.js';
import { type ExampleObjective, type PerExampleOptions, perExampleSums } from './per-example.js';
import { RunningSum } from './running-sum.js';
import { type BatchingOptions, checkBatching, checkSource, forEachBatch } from './source.js';

export type MasOutput = 'softmax' | 'logits';

export interface MasOptions extends BatchingOptions, PerExampleOptions {
  output?: MasOutput;
  /** Task-incremental class mask: softmax over, or logits of, these classes only. */
  classes?: readonly number[];
  path?: GradientPath;
}

/** F(x) per example: Σ_k softmax_k² or Σ_k z_k² (over `classes` if given). */
export function masObjective(output: MasOutput, classes: readonly number[] | undefined): ExampleObjective {
  return (logits) => {
    if (output === 'softmax') return tf.sum(tf.square(tf.softmax(maskLogits(logits, classes))), -1);
    if (!classes) return tf.sum(tf.square(logits), -1);
    const k = logits.shape[1] as number;
    const m = new Float32Array(k);
    for (const c of classes) {
      if (!Number.isInteger(c) || c < 0 || c >= k) throw new Error(`class mask: class ${c} is out of range [0, ${k})`);
      m[c] = 1;
    }
    return tf.sum(tf.mul(tf.square(logits), tf.tensor1d(m)), -1);
  };
}

/** MAS importances of `model` on `source` (inference mode), shaped like `model.params`. */
export async function mas(model: Model, source: DataSource, options: MasOptions = {}): Promise<ParamMap> {
  const what = 'mas';
  const output = options.output ?? 'softmax';
  if (output !== 'softmax' && output !== 'logits') throw new Error(`mas: output must be 'softmax' or 'logits', got '${String(output)}'`);
  const path = checkPath(options.path ?? 'fast', what);
  checkBatching(what, options);
  checkSource(what, model, source);
  const objective = masObjective(output, options.classes);
  const sum = new RunningSum();
  try {
    const count = await forEachBatch(what, source, options, ({ x }) => {
      const sums = path === 'fast' ? perExampleSums(model, x, objective, { abs: true }, options) : loopSums(model, x, objective, { abs: true });
      sum.add(sums.abs as ParamMap);
    });
    const omega = sum.mean(count, what);
    try {
      await assertFinite(omega, what);
    } catch (e) {
      disposeParams(omega);
      throw e;
    }
    return omega;
  } finally {
    sum.dispose();
  }
}
