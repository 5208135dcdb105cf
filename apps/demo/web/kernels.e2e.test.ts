/**
 * forgetless's WebAssembly SIMD kernels in a real browser: the kernel check page (`kernels.html`,
 * built by globalSetup with the demo page) in Debian's headless Chromium. The page runs the kernels
 * on its main thread, on tfjs-backend-wasm with SIMD on (the module compiled asynchronously, bound to
 * tfjs-wasm's memory), and compares depthwise and 1×1 convolutions (forward, ∂x, ∂W), training batch
 * norm, ReLU6 and its gradient (≤ 1e-5 relative) and one SGD step of a MobileNet-style forgetless model
 * (≤ 1e-4) with the same ops on tfjs's cpu backend (stock gradients) in the same page; the kernels'
 * call counts show each group ran on them, not on the composed fallback.
 *
 * Served twice: as the page is served (no cross-origin isolation, so tfjs-wasm runs its one-thread
 * SIMD build on an ordinary memory), and cross-origin isolated (COOP/COEP headers: tfjs-wasm's
 * threaded build on a shared memory, asked for 2 threads, and the kernels' shared-memory variant; the page is told of 4 logical cores,
 * as tfjs caps its pool at half of them). Skipped when
 * /usr/bin/chromium is absent (CI installs it with scripts/install-system-deps.sh).
 */
import type { Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST, collectErrors, haveChromium, launchChromium, serve } from './e2e.test-util.js';
import type { KernelCheck } from './kernels-result.js';

