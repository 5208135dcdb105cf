/**
 * First-order Taylor importance (Molchanov et al. 2017, 2019): the loss change when a weight is
 * removed (set to 0) is, to first order, ΔL ≈ −θ·g, so
 *   I = |θ ⊙ ḡ|,   ḡ = ∂/∂θ mean_n −log p(y_n | x_n, θ)
 * with ḡ the gradient of the mean cross-entropy over the whole calibration set (true labels,
 * inference mode), summed batch by batch so the result does not depend on `batchSize`.
 *
 * `signed: true` returns θ ⊙ ḡ without the absolute value: the removal of a group S of weights
 * together changes the loss by ≈ −Σ_{s∈S} θ_s·ḡ_s, and the group's Taylor score is |Σ_S θ·ḡ|
 * (Molchanov 2019, eq. 8, squared there, which ranks the same), not Σ_S |θ·ḡ|. Structural pruning
 * reduces a signed map so (`reduce: 'abs-sum'`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type DataSource, type Model, type ParamMap, assertFinite, disposeParams, withLightSaves } from '@forgetless/core';
import { negLogLikelihood } from './fisher.js';
import { forwardLogits } from './logits.js';
import { RunningSum } from './running-sum.js';
import { type BatchingOptions, checkBatching, checkSource, forEachBatch } from './source.js';
import { checkMaxBatchElements, sumOverSubBatches } from './sub-batches.js';

export interface TaylorOptions extends BatchingOptions {
  /** Task-incremental class mask: log-probabilities over these classes only. */
  classes?: readonly number[];
  /** θ ⊙ ḡ with its sign, for group scores |Σ θ·ḡ| (default false: |θ ⊙ ḡ|). */
  signed?: boolean;
}

/** Σ_n ∂(−log p(y_n|x_n))/∂θ over one batch, for every parameter (zeros where no gradient flows). */
function batchGradientSum(model: Model, x: tf.Tensor, y: tf.Tensor1D, classes: readonly number[] | undefined): ParamMap {
  return tf.tidy(() => {
    const names = Object.keys(model.params);
    const vars = Object.values(model.params);
    const n = y.shape[0];
    const objective = negLogLikelihood(y, classes);
    const { value, grads } = withLightSaves(() => tf.variableGrads(() => tf.sum(objective(forwardLogits(model, x), { begin: 0, size: n })) as tf.Scalar, vars));
    value.dispose();
    const out: ParamMap = {};
    names.forEach((name, i) => {
      const v = vars[i] as tf.Variable;
      out[name] = grads[v.name] ?? tf.zerosLike(v);
    });
    return out;
  });
}

/** Taylor importances |θ ⊙ ḡ| (or θ ⊙ ḡ with `signed`) of `model` on `source`, shaped like `model.params`. */
export async function taylor(model: Model, source: DataSource, options: TaylorOptions = {}): Promise<ParamMap> {
  const what = 'taylor';
  checkBatching(what, options);
  checkSource(what, model, source, { labels: true });
  if (options.signed !== undefined && typeof options.signed !== 'boolean') throw new Error(`${what}: signed must be true or false, got ${String(options.signed)}`);
  const { classes } = options;
  const sum = new RunningSum();
  let gbar: ParamMap | undefined;
  try {
    const maxBatch = checkMaxBatchElements(what, options.maxBatchElements);
    const count = await forEachBatch(what, source, options, ({ x, y }) =>
      sum.add(sumOverSubBatches(model, x, y, maxBatch, (xs, ys) => batchGradientSum(model, xs, ys as tf.Tensor1D, classes))),
    );
    gbar = sum.mean(count, what);
    const g = gbar;
    const out = tf.tidy(() => {
      const m: ParamMap = {};
      for (const [name, v] of Object.entries(model.params)) {
        const p = tf.mul(v, g[name] as tf.Tensor);
        m[name] = options.signed ? p : tf.abs(p);
      }
      return m;
    });
    try {
      await assertFinite(out, what);
    } catch (e) {
      disposeParams(out);
      throw e;
    }
    return out;
  } finally {
    sum.dispose();
    disposeParams(gbar);
  }
}
