// Small random nets and data for the importance tests.
import * as tf from '@tensorflow/tfjs-core';
import { type ActivationLike, ArraySource, Rng, type Sequential, activation, avgPool2d, batchNorm, conv2d, dense, flatten, maxPool2d, sequential } from '@forgetless/core';

/** Gives batchNorm layers random moving statistics so inference mode is not the identity. */
export function randomizeState(model: Sequential, seed = 1): void {
  const rng = new Rng(seed);
  for (const [name, v] of Object.entries(model.state)) {
    const vals = Float32Array.from({ length: v.size }, () => (name.endsWith('variance') ? 0.5 + rng.next() : rng.normal() * 0.3));
    const t = tf.tensor(vals, v.shape);
    v.assign(t);
    t.dispose();
  }
  for (const [name, v] of Object.entries(model.params)) {
    if (!name.endsWith('/gamma') && !name.endsWith('/beta') && !name.endsWith('/bias')) continue;
    const vals = Float32Array.from({ length: v.size }, () => (name.endsWith('/gamma') ? 0.5 + rng.next() : rng.normal() * 0.2));
    const t = tf.tensor(vals, v.shape);
    v.assign(t);
    t.dispose();
  }
}

export function mlpNet(act: ActivationLike, seed = 0): Sequential {
  return sequential([dense(7, { activation: act }), dense(6, { activation: act }), dense(4)], { inputShape: [5], seed });
}

/** Dense → batchNorm → tanh → dense: batchNorm on flat features. */
export function denseBnNet(seed = 0): Sequential {
  const m = sequential([dense(6), batchNorm(), activation('tanh'), dense(3)], { inputShape: [4], seed });
  randomizeState(m, seed + 1);
  return m;
}

/** Conv nets covering stride, same/valid padding, non-square kernels, batchNorm and pooling. */
export function convNet(kind: 'strided-same' | 'valid-pool', seed = 0): Sequential {
  const layers =
    kind === 'strided-same'
      ? [
          conv2d(3, 3, { stride: 2, padding: 'same', activation: 'relu' }),
          batchNorm(),
          activation({ name: 'leakyRelu', alpha: 0.1 }),
          conv2d(4, [2, 3], { padding: 'valid', activation: 'tanh' }),
          flatten(),
          dense(4),
        ]
      : [
          conv2d(3, 3, { padding: 'valid' }),
          batchNorm(),
          activation('sigmoid'),
          maxPool2d({ poolSize: 2 }),
          conv2d(2, 2, { padding: 'same', stride: 1, activation: 'relu' }),
          avgPool2d({ poolSize: 2, stride: 1 }),
          flatten(),
          dense(3, { activation: 'tanh' }),
          dense(4),
        ];
  const m = sequential(layers, { inputShape: [9, 9, 2], seed });
  randomizeState(m, seed + 1);
  return m;
}

/** A source of `n` random float examples of `shape` with labels in [0, classes). */
export function randomSource(n: number, shape: number[], classes: number, seed = 0): ArraySource {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n * size }, () => rng.normal());
  const y = Int32Array.from({ length: n }, () => rng.int(classes));
  return new ArraySource({ x, y, exampleShape: shape, numClasses: classes });
}

/** The whole source as one batch (the caller disposes). */
export function allOf(source: ArraySource): { x: tf.Tensor; y: tf.Tensor1D } {
  const [b] = [...source.batches(source.size)];
  if (!b) throw new Error('empty source');
  return b;
}

/** Reads a map's tensors as plain arrays (for comparisons after disposal). */
export function values(map: Record<string, tf.Tensor>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, v.dataSync() as Float32Array]));
}
