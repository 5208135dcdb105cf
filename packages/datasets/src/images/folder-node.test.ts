import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak } from '../../../../test/helpers.js';
import { checkClasses } from './classes.js';
import { loadImageFolder } from './folder-node.js';
import { imageSetSource } from './image-set.js';
import { makePng } from './png.test-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'forgetless-images-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A folder of class sub-folders: files[class][name] = bytes. */
function folder(name: string, files: Record<string, Record<string, Uint8Array | string>>): string {
  const dir = join(root, name);
  for (const [cls, entries] of Object.entries(files)) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (const [f, bytes] of Object.entries(entries)) writeFileSync(join(dir, cls, f), bytes);
  }
  return dir;
}

// a hand-made 2×2 RGB image: red, green / blue, a grey
const RGB_2X2 = [255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200];
const GREY_2X2 = [0, 85, 170, 255];

describe('loadImageFolder', () => {
  it('decodes hand-made 2×2 PNGs to exactly their pixels, RGB and grey, classes from the folders in order', async () => {
    const dir = folder('exact', {
      class10: { 'a.png': makePng(2, 2, 3, RGB_2X2) },
      class2: { 'b.PNG': makePng(2, 2, 1, GREY_2X2), 'notes.txt': 'not an image', '.hidden.png': 'x' },
    });
    const rgb = await loadImageFolder(dir, { size: [2, 2] });
    // numeric collation: class2 before class10
    expect(rgb.classNames).toEqual(['class2', 'class10']);
    expect(rgb.exampleShape).toEqual([2, 2, 3]);
    expect(Array.from(rgb.y)).toEqual([0, 1]);
    expect(rgb.files).toEqual([join(dir, 'class2', 'b.PNG'), join(dir, 'class10', 'a.png')]);
    expect(rgb.skipped).toEqual([]);
    expect(rgb.ignored).toEqual([join(dir, 'class2', 'notes.txt')]);
    // a grey PNG read as RGB repeats its value in the three channels
    expect(Array.from(rgb.x.subarray(0, 12))).toEqual(GREY_2X2.flatMap((v) => [v, v, v]));
    expect(Array.from(rgb.x.subarray(12))).toEqual(RGB_2X2);
    const grey = await loadImageFolder(dir, { size: [2, 2], channels: 1, classNames: ['class2'] });
    expect(grey.exampleShape).toEqual([2, 2, 1]);
    expect(Array.from(grey.x)).toEqual(GREY_2X2);
    expect(grey.ignored).toContain(join(dir, 'class10', 'a.png'));
  });

  it('decodes a 2×2 JPEG encoded by sharp within a few levels', async () => {
    // a smooth image (JPEG's 4:2:0 chroma subsampling would blur sharp colour edges in a 2×2 block)
    const pixels = [120, 130, 140, 124, 134, 144, 128, 138, 148, 132, 142, 152];
    const jpeg = await sharp(Buffer.from(pixels), { raw: { width: 2, height: 2, channels: 3 } })
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .toBuffer();
    const dir = folder('jpeg', { a: { 'x.jpg': jpeg, 'y.JPEG': jpeg } });
    const set = await loadImageFolder(dir, { size: [2, 2] });
    expect(set.y.length).toBe(2);
    for (let i = 0; i < 12; i++) expect(Math.abs((set.x[i] as number) - (pixels[i] as number))).toBeLessThanOrEqual(3);
  });

  it('stretches or centre-crops a hand-made 4×2 image to 2×2 as computed by hand', async () => {
    // columns A B C D, the second row one level brighter
    const cols = [
      [10, 20, 30],
      [50, 60, 70],
      [90, 100, 110],
      [130, 140, 150],
    ];
    const pixels = [0, 1].flatMap((y) => cols.flatMap((c) => c.map((v) => v + y)));
    const dir = folder('resize', { a: { 'wide.png': makePng(4, 2, 3, pixels) } });
    const px = (col: number, y: number) => (cols[col] as number[]).map((v) => v + y);
    // centre crop: scale 1 covers 2×2, the centre columns B and C are kept, any kernel
    const crop = await loadImageFolder(dir, { size: [2, 2], fit: 'center-crop' });
    expect(Array.from(crop.x)).toEqual([...px(1, 0), ...px(2, 0), ...px(1, 1), ...px(2, 1)]);
    // stretch, nearest neighbour: output column j samples input column floor((j + 0.5)·4/2) = 1, 3
    const stretch = await loadImageFolder(dir, { size: [2, 2], fit: 'stretch', kernel: 'nearest' });
    expect(Array.from(stretch.x)).toEqual([...px(1, 0), ...px(3, 0), ...px(1, 1), ...px(3, 1)]);
    // a 1×2 target has the image's aspect 1:2, so nothing is cropped; nearest samples row floor(0.5·2) = 1, columns 1 and 3
    const half = await loadImageFolder(dir, { size: [1, 2], fit: 'center-crop', kernel: 'nearest' });
    expect(half.exampleShape).toEqual([1, 2, 3]);
    expect(Array.from(half.x)).toEqual([...px(1, 1), ...px(3, 1)]);
  });

  it('converts 16-bit and RGBA images (alpha composited onto black)', async () => {
    const raw16 = await sharp(Buffer.from(RGB_2X2), { raw: { width: 2, height: 2, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(raw16).metadata()).depth).toBe('ushort');
    const rgba = makePng(2, 2, 4, [255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 255, 100, 150, 200, 255]);
    const dir = folder('modes', { a: { '16bit.png': raw16, 'rgba.png': rgba } });
    const set = await loadImageFolder(dir, { size: [2, 2] });
    expect(set.skipped).toEqual([]);
    expect(Array.from(set.x.subarray(0, 12))).toEqual(RGB_2X2);
    // the transparent green pixel becomes black
    expect(Array.from(set.x.subarray(12))).toEqual([255, 0, 0, 0, 0, 0, 0, 0, 255, 100, 150, 200]);
  });

  it('names corrupt, truncated, empty and fake images, skips them, or refuses them all in one error', async () => {
    const png = makePng(2, 2, 3, RGB_2X2);
    const jpeg = await sharp(Buffer.from(RGB_2X2), { raw: { width: 2, height: 2, channels: 3 } })
      .jpeg()
      .toBuffer();
    const corrupt = Buffer.from(png);
    corrupt.fill(0x5a, 16, 40); // garbage over IHDR and into IDAT
    const dir = folder('bad', {
      good: { 'ok.png': png },
      bad: {
        'ok2.png': png,
        'corrupt.png': corrupt,
        'truncated.png': png.subarray(0, png.length - 20),
        'truncated.jpg': jpeg.subarray(0, jpeg.length - 40),
        'empty.png': new Uint8Array(0),
        'text.png': 'this is a text file, not a PNG\n',
        'zero-size.png': makePng(0, 2, 3, []),
      },
    });
    const progress: number[] = [];
    const set = await loadImageFolder(dir, { size: [2, 2], onProgress: (done, total) => progress.push(done / total) });
    expect(set.classNames).toEqual(['bad', 'good']);
    expect(set.y.length).toBe(2);
    expect(Array.from(set.y)).toEqual([0, 1]);
    expect(set.x.length).toBe(2 * 12);
    expect(Array.from(set.x.subarray(0, 12))).toEqual(RGB_2X2);
    expect(Array.from(set.x.subarray(12))).toEqual(RGB_2X2);
    expect(set.files).toEqual([join(dir, 'bad', 'ok2.png'), join(dir, 'good', 'ok.png')]);
    const reasons = Object.fromEntries(set.skipped.map((s) => [s.file.slice(dir.length + 5), s.reason]));
    expect(Object.keys(reasons).sort()).toEqual(['corrupt.png', 'empty.png', 'text.png', 'truncated.jpg', 'truncated.png', 'zero-size.png']);
    expect(reasons['empty.png']).toMatch(/empty file/);
    for (const r of Object.values(reasons)) expect(r).toMatch(/empty|cannot decode/);
    expect(progress.at(-1)).toBe(1);
    expect(progress.length).toBe(8);
    const refused = loadImageFolder(dir, { size: [2, 2], onBadImage: 'refuse' });
    await expect(refused).rejects.toThrow(/6 bad images/);
    await expect(refused).rejects.toThrow(/corrupt\.png.*\n.*\n.*\n.*\n.*truncated\.png/s);
  });

  it('refuses up front: no folder, a file, no class folders, an empty class, a missing class, over the byte cap', async () => {
    const png = makePng(2, 2, 3, RGB_2X2);
    await expect(loadImageFolder(join(root, 'nowhere'), { size: [2, 2] })).rejects.toThrow(/nowhere: no such folder/);
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    await expect(loadImageFolder(file, { size: [2, 2] })).rejects.toThrow(/a-file: not a folder/);
    mkdirSync(join(root, 'flat'));
    writeFileSync(join(root, 'flat', 'loose.png'), png);
    await expect(loadImageFolder(join(root, 'flat'), { size: [2, 2] })).rejects.toThrow(/flat: no class folders/);
    const dir = folder('empty-class', { a: { '1.png': png }, b: { 'readme.md': '#' } });
    await expect(loadImageFolder(dir, { size: [2, 2] })).rejects.toThrow(/class folder b holds no images/);
    await expect(loadImageFolder(dir, { size: [2, 2], classNames: ['a', 'zebra'] })).rejects.toThrow(/no folder for class zebra/);
    const ok = folder('capped', { a: { '1.png': png, '2.png': png }, b: { '1.png': png } });
    await expect(loadImageFolder(ok, { size: [224, 224], maxBytes: 224 * 224 * 3 * 2 })).rejects.toThrow(/3 images of 224×224×3 need 451584 bytes, more than the cap of 301056/);
    await expect(loadImageFolder(ok, { size: [0, 2] })).rejects.toThrow(/size must be \[height, width\]/);
  });

  it('limits per class and in all (round-robin), and feeds a model through imageSetSource without leaking tensors', async () => {
    const png = makePng(2, 2, 3, RGB_2X2);
    const dir = folder('limits', { a: { '1.png': png, '2.png': png, '10.png': png }, b: { '1.png': png } });
    const limited = await loadImageFolder(dir, { size: [2, 2], perClassLimit: 2 });
    expect(limited.files.map((f) => f.slice(dir.length + 1))).toEqual([join('a', '1.png'), join('a', '2.png'), join('b', '1.png')]);
    // a symbolic link to a class folder, or to an image, counts as what it points to
    const links = folder('links', { real: { '1.png': png } });
    symlinkSync(join(links, 'real'), join(links, 'linked'));
    symlinkSync(join(links, 'real', '1.png'), join(links, 'real', '2.png'));
    const linked = await loadImageFolder(links, { size: [2, 2] });
    expect([linked.classNames, linked.y.length]).toEqual([['linked', 'real'], 4]);
    const capped = await loadImageFolder(dir, { size: [2, 2], maxImages: 3, concurrency: 1 });
    expect(Array.from(capped.y)).toEqual([0, 0, 1]);
    // the model outputs 2 classes: the folders fit with head 'keep', not a 3-output model
    expect(checkClasses(capped.classNames, 2, 'keep').labelOffset).toBe(0);
    expect(() => checkClasses(capped.classNames, 3, 'keep', undefined, { source: dir })).toThrow(
      /2 class folders \(a, b\) but the model outputs 3 classes; use --head extend or replace/,
    );
    await expectNoLeak(() => {
      const source = imageSetSource(capped, { preprocessing: 'symmetric' });
      for (const b of source.batches(2)) {
        expect(b.x.shape.slice(1)).toEqual([2, 2, 3]);
        const v = b.x.dataSync();
        expect(v[0]).toBeCloseTo(255 / 127.5 - 1, 6);
        expect(v[1]).toBeCloseTo(-1, 6);
        tf.dispose([b.x, b.y]);
      }
    });
  });
});