describe.skipIf(!haveChromium)("forgetless's SIMD kernels in headless Chromium", () => {
  let browser: Browser | undefined;
  const servers: Server[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  interface Run {
    /** Served with COOP/COEP (cross-origin isolated), the page told of 4 logical cores. */
    isolated?: boolean;
    query?: string;
    /** `new WebAssembly.Module` refuses modules over 4 KB, as browsers that limit synchronous compiles on the main thread do. */
    refuseSyncCompile?: boolean;
  }

  /** Loads the check page and returns its result (failing with the page's message on an error) and the synchronous compiles refused. */
  async function check(run: Run): Promise<{ result: KernelCheck; errors: string[]; refused: number }> {
    const { server, url } = await serve(DIST, run.isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {});
    servers.push(server);
    const page = await (browser as Browser).newPage();
    // tfjs-wasm's threaded build caps its pool at half the logical cores (hyperthreads assumed): on a
    // 2-core machine that is 1 whatever is asked, so the isolated page is told of 4 to run 2 threads
    if (run.isolated) await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => 4 }));
    if (run.refuseSyncCompile)
      await page.addInitScript(() => {
        const g = globalThis as unknown as { __refusedSyncCompiles: number };
        g.__refusedSyncCompiles = 0;
        const Original = WebAssembly.Module;
        const Refusing = function (this: unknown, bytes: BufferSource) {
          if (bytes.byteLength > 4096) {
            g.__refusedSyncCompiles++;
            throw new RangeError('WebAssembly.Module(): synchronous compile of a module over 4 KB refused on the main thread (test)');
          }
          return new Original(bytes);
        } as unknown as typeof WebAssembly.Module;
        Object.setPrototypeOf(Refusing, Original);
        Refusing.prototype = Original.prototype;
        WebAssembly.Module = Refusing;
      });
    const errors = collectErrors(page);
    await page.goto(`${url}kernels.html${run.query ?? ''}`);
    await page.waitForFunction(() => document.body.dataset.state !== 'running', undefined, { timeout: 120_000, polling: 100 });
    if ((await page.getAttribute('body', 'data-state')) !== 'done') throw new Error(`the check page reported: ${await page.textContent('#summary')}`);
    const result = JSON.parse((await page.textContent('#result')) ?? '') as KernelCheck;
    const refused = await page.evaluate(() => (globalThis as unknown as { __refusedSyncCompiles?: number }).__refusedSyncCompiles ?? 0);
    await page.close();
    return { result, errors, refused };
  }

  /** The assertions every run makes; logs the figures. */
  function expectAgreement(r: KernelCheck, errors: string[], label: string): void {
    expect(r.statusBefore, 'the module compiled and bound before the first op').toMatchObject({ active: true, state: 'active' });
    expect(r.statusAfter.active).toBe(true);
    for (const g of r.groups) {
      for (const k of g.expectedKernels) expect(g.kernelCalls[k] ?? 0, `${g.name}: kernel ${k} served it`).toBeGreaterThan(0);
      for (const row of g.rows) expect(row.relErr, row.name).toBeLessThanOrEqual(row.tolerance);
    }
    expect(r.numTensors.after, 'numTensors unchanged').toBe(r.numTensors.before);
    expect(errors).toEqual([]);
    const worst = (tol: number) => Math.max(...r.groups.flatMap((g) => g.rows.filter((row) => row.tolerance === tol).map((row) => row.relErr)));
    console.log(
      `kernels e2e (${label}): ${r.statusBefore.variant} variant, compiled ${r.statusBefore.compile}, tfjs-wasm threads ${r.tfjsWasmThreads}, ` +
        `crossOriginIsolated ${r.crossOriginIsolated}; max relative error: ops ${worst(1e-5).toExponential(2)}, SGD step ${worst(1e-4).toExponential(2)}; ` +
        `${r.millis.toFixed(0)} ms in the page; ${r.userAgent}`,
    );
    for (const g of r.groups) console.log(`  ${g.name}: max ${Math.max(...g.rows.map((row) => row.relErr)).toExponential(2)}; kernel calls ${JSON.stringify(g.kernelCalls)}`);
  }

  it('run on the page as served (not cross-origin isolated): the one-thread variant, agreeing with cpu', async () => {
    const { result: r, errors } = await check({});
    expect(r.crossOriginIsolated).toBe(false);
    expect(r.wasmMemoryShared).toBe(false);
    expect(r.tfjsWasmThreads).toBe(1);
    expect(r.statusBefore.variant).toBe('single-thread');
    expect(r.kernelThreads.threads).toBe(1);
    expect(r.kernelThreads.jobs).toBe(0);
    expectAgreement(r, errors, 'as served');
  });

  it('run cross-origin isolated: tfjs-wasm threaded build on 2 threads, the shared-memory variant, agreeing with cpu', async () => {
    const { result: r, errors } = await check({ isolated: true, query: '?threads=2' });
    expect(r.crossOriginIsolated).toBe(true);
    expect(r.wasmMemoryShared).toBe(true);
    expect(r.tfjsWasmThreads).toBe(2);
    expect(r.statusBefore.variant).toBe('shared-memory');
    // forgetless's kernels on the same 2 threads (a Web Worker beside the page), the large checks split over them
    expect(r.kernelThreads.threads).toBe(2);
    expect(r.kernelThreads.jobs).toBeGreaterThanOrEqual(6);
    expectAgreement(r, errors, 'cross-origin isolated');
  });

  it('activated by tf.setBackend where synchronous compiles are refused: the first op on the composed fallback, then the kernels once compiled asynchronously', async () => {
    const { result: r, errors, refused } = await check({ query: '?activate=set-backend', refuseSyncCompile: true });
    expect(refused, 'the module was refused a synchronous compile').toBeGreaterThan(0);
    const first = r.firstOp as NonNullable<KernelCheck['firstOp']>;
    expect(first.status.state).toBe('compiling');
    expect(Object.keys(first.group.kernelCalls), 'no kernel served the first op').toEqual([]);
    for (const row of first.group.rows) expect(row.relErr, `fallback: ${row.name}`).toBeLessThanOrEqual(row.tolerance);
    expect(r.statusBefore.compile).toBe('async');
    expect(r.statusBefore.variant).toBe('single-thread');
    expectAgreement(r, errors, 'tf.setBackend, sync compile refused');
  });
});
