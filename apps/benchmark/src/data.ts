/** Seeded random data for the workloads (timings do not depend on the data; agreement needs it seeded). */
import { ArraySource, Rng } from '@forgetless/core';

/** `n` random uint8 images of `shape` (scaled to [0, 1] per batch) with random labels among `classes` (10). */
export function randomImages(n: number, shape: readonly number[], seed: number, classes = 10): ArraySource {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Uint8Array.from({ length: n * size }, () => rng.int(256));
  const y = Int32Array.from({ length: n }, () => rng.int(classes));
  return new ArraySource({ x, y, exampleShape: [...shape], numClasses: classes });
}
