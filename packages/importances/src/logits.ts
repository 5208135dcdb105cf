/**
 * The model's logits for a batch, whatever its last layer: importances differentiate functions of
 * the logits (log-softmax for Fisher, softmax or raw outputs for MAS), so a model that ends in a
 * softmax gives back its logits (`Model.logits`).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ForwardOptions, Model } from '@forgetless/core';

/**
 * Forward pass in inference mode returning logits [n, K]. `capture`, `taps`, `exampleSums` and `capturePads` are passed to
 * `model.logits`.
 */
export function forwardLogits(model: Model, x: tf.Tensor, options: Pick<ForwardOptions, 'capture' | 'taps' | 'exampleSums' | 'capturePads'> = {}): tf.Tensor {
  return model.logits(x, options);
}

/** True if the model's own output is probabilities (its logits are followed by a softmax). */
export function endsInSoftmax(model: Model): boolean {
  const m = model as Model & { endsInSoftmax?: () => boolean; outputSoftmax?: boolean };
  return m.endsInSoftmax?.() ?? m.outputSoftmax ?? false;
}
