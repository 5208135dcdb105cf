import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { compareLayer, tfjsLayer } from './compare.test-helpers.js';
import { Cropping2d, type Margins2d, Permute, Reshape, UpSampling2d, ZeroPadding2d } from './shape.js';

const rng = new Rng(0);

describe('ZeroPadding2d', () => {
  const forms: (Margins2d | undefined)[] = [
    undefined,
    2,
    [1, 3],
    [
      [0, 2],
      [3, 1],
    ],
  ];
  it.each(forms)('equals tfjs-layers for padding %o', async (padding) => {
    await compareLayer({
      ours: new ZeroPadding2d(padding === undefined ? {} : { padding }),
      ref: tfjsLayer(tfl.layers.zeroPadding2d(padding === undefined ? {} : { padding: padding as never })),
      shapes: [[4, 5, 2]],
      symbolic: [[[null, null, 2]], [[4, null, 2]]],
    });
  });

  it('rejects malformed padding', () => {
    expect(() => new ZeroPadding2d({ padding: [1, 2, 3] as never })).toThrow(/padding must be/);
    expect(() => new ZeroPadding2d({ padding: -1 })).toThrow(/padding must be/);
    expect(() => new ZeroPadding2d().build([4, 4], rng)).toThrow(/expects \[height, width, channels\] input, got \[4, 4\]/);
  });
});

describe('Cropping2d', () => {
  const forms: Margins2d[] = [
    1,
    [2, 0],
    [
      [0, 2],
      [3, 1],
    ],
  ];
  it.each(forms)('equals tfjs-layers for cropping %o', async (cropping) => {
    await compareLayer({
      ours: new Cropping2d({ cropping }),
      ref: tfjsLayer(tfl.layers.cropping2D({ cropping: cropping as never })),
      shapes: [[6, 7, 2]],
      symbolic: [[[6, 7, null]]],
    });
  });

  it('keeps unknown dims unknown, and rejects crops that leave nothing', () => {
    expect(new Cropping2d({ cropping: 1 }).build([null, 5, 3], rng)).toEqual([null, 3, 3]);
    expect(() =>
      new Cropping2d({
        cropping: [
          [2, 2],
          [0, 0],
        ],
      }).build([4, 5, 3], rng),
    ).toThrow(/leaves nothing of input \[4, 5, 3\]/);
  });
});

describe('UpSampling2d', () => {
  const cases: { size?: number | [number, number]; interpolation?: 'nearest' | 'bilinear'; shape?: number[] }[] = [
    {},
    { size: [2, 3] },
    { size: 3, interpolation: 'bilinear' },
    { size: [1, 2], interpolation: 'bilinear' },
    { size: [3, 2], interpolation: 'bilinear', shape: [1, 5, 2] },
    { size: 2, interpolation: 'bilinear', shape: [4, 4, 3] },
  ];
  it.each(cases)('equals tfjs-layers for %o', async (c) => {
    const shape = c.shape ?? [3, 4, 2];
    const size = c.size === undefined ? undefined : typeof c.size === 'number' ? [c.size, c.size] : c.size;
    await compareLayer({
      ours: new UpSampling2d(c),
      ref: tfjsLayer(tfl.layers.upSampling2d({ ...(size ? { size } : {}), ...(c.interpolation ? { interpolation: c.interpolation } : {}) })),
      shapes: [shape],
      symbolic: [[[null, null, shape[2] as number]], [[shape[0] as number, null, shape[2] as number]]],
      // tfjs 4.22's stock ResizeBilinear gradient throws on cpu when H ≠ W
      refGrad: 'basis',
    });
  });

  it('rejects other interpolations and sizes', () => {
    expect(() => new UpSampling2d({ interpolation: 'bicubic' as never })).toThrow(/interpolation must be 'nearest' or 'bilinear'/);
    expect(() => new UpSampling2d({ size: [2, 0] })).toThrow(/size must be/);
  });
});

describe('Reshape', () => {
  const cases: { target: number[]; input: number[] }[] = [
    { target: [6, 4], input: [2, 3, 4] },
    { target: [-1, 3], input: [4, 3, 2] },
    { target: [2, -1, 2], input: [12] },
  ];
  it.each(cases)('equals tfjs-layers: %o', async (c) => {
    const ref = tfl.layers.reshape({ targetShape: [...c.target] });
    await compareLayer({
      ours: new Reshape({ targetShape: c.target }),
      // tfjs-layers leaves the -1 entry unknown whenever any dim is, the batch's included: a known batch
      // size gives Keras's per-example shape
      ref: { ...tfjsLayer(ref), shape: ([s]) => (ref.computeOutputShape([s?.includes(null) ? null : 2, ...(s as number[])]) as (number | null)[]).slice(1) },
      shapes: [c.input],
      // tfjs-layers: with unknown input dims the -1 entry is unknown
      symbolic: [[c.input.map((d, i) => (i === 0 ? null : d))]],
    });
  });

  it('rejects sizes that do not divide, and malformed targets', () => {
    expect(() => new Reshape({ targetShape: [5, -1] }).build([3, 4], rng)).toThrow(/cannot reshape input \[3, 4\] \(12 values\) to \[5, -1\]/);
    expect(() => new Reshape({ targetShape: [5] }).build([3, 4], rng)).toThrow(/cannot reshape/);
    expect(() => new Reshape({ targetShape: [-1, -1] })).toThrow(/at most one -1/);
    expect(() => new Reshape({ targetShape: [0, 2] })).toThrow(/positive integers/);
  });
});

describe('Permute', () => {
  const cases: number[][] = [
    [2, 1],
    [3, 1, 2],
    [1, 3, 2],
  ];
  it.each(cases)('equals tfjs-layers for dims %o', async (...dims) => {
    const input = [2, 3, 4].slice(0, dims.length);
    await compareLayer({
      ours: new Permute({ dims }),
      ref: tfjsLayer(tfl.layers.permute({ dims })),
      shapes: [input],
      symbolic: [[input.map((d, i) => (i === 0 ? null : d))]],
    });
  });

  it('rejects non-permutations and rank mismatches', () => {
    expect(() => new Permute({ dims: [0, 1] })).toThrow(/permutation of 1..rank/);
    expect(() => new Permute({ dims: [1, 1] })).toThrow(/permutation of 1..rank/);
    expect(() => new Permute({ dims: [2, 1] }).build([2, 3, 4], rng)).toThrow(/need an input of rank 2, got \[2, 3, 4\]/);
  });
});
