/**
 * The model's logits for a batch, whatever its last layer: importances differentiate functions of
 * the logits (log-softmax for Fisher, softmax or raw outputs for MAS), so a model that ends in a
 * softmax gives back the pre-activation of its last parametric layer instead of probabilities.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayerCapture, Sequential } from '@forgetless/core';

/** True if the model's output is probabilities (a softmax after its last parametric layer). */
export function endsInSoftmax(model: Sequential): boolean {
  const last = model.parametricLayers.at(-1);
  if (!last) return false;
  const after = model.layers.slice(model.layers.indexOf(last));
  return after.some((l) => l.activation?.name === 'softmax');
}

/**
 * Forward pass in inference mode returning logits [n, K]. `capture` and `taps` are passed to
 * `model.apply`; a capture is made internally when the model ends in a softmax.
 */
export function forwardLogits(
  model: Sequential,
  x: tf.Tensor,
  options: { capture?: Record<string, LayerCapture>; taps?: Record<string, tf.Tensor> } = {},
): tf.Tensor {
  if (!endsInSoftmax(model)) return model.apply(x, options);
  const capture = options.capture ?? {};
  model.apply(x, { ...options, capture });
  const last = model.parametricLayers.at(-1);
  const tail = model.layers.slice(model.layers.indexOf(last as never) + 1);
  if (!last || tail.some((l) => l.kind !== 'activation')) {
    throw new Error('importances: the model ends in a softmax that is not directly after its last parametric layer, so its logits cannot be recovered');
  }
  return (capture[last.name] as LayerCapture).preActivation;
}
