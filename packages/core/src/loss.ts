/** Classification loss and accuracy, with optional task-incremental class masks. */
import * as tf from '@tensorflow/tfjs-core';

/** Logits of classes outside `classes` pushed to −1e9, so softmax and argmax ignore them. */
export function maskLogits(logits: tf.Tensor, classes: readonly number[] | undefined): tf.Tensor {
  if (!classes) return logits;
  const k = logits.shape[logits.shape.length - 1] as number;
  const m = new Float32Array(k).fill(-1e9);
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= k) throw new Error(`class mask: class ${c} is out of range [0, ${k})`);
    m[c] = 0;
  }
  return tf.add(logits, tf.tensor1d(m));
}

/**
 * Mean over the batch of −log softmax(z)_y, the categorical cross-entropy of logits z.
 *
 * A label outside [0, k) (k = the logits' last dimension) makes the loss +∞ rather than adding 0 for
 * its example (its one-hot row is all zeros): a run fed labels its model cannot output then stops as
 * diverged at that step instead of training on a loss that looks right. Valid labels add exactly 0
 * (−mean log 1), and no gradient.
 */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor1D, classes?: readonly number[]): tf.Scalar {
  return tf.tidy(() => {
    const z = maskLogits(logits, classes);
    const k = z.shape[z.shape.length - 1] as number;
    const onehot = tf.oneHot(labels, k);
    const ce = tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(z)), -1)));
    return tf.sub(ce, tf.mean(tf.log(tf.cast(tf.sum(onehot, -1), 'float32')))) as tf.Scalar;
  });
}

/** Number of examples whose arg-max logit (within `classes`) equals the label, as a scalar. */
export function countCorrect(logits: tf.Tensor, labels: tf.Tensor1D, classes?: readonly number[]): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(maskLogits(logits, classes), -1), labels), 'int32')) as tf.Scalar);
}
