import { describe, expect, it } from 'vitest';
import { parsePreprocessing, resolvePreprocessing } from './preprocessing.js';

const close = (a: number[], b: number[]) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(v).toBeCloseTo(b[i] as number, 10));
};

describe('resolvePreprocessing', () => {
  it('gives each preset as x·scale[c] + offset[c] in the model channel order', () => {
    expect(resolvePreprocessing('unit', 3)).toEqual({ scale: [1 / 255, 1 / 255, 1 / 255], offset: [0, 0, 0], channelOrder: 'rgb' });
    expect(resolvePreprocessing('symmetric', 1)).toEqual({ scale: [1 / 127.5], offset: [-1], channelOrder: 'rgb' });
    const inet = resolvePreprocessing('imagenet', 3);
    // pixel 255 on channel 0: (1 − 0.485)/0.229
    expect(255 * (inet.scale[0] as number) + (inet.offset[0] as number)).toBeCloseTo((1 - 0.485) / 0.229, 10);
    expect(0 * (inet.scale[2] as number) + (inet.offset[2] as number)).toBeCloseTo(-0.406 / 0.225, 10);
    expect(resolvePreprocessing('caffe', 3)).toEqual({ scale: [1, 1, 1], offset: [-103.939, -116.779, -123.68], channelOrder: 'bgr' });
    const ms = resolvePreprocessing({ mean: [123.7, 116.3, 103.5], std: [58.4, 57.1, 57.4] }, 3);
    close(ms.scale, [1 / 58.4, 1 / 57.1, 1 / 57.4]);
    close(ms.offset, [-123.7 / 58.4, -116.3 / 57.1, -103.5 / 57.4]);
    expect(resolvePreprocessing({ scale: 2, offset: [1, 2, 3], channelOrder: 'bgr' }, 3)).toEqual({ scale: [2, 2, 2], offset: [1, 2, 3], channelOrder: 'bgr' });
  });

  it('refuses constants that do not fit the channels', () => {
    expect(() => resolvePreprocessing('imagenet', 1)).toThrow(/'imagenet' has constants for 3 channels .* images have 1/);
    expect(() => resolvePreprocessing({ scale: [1, 2] }, 3)).toThrow(/scale has 2 entries but the images have 3 channels/);
    expect(() => resolvePreprocessing({ mean: [0, 0, 0], std: [1, 0, 1] }, 3)).toThrow(/std .* zero/);
    expect(() => resolvePreprocessing('tf' as 'unit', 3)).toThrow(/unknown preset 'tf'/);
  });
});

describe('parsePreprocessing', () => {
  it('reads presets and key=value strings', () => {
    expect(parsePreprocessing('unit')).toBe('unit');
    expect(parsePreprocessing(' Caffe ')).toBe('caffe');
    expect(parsePreprocessing('scale=0.0078,offset=-1')).toEqual({ scale: 0.0078, offset: -1 });
    expect(parsePreprocessing('scale=0.5')).toEqual({ scale: 0.5 });
    expect(parsePreprocessing('mean=123.7,116.3,103.5;std=58.4,57.1,57.4')).toEqual({ mean: [123.7, 116.3, 103.5], std: [58.4, 57.1, 57.4] });
    expect(parsePreprocessing('mean=1,2,3;std=4,5,6;bgr')).toEqual({ mean: [1, 2, 3], std: [4, 5, 6], channelOrder: 'bgr' });
    expect(parsePreprocessing('scale=1,2,3;offset=0;order=rgb')).toEqual({ scale: [1, 2, 3], offset: 0, channelOrder: 'rgb' });
  });

  it('names the bad part', () => {
    expect(() => parsePreprocessing('')).toThrow(/empty/);
    expect(() => parsePreprocessing('imagenett')).toThrow(/'imagenett' is not a preset/);
    expect(() => parsePreprocessing('scale=abc')).toThrow(/'scale=abc': 'abc' is not a number/);
    expect(() => parsePreprocessing('scale=1,gain=2')).toThrow(/unknown key 'gain' in 'gain=2'/);
    expect(() => parsePreprocessing('mean=1,2,3')).toThrow(/std is missing/);
    expect(() => parsePreprocessing('offset=-1')).toThrow(/scale is missing/);
    expect(() => parsePreprocessing('scale=1;mean=1;std=1')).toThrow(/either scale\/offset or mean\/std/);
    expect(() => parsePreprocessing('scale=1,,offset=2')).toThrow(/an empty part/);
    expect(() => parsePreprocessing('scale=1;order=xyz')).toThrow(/'order=xyz': order must be rgb or bgr/);
  });
});
