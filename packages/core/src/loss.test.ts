import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import './gradients.js';
import { useBackend } from './backend.js';
import { countCorrect, softmaxCrossEntropy } from './loss.js';

beforeAll(async () => {
  await useBackend('cpu');
});

/** −mean log softmax(z)_y by hand, in float64. */
function handCE(z: number[][], y: number[]): number {
  let total = 0;
  z.forEach((row, i) => {
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    total += lse - (row[y[i] as number] as number);
  });
  return total / z.length;
}

describe('softmaxCrossEntropy', () => {
  const z = [
    [1.5, -0.3, 0.2, 2.1],
    [0.0, 0.4, -1.2, 0.7],
    [-2.0, 3.0, 0.5, 0.1],
  ];

  it('is the mean cross-entropy of the logits, as computed by hand', () => {
    const before = tf.memory().numTensors;
    const loss = softmaxCrossEntropy(tf.tensor2d(z), tf.tensor1d([3, 1, 2], 'int32'));
    expect(loss.dataSync()[0]).toBeCloseTo(handCE(z, [3, 1, 2]), 5);
    tf.dispose(loss);
    expect(tf.memory().numTensors - before).toBe(2); // the two inputs above, left undisposed
  });

  it('has the gradient (softmax − onehot)/N with valid labels', () => {
    const x = tf.tensor2d(z);
    const y = tf.tensor1d([3, 1, 2], 'int32');
    const g = tf
      .grad((l: tf.Tensor) => softmaxCrossEntropy(l, y))(x)
      .arraySync() as number[][];
    z.forEach((row, i) => {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      row.forEach((_, j) => expect(g[i]?.[j]).toBeCloseTo((e[j] as number) / s / 3 - (j === [3, 1, 2][i] ? 1 / 3 : 0), 6));
    });
    tf.dispose([x, y]);
  });

  it('is +∞ when a label is outside the logits (a label the model cannot output), never a smaller finite loss', () => {
    for (const bad of [4, 12, -1]) {
      const loss = softmaxCrossEntropy(tf.tensor2d(z), tf.tensor1d([3, bad, 2], 'int32'));
      expect(loss.dataSync()[0]).toBe(Number.POSITIVE_INFINITY);
    }
  });

  it('within a class mask, a label outside the mask but inside the logits stays finite and large', () => {
    const loss = softmaxCrossEntropy(tf.tensor2d(z), tf.tensor1d([3, 1, 2], 'int32'), [0, 1]);
    const v = loss.dataSync()[0] as number;
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThan(1e8);
  });
});

describe('countCorrect', () => {
  it('counts arg-max hits', () => {
    const n = countCorrect(
      tf.tensor2d([
        [1, 2],
        [3, 0],
        [0, 5],
      ]),
      tf.tensor1d([1, 0, 0], 'int32'),
    );
    expect(n.dataSync()[0]).toBe(2);
  });
});

describe('labels the model cannot output, in training', () => {
  it('stop trainContinual as diverged at the first step that sees one (not a finite, too-small loss)', async () => {
    const { mlp } = await import('./presets.js');
    const { syntheticPermutedTasks } = await import('./synthetic.js');
    const { trainContinual } = await import('./train/continual.js');
    const tasks = syntheticPermutedTasks({ numTasks: 1, features: 16, trainPerClass: 10, testPerClass: 5, seed: 2 });
    const m = mlp([16, 8, 10], { seed: 1 });
    const opt = tf.train.sgd(0.1);
    let step = 0;
    // past the sources' own label checks: the third step's batch gets labels 10–19 on a 10-class model
    const shift = {
      name: 'shift-labels',
      transformBatch: (b: { x: tf.Tensor; y: tf.Tensor1D }) => (++step === 3 ? { x: b.x, y: tf.tidy(() => tf.add(b.y, tf.scalar(10, 'int32'))) as tf.Tensor1D } : b),
    };
    const before = tf.memory().numTensors;
    const r = await trainContinual(m, tasks, { optimizer: opt, iterations: 5, batchSize: 10, plugins: [shift] });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.diverged?.taskStep).toBe(3);
    expect(r.diverged?.message).toMatch(/diverged at task 1 step 3 \(loss = Infinity/);
    opt.dispose();
    m.dispose();
  });
});
