/**
 * The one small shape of forgetless's optimizer transformations (after optax's GradientTransformation):
 * a map of gradients in, a map of gradients out (`transformGradients`), or the step the optimizer
 * took in, the step to keep out (`transformStep`). Maps are keyed by parameter name. A Transform is
 * a core `Plugin` as it stands (trainContinual applies it in plugin order), and `withTransforms`
 * applies a list of them around any tf.Optimizer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, assertSameShape } from '@forgetless/core';

export interface Transform {
  readonly name: string;
  /** g → g′: what the optimizer will see. Returns its input, or a map sharing the untouched tensors. */
  transformGradients?(grads: ParamMap): ParamMap;
  /** Δθ → Δθ′, with Δθ = θ_after − θ_before of an unmodified optimizer step; θ ← θ_before + Δθ′. */
  transformStep?(delta: ParamMap): ParamMap;
  /** Acts on each parameter on its own, so it may be applied one parameter at a time (lower peak memory). */
  readonly elementwise?: boolean;
}

/**
 * x ⊙ s per entry for the names `scales` holds; the other tensors of `map` are passed on as they are
 * (the same tensor objects, so nothing downstream re-assigns them). Shapes are checked by name.
 */
export function scaleEntries(map: ParamMap, scales: ParamMap, what: string): ParamMap {
  let out: ParamMap | undefined;
  for (const name of Object.keys(map)) {
    const s = scales[name];
    if (!s) continue;
    const x = map[name] as tf.Tensor;
    assertSameShape(s, x, name, what);
    out ??= { ...map };
    out[name] = tf.mul(x, s);
  }
  return out ?? map;
}
