/**
 * Rotated MNIST (Lopez-Paz and Ranzato 2017; paper 2's conv queue): each task is the dataset rotated by
 * a fixed angle (degrees, counter-clockwise, about the image centre). A multiple of 90° is an exact pixel
 * permutation, applied per batch like permuted MNIST (no copy). Any other angle needs resampling:
 * one rotated Uint8 copy of the training and test images is made per such angle (bilinear, zero fill),
 * i.e. one more dataset's worth of memory per angle.
 */
import type { Task } from '@forgetless/core';
import type { MnistFormatDataset } from '../mnist-format.js';
import { type PartOptions, type TaskParts, datasetParts } from './parts.js';

export interface RotatedOptions extends PartOptions {
  /** Angles of the tasks in degrees, counter-clockwise (default [0, 90, 180, 270]: no copies). */
  angles?: readonly number[];
}

/** True when rotating by `degrees` is a pixel permutation (a multiple of 90°). */
export function isRightAngle(degrees: number): boolean {
  return Number.isFinite(degrees) && degrees % 90 === 0;
}

/**
 * The pixel permutation of a rotation by a multiple of 90°: pixel i of the rotated image is pixel
 * perm[i] of the original (row-major rows × cols; 90° and 270° need square images).
 */
export function rotationPermutation(rows: number, cols: number, degrees: number): Int32Array {
  if (!isRightAngle(degrees)) throw new Error(`rotationPermutation: ${degrees}° is not a multiple of 90°`);
  const quarter = (((degrees / 90) % 4) + 4) % 4;
  if (quarter % 2 === 1 && rows !== cols) throw new Error(`rotationPermutation: a ${degrees}° rotation of ${rows}×${cols} images needs square images`);
  const perm = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // source pixel of output (r, c) under a counter-clockwise rotation by quarter × 90°
      let sr = r;
      let sc = c;
      if (quarter === 1) [sr, sc] = [c, cols - 1 - r];
      else if (quarter === 2) [sr, sc] = [rows - 1 - r, cols - 1 - c];
      else if (quarter === 3) [sr, sc] = [rows - 1 - c, r];
      perm[r * cols + c] = sr * cols + sc;
    }
  }
  return perm;
}

/**
 * A rotated copy of `images` (count × rows × cols, uint8): each output pixel samples the original
 * bilinearly at the inversely rotated position; positions outside the image read 0.
 */
export function rotateImages(images: Uint8Array, rows: number, cols: number, degrees: number): Uint8Array {
  const d = rows * cols;
  if (images.length % d !== 0) throw new Error(`rotateImages: ${images.length} pixels is not a whole number of ${rows}×${cols} images`);
  const [cos, sin] = cosSin(degrees);
  const cy = (rows - 1) / 2;
  const cx = (cols - 1) / 2;
  // For each output pixel the 4 source taps and weights are the same in every image: precompute them.
  const taps = new Int32Array(d * 4).fill(-1);
  const weights = new Float32Array(d * 4);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const x = c - cx;
      const y = cy - r; // y up
      const sx = x * cos + y * sin + cx;
      const sr = cy - (-x * sin + y * cos);
      const c0 = Math.floor(sx);
      const r0 = Math.floor(sr);
      const fx = sx - c0;
      const fy = sr - r0;
      const k = (r * cols + c) * 4;
      const corners: [number, number, number][] = [
        [r0, c0, (1 - fy) * (1 - fx)],
        [r0, c0 + 1, (1 - fy) * fx],
        [r0 + 1, c0, fy * (1 - fx)],
        [r0 + 1, c0 + 1, fy * fx],
      ];
      corners.forEach(([rr, cc, w], j) => {
        if (rr >= 0 && rr < rows && cc >= 0 && cc < cols && w > 0) {
          taps[k + j] = rr * cols + cc;
          weights[k + j] = w;
        }
      });
    }
  }
  const out = new Uint8Array(images.length);
  for (let off = 0; off < images.length; off += d) {
    for (let p = 0; p < d; p++) {
      let v = 0;
      for (let j = 0; j < 4; j++) {
        const t = taps[p * 4 + j] as number;
        if (t >= 0) v += (weights[p * 4 + j] as number) * (images[off + t] as number);
      }
      out[off + p] = Math.round(v);
    }
  }
  return out;
}

/** One task of `data` rotated by `degrees`, over `base` (the unrotated parts) when it is a right angle. */
export function rotatedTask(data: MnistFormatDataset, base: TaskParts, degrees: number, options: PartOptions & { numClasses?: number }, name: string): Task {
  let parts: TaskParts;
  if (isRightAngle(degrees)) {
    const quarter = (((degrees / 90) % 4) + 4) % 4;
    const change = { permutation: quarter === 0 ? undefined : rotationPermutation(data.rows, data.cols, degrees) };
    parts = {
      train: base.train.with(change),
      test: base.test.with(change),
      ...(base.validation ? { validation: base.validation.with(change) } : {}),
    };
  } else {
    const images = {
      train: rotateImages(data.train.images, data.rows, data.cols, degrees),
      test: rotateImages(data.test.images, data.rows, data.cols, degrees),
    };
    parts = datasetParts(data, { ...options, images });
  }
  return { name, ...parts };
}

/** One task per angle, named `<dataset>-rot<angle>`. */
export function rotatedTasks(data: MnistFormatDataset, options: RotatedOptions = {}): Task[] {
  const angles = options.angles ?? [0, 90, 180, 270];
  if (angles.length === 0) throw new Error('rotated: angles is empty');
  for (const a of angles) if (!Number.isFinite(a)) throw new Error(`rotated: angle ${a} is not a finite number of degrees`);
  const base = datasetParts(data, options);
  return angles.map((a) => rotatedTask(data, base, a, options, `${data.name}-rot${a}`));
}

/** cos and sin of an angle in degrees, exact at multiples of 90°. */
function cosSin(degrees: number): [number, number] {
  if (isRightAngle(degrees)) {
    const q = (((degrees / 90) % 4) + 4) % 4;
    return [
      [1, 0],
      [0, 1],
      [-1, 0],
      [0, -1],
    ][q] as [number, number];
  }
  const rad = (degrees * Math.PI) / 180;
  return [Math.cos(rad), Math.sin(rad)];
}
