import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../../test/helpers.js';
import { type ImageSet, arraysToImageSet, imageSetSource } from './image-set.js';

// two 1×2 RGB images: pixel values 0..5 and 10..15
const set: ImageSet = {
  x: Uint8Array.from([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]),
  y: Int32Array.from([1, 0]),
  exampleShape: [1, 2, 3],
  classNames: ['a', 'b'],
  files: ['b/1.png', 'a/1.png'],
  skipped: [],
};

function first(source: ReturnType<typeof imageSetSource>): { x: number[]; y: number[]; shape: number[] } {
  const out = { x: [] as number[], y: [] as number[], shape: [] as number[] };
  for (const b of source.batches(8)) {
    out.x.push(...b.x.dataSync());
    out.y.push(...b.y.dataSync());
    out.shape = b.x.shape;
    tf.dispose([b.x, b.y]);
  }
  return out;
}

describe('imageSetSource', () => {
  it('applies the preprocessing per channel, swaps to BGR for caffe, offsets labels, without leaking tensors', async () => {
    await expectNoLeak(() => {
      const unit = first(imageSetSource(set));
      expect(unit.shape).toEqual([2, 1, 2, 3]);
      expect(unit.x).toEqual(Array.from(set.x, (v) => Math.fround(v / 255)));
      expect(unit.y).toEqual([1, 0]);
      // caffe: channels reversed per pixel (B, G, R), minus the B, G, R means
      const caffe = first(imageSetSource(set, { preprocessing: 'caffe' }));
      const mean = [103.939, 116.779, 123.68];
      const bgr = [2, 1, 0, 5, 4, 3, 12, 11, 10, 15, 14, 13];
      expect(caffe.x).toEqual(bgr.map((v, i) => Math.fround(v - (mean[i % 3] as number))));
      // mean/std per channel in pixel units
      const ms = first(imageSetSource(set, { preprocessing: { mean: [1, 2, 3], std: [2, 4, 8] }, indices: Int32Array.from([1]) }));
      expect(ms.x).toEqual([10, 11, 12, 13, 14, 15].map((v, i) => Math.fround(v * (1 / [2, 4, 8][i % 3]!) + -[1, 2, 3][i % 3]! / [2, 4, 8][i % 3]!)));
      expect(ms.y).toEqual([0]);
      const shifted = imageSetSource(set, { labelOffset: 5 });
      expect([shifted.numClasses, shifted.label(0), shifted.label(1)]).toEqual([7, 6, 5]);
      const mapped = imageSetSource(set, { labelMap: Int32Array.from([3, 1]) });
      expect([mapped.numClasses, mapped.label(0), mapped.label(1)]).toEqual([4, 1, 3]);
    });
  });

  it('builds sets from arrays: uint8 kept, float as float32 fed as is unless a preprocessing is given', () => {
    const u8 = arraysToImageSet(Uint8Array.from([1, 2, 3, 4]), [1, 2, 2], Uint8Array.from([0]), ['only']);
    expect([u8.exampleShape, u8.classNames]).toEqual([[2, 2, 1], ['only']]);
    const f = arraysToImageSet(Float64Array.from([0.5, -0.5, 0.25, 1]), [2, 1, 2], [1, 0]);
    expect(f.x).toBeInstanceOf(Float32Array);
    expect(f.classNames).toEqual(['0', '1']);
    const raw = first(imageSetSource(f));
    expect(raw.x).toEqual([0.5, -0.5, 0.25, 1]);
    const scaled = first(imageSetSource(f, { preprocessing: 'symmetric' }));
    expect(scaled.x).toEqual([0.5, -0.5, 0.25, 1].map((v) => Math.fround(v / 127.5 - 1)));
    expect(() => arraysToImageSet(new Uint8Array(7), [2, 2, 2], [0, 1])).toThrow(/x: shape \[2,2,2\] needs 8 values, got 7/);
    expect(() => arraysToImageSet(new Uint8Array(16), [2, 2, 2, 2], [0, 1], undefined, { x: 'x.npy' })).toThrow(/x\.npy: images have 2 channels/);
    expect(() => arraysToImageSet(new Uint8Array(4), [1, 2, 2], [3], ['a'], { y: 'y.npy' })).toThrow(/y\.npy: label 3 of example 0 has no class name/);
    expect(() => arraysToImageSet(new Uint8Array(4), [1, 2, 2], [0.5])).toThrow(/label 0.5 of example 0 is not a non-negative integer/);
  });
});
