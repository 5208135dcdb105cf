import { describe, expect, it } from 'vitest';
import { encodeIdx } from './idx.js';
import { MNIST_FORMAT_FILES, classCounts, mnistFormatFileNames, mnistFormatFromBytes } from './mnist-format.js';
import { fixtureDataset, fixtureFiles } from './test-fixtures.js';

describe('MNIST format', () => {
  it('pairs the four files into one dataset, keeping pixels and labels exactly', () => {
    const data = fixtureDataset({ trainCount: 50, testCount: 20, seed: 3 });
    for (const gzip of [true, false]) {
      const loaded = mnistFormatFromBytes(fixtureFiles(data, gzip), { name: 'toy' });
      expect(loaded.name).toBe('toy');
      expect([loaded.rows, loaded.cols, loaded.numClasses]).toEqual([28, 28, 10]);
      expect(loaded.train.count).toBe(50);
      expect(loaded.test.count).toBe(20);
      expect(Array.from(loaded.train.images)).toEqual(Array.from(data.train.images));
      expect(Array.from(loaded.test.labels)).toEqual(Array.from(data.test.labels));
    }
  });

  it('names both files when images and labels disagree in count', () => {
    const data = fixtureDataset({ trainCount: 30 });
    const files = fixtureFiles(data);
    files.trainLabels = encodeIdx({ type: 'uint8', dims: [29], data: data.train.labels.subarray(0, 29) }, { gzip: true });
    expect(() => mnistFormatFromBytes(files)).toThrow('train-images-idx3-ubyte.gz has 30 images but train-labels-idx1-ubyte.gz has 29 labels');
  });

  it('names the file when a labels file holds images, and when test images differ in size', () => {
    const data = fixtureDataset();
    const files = fixtureFiles(data);
    expect(() => mnistFormatFromBytes({ ...files, testLabels: files.testImages })).toThrow(/^t10k-labels-idx1-ubyte\.gz: wrong IDX magic number 0x00000803/);
    const small = fixtureDataset({ rows: 14, cols: 14 });
    expect(() => mnistFormatFromBytes({ ...files, testImages: fixtureFiles(small).testImages, testLabels: fixtureFiles(small).testLabels })).toThrow(
      't10k-images-idx3-ubyte.gz holds 14×14 images but train-images-idx3-ubyte.gz holds 28×28',
    );
  });

  it('checks labels against numClasses, and infers numClasses from the labels', () => {
    const data = fixtureDataset({ numClasses: 5 });
    expect(mnistFormatFromBytes(fixtureFiles(data)).numClasses).toBe(5);
    expect(() => mnistFormatFromBytes(fixtureFiles(data), { numClasses: 4 })).toThrow('train-labels-idx1-ubyte.gz: label 4 is beyond numClasses 4');
  });

  it('transposes images on request (EMNIST) without touching the caller’s bytes', () => {
    const data = fixtureDataset({ trainCount: 2, testCount: 1, rows: 4, cols: 4 });
    const files = fixtureFiles(data, false);
    const before = files.trainImages.slice();
    const t = mnistFormatFromBytes(files, { transpose: true });
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(t.train.images[16 + r * 4 + c]).toBe(data.train.images[16 + c * 4 + r]);
    expect(Array.from(files.trainImages)).toEqual(Array.from(before));
  });

  it('names files with a prefix or without .gz, and counts classes', () => {
    expect(mnistFormatFileNames({ prefix: 'emnist-letters-' }).trainImages).toBe('emnist-letters-train-images-idx3-ubyte.gz');
    expect(mnistFormatFileNames({ gzip: false }).testLabels).toBe('t10k-labels-idx1-ubyte');
    expect(MNIST_FORMAT_FILES.testImages).toBe('t10k-images-idx3-ubyte.gz');
    expect(classCounts([0, 2, 2, 1, 2], 3)).toEqual([1, 1, 3]);
  });
});
