import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_SLICES, runSlices, slicesFor, splitRange } from './kernel-threads.js';

describe('kernel threads: splitting', () => {
  it('splitRange cuts a range into aligned slices that cover it once', () => {
    for (const [total, parts, align] of [
      [18432, 8, 4],
      [72, 4, 4],
      [7, 3, 1],
      [8, 16, 1],
      [1, 4, 64],
      [4609, 8, 64],
    ] as const) {
      const s = splitRange(total, parts, align);
      expect(s.length).toBeLessThanOrEqual(parts);
      let next = 0;
      for (const [start, count] of s) {
        expect(start).toBe(next);
        expect(start % align).toBe(0);
        expect(count).toBeGreaterThan(0);
        next = start + count;
      }
      expect(next).toBe(total);
    }
    expect(splitRange(0, 4)).toEqual([[0, 0]]);
  });

  it('slicesFor gives one slice on one thread and at most MAX_SLICES', () => {
    expect(slicesFor(1)).toBe(1);
    expect(slicesFor(2)).toBe(8);
    expect(slicesFor(2, 2)).toBe(4);
    expect(slicesFor(64)).toBe(MAX_SLICES);
  });

  it('without a pool (an ordinary memory) runs every slice in order on the calling thread', () => {
    const seen: number[][] = [];
    runSlices(new WebAssembly.Memory({ initial: 1 }), (_, a) => seen.push(a), 'any', [[1], [2], [3]]);
    expect(seen).toEqual([[1], [2], [3]]);
  });
});

/**
 * `kernel-threads.check.mjs` in a fresh Node process (threads are chosen before wasm first initialises),
 * from the built package: forgetless's kernels on tfjs-wasm's threaded build, 2 threads against 1 in
 * the same process.
 */
describe('kernel threads on tfjs-wasm threaded build (2 threads)', () => {
  const script = fileURLToPath(new URL('./kernel-threads.check.mjs', import.meta.url));
  const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
  const out = execFileSync(process.execPath, [script, dist], { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
  const result = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
    status: { threads: number };
    ops: Record<string, { rel: number; jobs: number; jobsOnOne: number; reduction: boolean }>;
    nets: Record<string, { loss: number; weights: number; leaked: number[]; jobs: number; jobsOnOne: number; losses: number[] }>;
  };

  it('starts a pool of 2 threads for the kernels', () => {
    expect(result.status.threads).toBe(2);
  });

  it('splits each kernel over the threads: forwards and input gradients the same to the bit, sums over the batch (partial sums added) within 1e-5', () => {
    const names = Object.keys(result.ops);
    expect(names.length).toBe(18);
    expect(names.filter((n) => result.ops[n]?.reduction).length).toBe(8);
    for (const name of names) {
      const r = result.ops[name] as { rel: number; jobs: number; jobsOnOne: number; reduction: boolean };
      expect(r.jobs, name).toBeGreaterThan(0);
      expect(r.jobsOnOne, name).toBe(0);
      if (r.reduction) expect(r.rel, name).toBeLessThan(1e-5);
      else expect(r.rel, name).toBe(0);
    }
  });

  it('trains MobileNetV2- and InceptionV3-style nets (stock tfjs-layers, imported) as on one thread, without leaking tensors', () => {
    for (const [name, r] of Object.entries(result.nets)) {
      expect(r.jobs, name).toBeGreaterThan(10);
      expect(r.jobsOnOne, name).toBe(0);
      expect(r.loss, name).toBeLessThan(1e-5);
      expect(r.weights, name).toBeLessThan(1e-5);
      expect(r.leaked, name).toEqual([0, 0]);
      expect(r.losses.every(Number.isFinite), name).toBe(true);
      expect(r.losses[1] as number, name).toBeLessThan(r.losses[0] as number);
    }
  });
});
