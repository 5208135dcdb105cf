import type { ArraySource } from '@forgetless/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../../test/helpers.js';
import { fixtureDataset } from '../test-fixtures.js';
import { datasetQueue } from './queue.js';
import { rotateImages } from './rotated.js';

describe('dataset queue', () => {
  const mnist = fixtureDataset({ name: 'mnist', seed: 1, trainCount: 60, testCount: 12 });
  const fashion = fixtureDataset({ name: 'fashion-mnist', seed: 2, trainCount: 48, testCount: 24, numClasses: 8 });

  it('runs paper 2’s order: every dataset, then every dataset rotated 90°', async () => {
    const tasks = datasetQueue([mnist, fashion], { flat: false, validation: 12 });
    expect(tasks.map((t) => t.name)).toEqual(['mnist', 'fashion-mnist', 'mnist-rot90', 'fashion-mnist-rot90']);
    expect(tasks.map((t) => [t.train.size, t.validation?.size, t.test.size])).toEqual([
      [48, 12, 12],
      [36, 12, 24],
      [48, 12, 12],
      [36, 12, 24],
    ]);
    for (const t of tasks) {
      expect(t.train.exampleShape).toEqual([28, 28, 1]);
      expect(t.train.numClasses).toBe(10); // the largest label space of the queue
    }
    expect((tasks[2]!.train as ArraySource).options.x).toBe(mnist.train.images);
    await expectNoLeak(() => {
      for (const b of tasks[3]!.test.batches(24)) {
        expect(b.x.shape).toEqual([24, 28, 28, 1]);
        const expected = rotateImages(fashion.test.images, 28, 28, 90);
        const x = b.x.dataSync();
        let err = 0;
        for (let i = 0; i < x.length; i++) err = Math.max(err, Math.abs((x[i] as number) - (expected[i] as number) / 255));
        expect(err).toBeLessThan(1e-6);
        expect(Array.from(b.y.dataSync())).toEqual(Array.from(fashion.test.labels));
        tf.dispose([b.x, b.y]);
      }
    });
  });

  it('works with one dataset and other angles, and rejects mismatched ones', () => {
    expect(datasetQueue([fashion]).map((t) => t.name)).toEqual(['fashion-mnist', 'fashion-mnist-rot90']);
    expect(datasetQueue([fashion], { angles: [0, 180, 45] }).map((t) => t.name)).toEqual(['fashion-mnist', 'fashion-mnist-rot180', 'fashion-mnist-rot45']);
    expect(() => datasetQueue([mnist, fixtureDataset({ name: 'small', rows: 14, cols: 14 })])).toThrow('queue: small holds 14×14 images but mnist holds 28×28');
    expect(() => datasetQueue([mnist, mnist])).toThrow("queue: dataset 'mnist' appears twice");
    expect(() => datasetQueue([])).toThrow('queue: no datasets');
  });
});
