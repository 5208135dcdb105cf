/**
 * The Fisher information diagonal (EWC, Kirkpatrick et al. 2017), FIS in the papers:
 *   F = mean_n (∂ log p(y_n | x_n, θ) / ∂θ)²
 * over a closing set, for every trainable parameter. Variants differ in y:
 * - `empirical`: the true label (the papers' and most EWC code's choice);
 * - `true`: y drawn from the model's softmax p(·|x_n) (seeded), the Fisher proper, one sample;
 * - `exact`: the expectation over all classes, Σ_k p(k|x_n)·(∂ log p(k|x_n)/∂θ)² (K backward passes);
 * - `batched`: mean over minibatches of (∂ mean-batch loss/∂θ)², what Avalanche and FACIL compute.
 *   It is NOT the Fisher diagonal (cross-example terms do not cancel) and depends on the batch size.
 * Exact per-example squares come from one backward pass per batch (`per-example.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DataSource, type ParamMap, Rng, type Model, assertFinite, disposeParams, mapParams, maskLogits, softmaxCrossEntropy, withLightSaves } from '@forgetless/core';
import { forwardLogits } from './logits.js';
import { loopSums } from './loop.js';
import { type ExampleObjective, type PerExampleOptions, type SumsRequest, perExampleSums } from './per-example.js';
import { checkMaxBatchElements, reduceSubBatches, subBatchSize, sumOverSubBatches } from './sub-batches.js';
import { RunningSum } from './running-sum.js';
import { type BatchingOptions, checkBatching, checkSource, forEachBatch } from './source.js';

export type FisherVariant = 'empirical' | 'true' | 'exact' | 'batched';
export const FISHER_VARIANTS: readonly FisherVariant[] = ['empirical', 'true', 'exact', 'batched'];

/** 'fast': the per-example trick (default); 'loop': one backward pass per example (the reference). */
export type GradientPath = 'fast' | 'loop';

export interface FisherOptions extends BatchingOptions, PerExampleOptions {
  variant?: FisherVariant;
  /** Task-incremental class mask: log-probabilities over these classes only. */
  classes?: readonly number[];
  /** Seed of the label sampling of the `true` variant (default 0). */
  seed?: number;
  path?: GradientPath;
}

/** −log softmax(z)_y per example, labels sliced to the rows asked for. */
export function negLogLikelihood(labels: tf.Tensor1D, classes: readonly number[] | undefined): ExampleObjective {
  return (logits, rows) => {
    const y = rows.size === labels.shape[0] ? labels : tf.slice(labels, rows.begin, rows.size);
    const logp = tf.logSoftmax(maskLogits(logits, classes));
    return tf.neg(tf.sum(tf.mul(tf.oneHot(y, logits.shape[1] as number), logp), -1));
  };
}

/** Class probabilities [n, K] under the class mask, inference mode; by sub-batches over `maxBatch` (`sub-batches.ts`). */
function probabilities(model: Model, x: tf.Tensor, classes: readonly number[] | undefined, maxBatch: number): tf.Tensor2D {
  return reduceSubBatches(
    model,
    [x],
    maxBatch,
    ([xs]) => tf.tidy(() => tf.softmax(maskLogits(forwardLogits(model, xs as tf.Tensor), classes)) as tf.Tensor2D),
    (a, b) => {
      const ab = tf.concat([a, b]) as tf.Tensor2D;
      tf.dispose([a, b]);
      return ab;
    },
    (t) => t.dispose(),
  );
}

/** One label per row drawn from the rows of `p` [n, K] with `rng`. */
export function sampleLabels(p: Float32Array, k: number, rng: Rng): Int32Array {
  const n = p.length / k;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    let acc = 0;
    let label = -1;
    for (let j = 0; j < k; j++) {
      const pj = p[i * k + j] as number;
      if (pj > 0) label = j; // the last class with mass, in case rounding leaves acc < u
      acc += pj;
      if (u < acc) break;
    }
    y[i] = label;
  }
  return y;
}

export function checkVariant(variant: unknown, what = 'fisherDiagonal'): FisherVariant {
  if (!FISHER_VARIANTS.includes(variant as FisherVariant)) {
    throw new Error(`${what}: unknown variant '${String(variant)}' (expected one of ${FISHER_VARIANTS.join(', ')})`);
  }
  return variant as FisherVariant;
}

export function checkPath(path: unknown, what: string): GradientPath {
  if (path !== 'fast' && path !== 'loop') throw new Error(`${what}: path must be 'fast' or 'loop', got '${String(path)}'`);
  return path;
}

/**
 * The gradient of the cross-entropy's mean over the batch, times `scale` (zeros where no gradient
 * flows), for every parameter.
 */
