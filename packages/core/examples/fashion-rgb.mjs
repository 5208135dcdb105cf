// Shared by pretrain.mjs and finetune.mjs: the embedded Fashion-MNIST subset of @forgetless/datasets
// (10 000 training and 2 000 test images, 1 000 / 200 per class) rendered as 28×28 RGB images (the
// gray value replicated to 3 channels, as a model made for photos expects), and core DataSources over
// class subsets of it. Pixels stay uint8; batches are scaled to [0, 1] when drawn.
import { ArraySource } from '@forgetless/core';
import { positionsOfClasses } from '@forgetless/datasets';
import { loadEmbedded } from '@forgetless/datasets/node';

export const OLD_CLASSES = [0, 1, 2, 3, 4]; // T-shirt/top, Trouser, Pullover, Dress, Coat
export const NEW_CLASSES = [5, 6, 7, 8, 9]; // Sandal, Shirt, Sneaker, Bag, Ankle boot
export const CLASS_NAMES = ['T-shirt', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const IMAGE_SHAPE = [28, 28, 3];

/** gray [n·28·28] → RGB [n·28·28·3], the gray value in every channel. */
function toRgb(gray) {
  const rgb = new Uint8Array(gray.length * 3);
  for (let i = 0, j = 0; i < gray.length; i++, j += 3) rgb[j] = rgb[j + 1] = rgb[j + 2] = gray[i];
  return rgb;
}

/**
 * `{ train(classes), test(classes), data }`: ArraySources of the RGB images of `classes`, labels kept
 * (0..9, one 10-way head).
 */
export async function fashionRgb() {
  const data = await loadEmbedded();
  const sets = { train: data.train, test: data.test };
  const rgb = { train: toRgb(data.train.images), test: toRgb(data.test.images) };
  const source = (split, classes) =>
    new ArraySource({
      x: rgb[split],
      y: sets[split].labels,
      exampleShape: IMAGE_SHAPE,
      numClasses: 10,
      indices: positionsOfClasses(sets[split].labels, classes),
    });
  return { data, train: (classes) => source('train', classes), test: (classes) => source('test', classes) };
}

/** The examples of `source` as one [n, 28, 28, 3] float32 tensor and [n] int32 labels (for tfjs-layers' fit). */
export function materialize(tf, source) {
  const xs = [];
  const ys = [];
  for (const { x, y } of source.batches(1000)) {
    xs.push(x);
    ys.push(y);
  }
  const x = tf.concat(xs);
  const y = tf.concat(ys);
  tf.dispose([...xs, ...ys]);
  return { x, y };
}
