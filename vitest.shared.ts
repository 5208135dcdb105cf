// The vitest settings every workspace shares; each package's vitest.config.ts extends it.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    setupFiles: [fileURLToPath(new URL('./test/setup-cpu.ts', import.meta.url))],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
  },
});