function meanGradient(model: Model, x: tf.Tensor, y: tf.Tensor1D, classes: readonly number[] | undefined, scale = 1): ParamMap {
  return tf.tidy(() => {
    const names = Object.keys(model.params);
    const vars = Object.values(model.params);
    const { value, grads } = withLightSaves(() =>
      tf.variableGrads(() => {
        const ce = softmaxCrossEntropy(forwardLogits(model, x), y, classes);
        return scale === 1 ? ce : tf.mul(ce, scale);
      }, vars),
    );
    value.dispose();
    const out: ParamMap = {};
    names.forEach((name, i) => {
      const v = vars[i] as tf.Variable;
      out[name] = grads[v.name] ?? tf.zerosLike(v);
    });
    return out;
  });
}

/**
 * Squared minibatch-mean gradient of the cross-entropy (the `batched` variant's per-batch term); a
 * batch over `maxBatch` (`sub-batches.ts`) takes it as Σ over sub-batches of their sums' gradients,
 * divided by the batch size, then squared.
 */
function squaredBatchGradient(model: Model, x: tf.Tensor, y: tf.Tensor1D, classes: readonly number[] | undefined, maxBatch: number): ParamMap {
  const whole = subBatchSize(model, x, maxBatch) >= y.shape[0];
  const g = whole
    ? meanGradient(model, x, y, classes)
    : sumOverSubBatches(model, x, y, maxBatch, (xs, ys) => meanGradient(model, xs, ys as tf.Tensor1D, classes, ys?.shape[0] ?? 1));
  // the sub-batches' sums over the batch size; a whole batch's gradient is already its mean's
  const s = whole ? 1 : 1 / y.shape[0];
  const out = tf.tidy(() => mapParams(g, (t) => tf.square(s === 1 ? t : tf.mul(t, s))));
  disposeParams(g);
  return out;
}

/**
 * Fisher diagonal of `model` on `source` (inference mode), as a map shaped like `model.params`:
 * the mean over examples of per-example squared gradients of log p(y|x) (see the module comment).
 * `limit`: at most this many examples; `batchSize` bounds memory (default 100).
 */
export async function fisherDiagonal(model: Model, source: DataSource, options: FisherOptions = {}): Promise<ParamMap> {
  const what = 'fisherDiagonal';
  const variant = checkVariant(options.variant ?? 'empirical');
  const path = checkPath(options.path ?? 'fast', what);
  checkBatching(what, options);
  checkSource(what, model, source, { labels: variant === 'empirical' || variant === 'batched' });
  const { classes } = options;
  const rng = new Rng(options.seed ?? 0);
  const k = model.numClasses;
  const kept = classes ? [...classes] : Array.from({ length: k }, (_, j) => j);
  const maxBatch = checkMaxBatchElements(what, options.maxBatchElements);
  const engine = (x: tf.Tensor, objective: ExampleObjective, request: SumsRequest): ParamMap =>
    (path === 'fast' ? perExampleSums(model, x, objective, request, options) : loopSums(model, x, objective, request)).square as ParamMap;
  const sum = new RunningSum();
  let batches = 0;
  try {
    const count = await forEachBatch(what, source, options, async ({ x, y }) => {
      batches++;
      if (variant === 'batched') {
        sum.add(squaredBatchGradient(model, x, y, classes, maxBatch));
      } else if (variant === 'empirical') {
        sum.add(engine(x, negLogLikelihood(y, classes), { square: true }));
      } else if (variant === 'true') {
        const p = probabilities(model, x, classes, maxBatch);
        const data = (await p.data()) as Float32Array;
        p.dispose();
        const sampled = tf.tensor1d(sampleLabels(data, k, rng), 'int32');
        try {
          sum.add(engine(x, negLogLikelihood(sampled, classes), { square: true }));
        } finally {
          sampled.dispose();
        }
      } else {
        const p = probabilities(model, x, classes, maxBatch);
        const n = x.shape[0] as number;
        try {
          for (const c of kept) {
            const [label, weights] = tf.tidy(() => [tf.fill([n], c, 'int32') as tf.Tensor1D, tf.reshape(tf.slice(p, [0, c], [n, 1]), [n]) as tf.Tensor1D]);
            try {
              sum.add(engine(x, negLogLikelihood(label as tf.Tensor1D, classes), { square: true, weights: weights as tf.Tensor1D }));
            } finally {
              tf.dispose([label as tf.Tensor, weights as tf.Tensor]);
            }
          }
        } finally {
          p.dispose();
        }
      }
    });
    const fisher = sum.mean(variant === 'batched' ? batches : count, what);
    try {
      await assertFinite(fisher, what);
    } catch (e) {
      disposeParams(fisher);
      throw e;
    }
    return fisher;
  } finally {
    sum.dispose();
  }
}
