/**
 * Pruning masks as a transformation: pruned entries (mask 0) get zero gradient and zero step, so a
 * weight the pruning package set to zero stays exactly zero through any optimizer, momentum and
 * adaptive moments included (the gradient mask keeps the moments clean; the step mask makes it exact
 * even when the optimizer carries moments from before pruning).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, type TrainContext, assertSameShape, disposeParams } from '@forgetless/core';
import { type Transform, scaleEntries } from './transform.js';

export interface MaskedTransform extends Transform {
  /** The masks in use (float32 0/1), by parameter name. */
  readonly masks: ParamMap;
  transformGradients(grads: ParamMap): ParamMap;
  transformStep(delta: ParamMap): ParamMap;
  /** As a trainContinual plugin: checks the masks' names and shapes against the model. */
  beforeTask(ctx: TrainContext): void;
  /** Frees the float32 copies made of masks given in another dtype (the caller's masks are not touched). */
  dispose(): void;
}

/** Throws, naming the parameter, unless every mask names a parameter of `params` and has its shape. */
export function checkMasks(masks: ParamMap, params: ParamMap, what = 'masked'): void {
  for (const [name, m] of Object.entries(masks)) {
    const p = params[name];
    if (!p) throw new Error(`${what}: mask given for '${name}', which is not a parameter of the model (known: ${Object.keys(params).join(', ')})`);
    assertSameShape(p, m, name, `${what} (mask)`);
  }
}

/**
 * g ← m ⊙ g and Δθ ← m ⊙ Δθ, m ∈ {0, 1} per entry; a missing name is unmasked. The masks are read at
 * each step and not copied (float32 masks are used as given: keep them alive while training).
 * Throws, naming the parameter, on mask values other than 0 and 1.
 */
export function masked(masks: ParamMap): MaskedTransform {
  const what = 'masked';
  const names = Object.keys(masks);
  const owned: ParamMap = {};
  const use: ParamMap = {};
  for (const name of names) {
    const m = masks[name] as tf.Tensor;
    if (m.isDisposed) throw new Error(`${what}: the mask of '${name}' is disposed`);
    use[name] = m.dtype === 'float32' ? m : (owned[name] = tf.cast(m, 'float32'));
  }
  const flags = tf.tidy(() =>
    names.length === 0
      ? tf.zeros([0])
      : tf.stack(names.map((n) => tf.cast(tf.any(tf.logicalAnd(tf.notEqual(use[n] as tf.Tensor, 0), tf.notEqual(use[n] as tf.Tensor, 1))), 'float32'))),
  );
  const bad = flags.dataSync();
  flags.dispose();
  const i = bad.findIndex((f) => f !== 0);
  if (i >= 0) {
    disposeParams(owned);
    throw new Error(`${what}: the mask of '${names[i]}' has values other than 0 and 1`);
  }
  return {
    name: 'masked',
    elementwise: true,
    masks: use,
    transformGradients: (grads) => scaleEntries(grads, use, `${what} (gradient)`),
    transformStep: (delta) => scaleEntries(delta, use, `${what} (step)`),
    beforeTask: (ctx) => checkMasks(use, ctx.model.params, what),
    dispose: () => disposeParams(owned),
  };
}
