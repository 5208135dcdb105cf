// Ten permuted tasks must not hold ten permuted copies of the data: the bytes every task's sources
// reference (pixels, labels, permutations, index views), counted once each, stay near one dataset.
import { existsSync } from 'node:fs';
import type { ArraySource, Task } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { loadEmbedded } from '../embedded-node.js';
import type { MnistFormatDataset } from '../mnist-format.js';
import { loadMnistFormat } from '../read-files.js';
import { permutedTasks } from './permuted.js';

const DEBIAN = '/usr/share/datasets/fashion-mnist';

/** Bytes of the distinct typed arrays the tasks' sources hold. */
function heldBytes(tasks: readonly Task[]): number {
  const seen = new Set<ArrayBufferLike>();
  let bytes = 0;
  for (const t of tasks) {
    for (const s of [t.train, t.validation, t.test] as (ArraySource | undefined)[]) {
      if (!s) continue;
      const { x, y, permutation, indices, labelMap } = s.options;
      for (const a of [x, y, permutation, indices, labelMap]) {
        if (a && ArrayBuffer.isView(a) && !seen.has(a.buffer)) {
          seen.add(a.buffer);
          bytes += a.buffer.byteLength;
        }
      }
    }
  }
  return bytes;
}

function datasetBytes(d: MnistFormatDataset): number {
  return d.train.images.byteLength + d.train.labels.byteLength + d.test.images.byteLength + d.test.labels.byteLength;
}

function check(data: MnistFormatDataset) {
  const tasks = permutedTasks(data, { numTasks: 10, validation: 1 / 12 });
  const held = heldBytes(tasks);
  const copies = 10 * (data.train.count + data.test.count) * data.rows * data.cols * 4;
  expect(held).toBeGreaterThanOrEqual(datasetBytes(data));
  // pixels and labels once, plus 9 permutations (784 int32 each) and one train/validation index view
  expect(held).toBeLessThan(datasetBytes(data) * 1.05);
  expect(held).toBeLessThan(copies / 30);
  return held;
}

describe('memory of a 10-task permuted sequence', () => {
  it('stays near one dataset on the embedded subset', async () => {
    check(await loadEmbedded());
  });

  it.skipIf(!existsSync(DEBIAN))('stays near one dataset on the full Debian Fashion-MNIST', async () => {
    const data = await loadMnistFormat(DEBIAN);
    expect(data.train.count).toBe(60000);
    const held = check(data);
    expect(held / 2 ** 20).toBeLessThan(60); // 54.9 MB of uint8 data; ten float32 copies would be 2.2 GB
  });
});
