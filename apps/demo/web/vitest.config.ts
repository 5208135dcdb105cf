// The page's end-to-end tests (`npm run web:e2e -w @forgetless/cli`): globalSetup builds the page
// (asynchronously, in a child process), the tests serve it and drive headless Chromium. Kept out of
// the demo's unit-test config, so `vitest run` there stays quick. Generous timeouts: the machine may
// be loaded (2 cores shared).
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../../vitest.shared.js';

export default mergeConfig(
  { ...shared, test: { ...shared.test, include: [] } },
  defineConfig({
    root: fileURLToPath(new URL('.', import.meta.url)),
    test: {
      include: ['*.e2e.test.ts'],
      globalSetup: ['./e2e-setup.ts'],
      testTimeout: 300_000,
      hookTimeout: 300_000,
      teardownTimeout: 60_000,
      // one file at a time: each drives its own Chromium
      fileParallelism: false,
    },
  }),
);
