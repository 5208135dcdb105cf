import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    setupFiles: [fileURLToPath(new URL('./setup-cpu.ts', import.meta.url))],
    include: ['*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // one file at a time: the real-model tests run long synchronous tfjs computations on the cpu
    // backend, and beside the packaging test's subprocesses on a loaded 2-core machine a worker's
    // event loop stayed blocked past vitest's 60 s RPC timeout ("Timeout calling onTaskUpdate")
    fileParallelism: false,
  },
});
