import { describe, expect, it } from 'vitest';
import { withBrowserWasmThreads } from './wasm-threads.js';

type Nav = { hardwareConcurrency: number };

describe('withBrowserWasmThreads', () => {
  // tfjs-wasm's C++ side sizes its pool at navigator.hardwareConcurrency / 2: asked for N, it reads 2N while
  // the module initialises, then the browser's own value again (checked in Chromium by the page's dev-server test)
  it('tells the init of 2·N logical cores, then puts the navigator back, also when the init throws', async () => {
    const g = globalThis as { navigator?: Nav };
    const had = Object.getOwnPropertyDescriptor(g, 'navigator');
    // a browser's navigator: hardwareConcurrency a getter on its prototype
    const proto = {
      get hardwareConcurrency() {
        return 2;
      },
    };
    const nav = Object.create(proto) as Nav;
    Object.defineProperty(g, 'navigator', { configurable: true, value: nav });
    try {
      expect(await withBrowserWasmThreads(3, async () => nav.hardwareConcurrency)).toBe(6);
      expect(nav.hardwareConcurrency).toBe(2);
      expect(Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency')).toBeUndefined();
      await expect(
        withBrowserWasmThreads(4, async () => {
          throw new Error(`init failed at ${nav.hardwareConcurrency}`);
        }),
      ).rejects.toThrow('init failed at 8');
      expect(nav.hardwareConcurrency).toBe(2);
    } finally {
      if (had) Object.defineProperty(g, 'navigator', had);
      else delete g.navigator;
    }
  });
});
