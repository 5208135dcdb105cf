/** Dense layer op z = x·W + b. Its gradient is BatchMatMul's, registered in `gradients.ts`. */
import * as tf from '@tensorflow/tfjs-core';

/** x: [batch, in], kernel: [in, out], bias: [out] → [batch, out]. */
export function dense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D {
  const z = tf.matMul(x, kernel) as tf.Tensor2D;
  return bias ? (tf.add(z, bias) as tf.Tensor2D) : z;
}
