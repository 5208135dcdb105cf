/**
 * Synthetic continual-learning tasks for tests and quick demos: Gaussian class clusters in a small
 * feature space, with one seeded feature permutation per task (a miniature permuted-MNIST).
 */
import { ArraySource } from './data.js';
import type { Task } from './data.js';
import { Rng } from './rng.js';

export interface SyntheticOptions {
  numTasks?: number;
  features?: number;
  numClasses?: number;
  trainPerClass?: number;
  testPerClass?: number;
  /** Cluster spread relative to the distance between class centres. */
  noise?: number;
  seed?: number;
}

export function syntheticPermutedTasks(options: SyntheticOptions = {}): Task[] {
  const numTasks = options.numTasks ?? 3;
  const d = options.features ?? 64;
  const k = options.numClasses ?? 10;
  const nTr = options.trainPerClass ?? 100;
  const nTe = options.testPerClass ?? 50;
  const noise = options.noise ?? 0.8;
  const rng = new Rng(options.seed ?? 0);
  const centres = Array.from({ length: k }, () => Float32Array.from({ length: d }, () => rng.normal()));
  const make = (perClass: number) => {
    const x = new Float32Array(perClass * k * d);
    const y = new Int32Array(perClass * k);
    for (let i = 0; i < perClass * k; i++) {
      const c = i % k;
      y[i] = c;
      const mu = centres[c] as Float32Array;
      for (let f = 0; f < d; f++) x[i * d + f] = (mu[f] as number) + noise * rng.normal();
    }
    return { x, y };
  };
  const train = make(nTr);
  const test = make(nTe);
  const tasks: Task[] = [];
  for (let t = 0; t < numTasks; t++) {
    const permutation = t === 0 ? undefined : rng.fork(`perm${t}`).permutation(d);
    const src = (s: { x: Float32Array; y: Int32Array }) => new ArraySource({ x: s.x, y: s.y, exampleShape: [d], numClasses: k, ...(permutation ? { permutation } : {}) });
    const tr = src(train);
    tasks.push({ name: `synthetic-${t}`, train: tr, test: src(test), validation: tr.subset(Array.from({ length: Math.min(500, tr.size) }, (_, i) => i)) });
  }
  return tasks;
}
