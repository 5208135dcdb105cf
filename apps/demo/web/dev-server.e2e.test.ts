/**
 * The dev server does not lose the first run: on a fresh dependency cache, `vite` (the page's
 * vite.config.ts) pre-bundles the worker's dependencies up front (optimizeDeps.entries/include), so
 * pressing Run does not make Vite discover new dependencies, re-optimise and reload the page under
 * the run. The page is loaded once, a tiny experiment runs to its end, and the page never navigated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { type ViteDevServer, createServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectErrors, haveChromium, launchChromium, waitForEnd } from './e2e.test-util.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));

describe.skipIf(!haveChromium)('the dev server', () => {
  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  const cacheDir = mkdtempSync(join(tmpdir(), 'forgetless-vite-cache-'));

  beforeAll(async () => {
    server = await createServer({ configFile: join(HERE, 'vite.config.ts'), cacheDir, server: { host: '127.0.0.1', port: 0, strictPort: false }, logLevel: 'error' });
    await server.listen();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('runs the first experiment on a fresh dependency cache without reloading the page, cross-origin isolated, on the wasm threads asked for', async () => {
    const url = server?.resolvedUrls?.local[0] as string;
    const page = await (browser as Browser).newPage();
    const errors = collectErrors(page);
    let navigations = 0;
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations++;
    });
    await page.goto(`${url}?methods=plain&tasks=2&steps=10&batch=32&every=5&correlations=0&pruning=0&backend=wasm&threads=2`, { timeout: 120_000 });
    // served cross-origin isolated (vite.config.ts's COOP/COEP headers): the worker's wasm takes tfjs's threaded build
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);
    await page.locator('#run').click();
    expect(await waitForEnd(page, 90_000)).toBe('done');
    expect(await page.locator('#matrices td[data-value]').count()).toBe(3);
    expect(await page.locator('#backend-name').getAttribute('data-threads')).toBe('2');
    expect(await page.locator('#backend-name').textContent()).toMatch(/^backend: wasm, 2 threads/);
    expect(navigations, 'the page was loaded once, never reloaded').toBe(1);
    expect(errors.filter((e) => !/vite|hmr/i.test(e))).toEqual([]);
    await page.close();
  });
});
