import * as tf from '@tensorflow/tfjs-core';

/** Wd[a·dh, b·dw] = W[a, b], zeros elsewhere, by selection matrices (stock matMul gradients). */
export function dilateKernel(w: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
  const [kh, kw, c, m] = w.shape;
  const sel = (k: number, d: number) => tf.tidy(() => tf.transpose(tf.cast(tf.oneHot(tf.range(0, (k - 1) * d + 1, d, 'int32'), (k - 1) * d + 1), 'float32'))); // [e, k]
  const [eh, ew] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const rows = tf.matMul(sel(kh, dh) as tf.Tensor2D, tf.reshape(w, [kh, kw * c * m]) as tf.Tensor2D); // [eh, kw·C·M]
  const t = tf.reshape(tf.transpose(tf.reshape(rows, [eh, kw, c * m]), [1, 0, 2]), [kw, eh * c * m]);
  const cols = tf.matMul(sel(kw, dw) as tf.Tensor2D, t as tf.Tensor2D); // [ew, eh·C·M]
  return tf.transpose(tf.reshape(cols, [ew, eh, c, m]), [1, 0, 2, 3]) as tf.Tensor4D;
}
