import type { ArraySource } from '@forgetless/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../../test/helpers.js';
import { fixtureDataset } from '../test-fixtures.js';
import { rotateImages, rotatedTasks, rotationPermutation } from './rotated.js';

const apply = (perm: Int32Array, img: ArrayLike<number>) => Array.from(perm, (p) => img[p] as number);

describe('rotations', () => {
  it('rotates a 3×3 image counter-clockwise by 90° as a permutation and by resampling', () => {
    const img = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const ccw90 = [3, 6, 9, 2, 5, 8, 1, 4, 7];
    expect(apply(rotationPermutation(3, 3, 90), img)).toEqual(ccw90);
    expect(Array.from(rotateImages(img, 3, 3, 90))).toEqual(ccw90);
    expect(apply(rotationPermutation(3, 3, -90), img)).toEqual([7, 4, 1, 8, 5, 2, 9, 6, 3]);
    expect(apply(rotationPermutation(3, 3, 180), img)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(apply(rotationPermutation(3, 3, 360), img)).toEqual(Array.from(img));
  });

  it('agrees between the permutation and bilinear resampling at every right angle', () => {
    const { train } = fixtureDataset({ trainCount: 3, testCount: 1 });
    for (const a of [90, 180, 270, -90, 450]) {
      const perm = rotationPermutation(28, 28, a);
      const rotated = rotateImages(train.images, 28, 28, a);
      for (let n = 0; n < 3; n++) {
        expect(Array.from(rotated.subarray(n * 784, (n + 1) * 784))).toEqual(apply(perm, train.images.subarray(n * 784, (n + 1) * 784)));
      }
    }
    // four quarter turns compose to the identity; 180° works on non-square images, 90° does not
    let img = Array.from(train.images.subarray(0, 784));
    for (let q = 0; q < 4; q++) img = apply(rotationPermutation(28, 28, 90), img);
    expect(img).toEqual(Array.from(train.images.subarray(0, 784)));
    expect(apply(rotationPermutation(2, 3, 180), [1, 2, 3, 4, 5, 6])).toEqual([6, 5, 4, 3, 2, 1]);
    expect(() => rotationPermutation(2, 3, 90)).toThrow('needs square images');
  });

  it('turns a horizontal bar into a diagonal one at 45°, keeping its mass', () => {
    const img = new Uint8Array(28 * 28);
    for (let c = 6; c < 22; c++) img[14 * 28 + c] = 200;
    const out = rotateImages(img, 28, 28, 45);
    const mass = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);
    expect(Math.abs(mass(out) - mass(img)) / mass(img)).toBeLessThan(0.05);
    // counter-clockwise: the right end of the bar goes up and to the right (row decreases as column increases)
    const centre = 13.5;
    let onDiagonal = 0;
    for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) if (Math.abs(r - centre + (c - centre)) <= 1.5) onDiagonal += out[r * 28 + c] as number;
    expect(onDiagonal / mass(out)).toBeGreaterThan(0.9);
    // and rotating back restores the bar up to bilinear blur
    const back = rotateImages(out, 28, 28, -45);
    expect(back.subarray(14 * 28 + 8, 14 * 28 + 20).every((v) => v > 100)).toBe(true);
  });

  it('builds tasks: right angles are zero-copy permutations, other angles one rotated copy', async () => {
    const data = fixtureDataset({ trainCount: 48, testCount: 12 });
    const tasks = rotatedTasks(data, { angles: [0, 90, 30], validation: 8 });
    expect(tasks.map((t) => t.name)).toEqual(['fixture-rot0', 'fixture-rot90', 'fixture-rot30']);
    const src = (i: number) => tasks[i]!.train as ArraySource;
    expect(src(0).options.x).toBe(data.train.images);
    expect(src(1).options.x).toBe(data.train.images);
    expect(src(1).options.permutation).toBeInstanceOf(Int32Array);
    expect(src(2).options.x).not.toBe(data.train.images);
    expect(src(2).options.x.length).toBe(data.train.images.length);
    expect(Array.from((tasks[2]!.test as ArraySource).options.x)).toEqual(Array.from(rotateImages(data.test.images, 28, 28, 30)));
    await expectNoLeak(() => {
      for (const b of tasks[1]!.validation!.batches(8)) {
        const x = b.x.dataSync();
        const expected = rotateImages(data.train.images.subarray(40 * 784, 48 * 784), 28, 28, 90);
        let err = 0;
        for (let i = 0; i < x.length; i++) err = Math.max(err, Math.abs((x[i] as number) - (expected[i] as number) / 255));
        expect(err).toBeLessThan(1e-6);
        tf.dispose([b.x, b.y]);
      }
    });
    expect(rotatedTasks(data).map((t) => t.name)).toEqual(['fixture-rot0', 'fixture-rot90', 'fixture-rot180', 'fixture-rot270']);
  });
});
