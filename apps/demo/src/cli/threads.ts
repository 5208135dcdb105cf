/**
 * `--threads`: wasm on tfjs's threaded build (`useBackend('wasm', { threads })`), where XNNPACK's ops and
 * forgetless's own kernels split their work over the threads. One thread unless asked: results then do
 * not depend on the machine, while sums split over threads round differently (within ~1e-6 per op).
 */
import { availableParallelism } from 'node:os';
import type { BackendName } from '@forgetless/core';
import { Option } from 'commander';
import { usage } from './errors.js';

/** The most threads `--threads` takes: tfjs-wasm's pool is sized once, and more threads than cores only contend. */
export const MAX_THREADS = 64;

/** The option, for every command that picks a backend. */
export function threadsOption(): Option {
  return new Option(
    '--threads <n>',
    `wasm: threads for its kernels, a number or auto (this machine's ${availableParallelism()} cores); more than one changes sums' rounding (default: 1)`,
  );
}

/**
 * The thread count `--threads` asks for on `backend`: 1 when not given; `auto` is the machine's cores.
 * A usage error names the flag and the value at fault: not a whole number from 1 to 64, or more than one
 * on a backend other than wasm.
 */
export function parseThreads(text: string | undefined, backend: string): number {
  if (text === undefined) return 1;
  const t = text.trim();
  const n = t === 'auto' ? availableParallelism() : Number(t);
  if (t === '' || !Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw usage(`--threads: expected a whole number from 1 to ${MAX_THREADS} or auto, got '${text}'`);
  if (n > 1 && backend !== 'wasm') throw usage(`--threads: only the wasm backend runs on threads here; --backend ${backend} given (drop --threads, or use --backend wasm)`);
  return n;
}

/** Activates `backend` on `threads` threads (wasm; 1: its one-thread build); returns how the logs name it, e.g. `wasm, 2 threads` (the count running). */
export async function startBackend(backend: string, threads: number): Promise<string> {
  // imported here: the program's options load without tfjs, so refusals stay fast
  const { kernelThreadsStatus, useBackend } = await import('@forgetless/core');
  const name = await useBackend(backend as BackendName, threads > 1 ? { threads } : {});
  // the count the kernels run on, as the backend reports it (useBackend checks it is the one asked for)
  const running = name === 'wasm' ? kernelThreadsStatus().threads : 1;
  return running > 1 ? `${name}, ${running} threads` : name;
}
