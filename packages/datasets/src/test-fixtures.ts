// Data made by the tests (not part of the package build): small MNIST-format datasets and their files.
import { Rng } from '@forgetless/core';
import { encodeIdx } from './idx.js';
import type { MnistFileRole, MnistFormatDataset } from './mnist-format.js';

export interface FixtureOptions {
  trainCount?: number;
  testCount?: number;
  rows?: number;
  cols?: number;
  numClasses?: number;
  seed?: number;
  name?: string;
}

/** A random dataset: pixels uniform in 0..255, labels cycling through the classes in a shuffled order. */
export function fixtureDataset(options: FixtureOptions = {}): MnistFormatDataset {
  const rows = options.rows ?? 28;
  const cols = options.cols ?? 28;
  const k = options.numClasses ?? 10;
  const rng = new Rng(options.seed ?? 1);
  const set = (count: number) => {
    const images = Uint8Array.from({ length: count * rows * cols }, () => rng.int(256));
    const labels = rng.shuffle(Uint8Array.from({ length: count }, (_, i) => i % k));
    return { images, labels, count };
  };
  return {
    name: options.name ?? 'fixture',
    rows,
    cols,
    numClasses: k,
    train: set(options.trainCount ?? 120),
    test: set(options.testCount ?? 40),
  };
}

/** The four IDX files of a dataset (gzip unless `gzip` is false). */
export function fixtureFiles(data: MnistFormatDataset, gzip = true): Record<MnistFileRole, Uint8Array> {
  const { rows, cols } = data;
  return {
    trainImages: encodeIdx({ type: 'uint8', dims: [data.train.count, rows, cols], data: data.train.images }, { gzip }),
    trainLabels: encodeIdx({ type: 'uint8', dims: [data.train.count], data: data.train.labels }, { gzip }),
    testImages: encodeIdx({ type: 'uint8', dims: [data.test.count, rows, cols], data: data.test.images }, { gzip }),
    testLabels: encodeIdx({ type: 'uint8', dims: [data.test.count], data: data.test.labels }, { gzip }),
  };
}
