import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { UserError } from './errors.js';
import { MAX_THREADS, parseThreads } from './threads.js';

/** The usage error `parseThreads` throws, or undefined. */
function refusal(text: string | undefined, backend: string): UserError | undefined {
  try {
    parseThreads(text, backend);
    return undefined;
  } catch (e) {
    return e as UserError;
  }
}

describe('--threads', () => {
  it('one thread when not given; a count, or auto for the machine’s cores', () => {
    expect(parseThreads(undefined, 'wasm')).toBe(1);
    expect(parseThreads(undefined, 'cpu')).toBe(1);
    expect(parseThreads('2', 'wasm')).toBe(2);
    expect(parseThreads(' 4 ', 'wasm')).toBe(4);
    expect(parseThreads(String(MAX_THREADS), 'wasm')).toBe(MAX_THREADS);
    expect(parseThreads('auto', 'wasm')).toBe(availableParallelism());
    // one thread is every backend's way of running
    expect(parseThreads('1', 'cpu')).toBe(1);
  });

  it('refuses what is not a whole number from 1 to 64 or auto, naming the flag and the value (exit code 2)', () => {
    for (const bad of ['0', '-2', '1.5', 'two', '', '65', '1e3', 'Infinity']) {
      const e = refusal(bad, 'wasm');
      expect(e, bad).toBeInstanceOf(UserError);
      expect(e?.exitCode).toBe(2);
      expect(e?.message).toBe(`--threads: expected a whole number from 1 to 64 or auto, got '${bad}'`);
    }
  });

  it('refuses more than one thread on a backend other than wasm, naming both flags', () => {
    const e = refusal('2', 'cpu');
    expect(e?.exitCode).toBe(2);
    expect(e?.message).toMatch(/^--threads: only the wasm backend runs on threads here; --backend cpu given/);
    // auto on a one-core machine is one thread, which cpu takes; on more cores it is refused like a count
    if (availableParallelism() > 1) expect(refusal('auto', 'tensorflow')?.message).toMatch(/--backend tensorflow given/);
  });
});
