import { describe, expect, it } from 'vitest';
import { classOfPath, compareNames, cropRect, isImageFile, planImages, rgbaToPixels } from './layout.js';

describe('image folder layout (shared by Node and the page)', () => {
  it('takes the class from the parent folder and sorts classes and files with numeric collation', () => {
    expect(classOfPath('root/cat/1.png')).toBe('cat');
    expect(classOfPath('cat/1.png')).toBe('cat');
    expect(classOfPath('C:\\data\\dog\\1.png')).toBe('dog');
    expect(classOfPath('1.png')).toBeUndefined();
    expect(['class10', 'class2', 'Class1'].sort(compareNames)).toEqual(['Class1', 'class2', 'class10']);
    expect([isImageFile('a.JPG'), isImageFile('a.webp'), isImageFile('a.gif'), isImageFile('.png')]).toEqual([true, true, false, false]);
    const plan = planImages(['r/b/10.png', 'r/b/9.jpeg', 'r/a10/x.png', 'r/a2/y.png', 'r/a2/notes.txt', 'r/.git/z.png', 'r/b/.DS_Store', 'loose.png']);
    expect(plan.classNames).toEqual(['a2', 'a10', 'b']);
    expect(plan.files).toEqual(['r/a2/y.png', 'r/a10/x.png', 'r/b/9.jpeg', 'r/b/10.png']);
    expect(Array.from(plan.labels)).toEqual([0, 1, 2, 2]);
    expect(plan.ignored.sort()).toEqual(['loose.png', 'r/.git/z.png', 'r/a2/notes.txt', 'r/b/.DS_Store']);
  });

  it('chooses classes, caps images round-robin, and refuses what cannot be a class set', () => {
    const paths = ['a/1.png', 'a/2.png', 'a/3.png', 'b/1.png', 'c/1.png', 'c/2.png'];
    const chosen = planImages(paths, { classNames: ['c', 'a'] });
    expect([chosen.classNames, chosen.files]).toEqual([
      ['c', 'a'],
      ['c/1.png', 'c/2.png', 'a/1.png', 'a/2.png', 'a/3.png'],
    ]);
    expect(chosen.ignored).toEqual(['b/1.png']);
    expect(planImages(paths, { maxImages: 4 }).files).toEqual(['a/1.png', 'a/2.png', 'b/1.png', 'c/1.png']);
    expect(planImages(paths, { perClassLimit: 1 }).files).toEqual(['a/1.png', 'b/1.png', 'c/1.png']);
    expect(() => planImages(['x.png', 'a/readme.md'], { source: 'pick' })).toThrow(/pick: no class folders/);
    expect(() => planImages(paths, { classNames: ['a', 'z'] })).toThrow(/no folder for class z \(found: a, b, c\)/);
    expect(() => planImages(paths, { maxImages: 2 })).toThrow(/maxImages 2 is fewer than the 3 classes/);
  });

  it('computes the centre-crop rectangle (sharp cover, centre) and stretch', () => {
    expect(cropRect(4, 2, 2, 2)).toEqual({ sx: 1, sy: 0, sw: 2, sh: 2 });
    expect(cropRect(2, 4, 2, 2)).toEqual({ sx: 0, sy: 1, sw: 2, sh: 2 });
    expect(cropRect(640, 480, 224, 224)).toEqual({ sx: 80, sy: 0, sw: 480, sh: 480 });
    expect(cropRect(100, 100, 50, 100)).toEqual({ sx: 25, sy: 0, sw: 50, sh: 100 });
    expect(cropRect(4, 2, 2, 2, 'stretch')).toEqual({ sx: 0, sy: 0, sw: 4, sh: 2 });
    expect(() => cropRect(0, 2, 2, 2)).toThrow(/sizes must be positive/);
  });

  it('drops alpha, or takes Rec. 709 luma for grey', () => {
    const rgba = Uint8ClampedArray.from([10, 20, 30, 255, 255, 255, 255, 0]);
    const rgb = new Uint8Array(7);
    rgbaToPixels(rgba, 3, rgb, 1);
    expect(Array.from(rgb)).toEqual([0, 10, 20, 30, 255, 255, 255]);
    const grey = new Uint8Array(2);
    rgbaToPixels(rgba, 1, grey, 0);
    expect(Array.from(grey)).toEqual([Math.round(0.2126 * 10 + 0.7152 * 20 + 0.0722 * 30), 255]);
  });
});
