// The page's end-to-end test (`npm run web:e2e -w @forgetless/cli`): builds the page, serves it and
// drives headless Chromium. Kept out of the demo's unit-test config, so `vitest run` there stays quick.
import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../../vitest.shared.js';

export default mergeConfig(
  { ...shared, test: { ...shared.test, include: [] } },
  defineConfig({
    root: fileURLToPath(new URL('.', import.meta.url)),
    test: { include: ['*.e2e.test.ts'], testTimeout: 180_000, hookTimeout: 180_000 },
  }),
);
