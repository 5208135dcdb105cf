/**
 * Backend selection. forgetless speaks tfjs-core only; the application picks the backend. Backend
 * packages are optional peers, so an application installs only the ones it uses.
 *
 * A backend the application has imported (`import '@tensorflow/tfjs-backend-wasm'`) is registered
 * with tfjs, and `useBackend` uses it as it is. Only a backend not registered yet is imported by
 * package name: that works in Node and in unbundled ES modules with an import map, but a bundler
 * cannot follow an import whose name is only known at run time, so bundled applications import the
 * backend themselves.
 */
import * as tf from '@tensorflow/tfjs-core';
import { prepareSimdThreads } from './ops/depthwise-simd.js';
import { ensureOwnGradients } from './ops/own-gradients.js';
import { guardWasmMalloc } from './ops/wasm-memory.js';
import { wasmThreadsCount, withBrowserWasmThreads, withNodeWasmThreads } from './wasm-threads.js';

export type BackendName = 'cpu' | 'wasm' | 'webgl' | 'webgpu' | 'tensorflow' | 'tensorflow-gpu';

const PACKAGES: Record<BackendName, string> = {
  cpu: '@tensorflow/tfjs-backend-cpu',
  wasm: '@tensorflow/tfjs-backend-wasm',
  webgl: '@tensorflow/tfjs-backend-webgl',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  tensorflow: '@tensorflow/tfjs-node',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
};

/** Registered tfjs backend name for each forgetless backend name. */
const TFJS_NAME: Record<BackendName, string> = {
  cpu: 'cpu',
  wasm: 'wasm',
  webgl: 'webgl',
  webgpu: 'webgpu',
  tensorflow: 'tensorflow',
  'tensorflow-gpu': 'tensorflow',
};

/** The three binaries of tfjs-backend-wasm, the keys of a `wasmPaths` map. */
export type WasmBinaryName = 'tfjs-backend-wasm.wasm' | 'tfjs-backend-wasm-simd.wasm' | 'tfjs-backend-wasm-threaded-simd.wasm';

export interface UseBackendOptions {
  /** wasm: use SIMD where the platform has it (default true). */
  simd?: boolean;
  /**
   * wasm: threads for XNNPACK and forgetless's kernels. `false` or 1: one thread (the default in Node).
   * A number N > 1 uses tfjs's threaded SIMD build with N threads, in Node too (see `wasm-threads.ts`
   * for what that takes there), and in a browser page that is cross-origin isolated (COOP/COEP
   * headers; elsewhere tfjs runs one thread), N even beyond tfjs's own cap of half the logical cores;
   * `true` (or not given): tfjs's choice (half the cores, at most 4, where the page allows threads;
   * one in Node). Takes effect in a process (or worker) whose wasm backend has not initialised yet.
   */
  threads?: boolean | number;
  /**
   * wasm: where the `.wasm` binaries are served, as tfjs-backend-wasm's `setWasmPaths` takes it: a
   * URL prefix ending in `/` (e.g. `'/assets/'`, or a CDN folder
   * `https://cdn.jsdelivr.net/npm/@tensorflow/tfjs-backend-wasm@4.22.0/dist/`), or a map from each
   * binary's file name to its URL. Bundled browser apps need it unless the binaries are served beside
   * the page. Set before the wasm backend first initialises; ignored once it has.
   */
  wasmPaths?: string | Record<WasmBinaryName, string>;
  /**
   * The backend package's module as the application imported it
   * (`import * as wasm from '@tensorflow/tfjs-backend-wasm'`, then `{ module: wasm, wasmPaths }`).
   * Only `wasmPaths` needs it, and only in a bundle, where useBackend cannot import the package by name.
   */
  module?: unknown;
}

interface WasmModule {
  setWasmPaths(prefixOrFileMap: string | Record<string, string>, usePlatformFetch?: boolean): void;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

function isBackendName(name: string): name is BackendName {
  return Object.hasOwn(PACKAGES, name);
}

function installHint(name: BackendName): string {
  const pkg = PACKAGES[name];
  if (name === 'tensorflow' || name === 'tensorflow-gpu') {
    return (
      `install it with \`npm install ${pkg}@^4.22.0\`. Its install step downloads the libtensorflow binary ` +
      `from Google's storage, so it fails on machines without internet access or on platforms it has no ` +
      `binary for${name === 'tensorflow-gpu' ? ' (and needs CUDA and cuDNN)' : ''}; use 'wasm' or 'cpu' there.`
    );
  }
  return `install it with \`npm install ${pkg}@^4.22.0\`.`;
}

/**
 * The error for a backend package that could not be imported by name. In Node the package is missing
 * (or broken); elsewhere it is most often a bundled app, whose bundler could not follow the import:
 * the application has to import the package itself. (Exported for tests.)
 */
export function backendImportError(name: BackendName, error: unknown, node = isNode): Error {
  const pkg = PACKAGES[name];
  const err = error as { code?: string; message?: string };
  const message = err?.message ?? String(error);
  if (!node) {
    return new Error(
      `backend '${name}' is not registered, and ${pkg} could not be imported by name here (${message}). ` +
        `Bundlers cannot follow useBackend's import by name: import the package in your application, ` +
        `\`import '${pkg}';\`, before calling useBackend('${name}'); if it is not installed, ${installHint(name)}`,
    );
  }
  const missing = err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(message);
  if (missing) return new Error(`backend '${name}' needs the package ${pkg}, which is not installed: ${installHint(name)}`);
  return new Error(`backend '${name}': loading ${pkg} failed: ${message}. ${installHint(name)}`);
}

async function importPackage(name: BackendName): Promise<unknown> {
  const pkg = PACKAGES[name];
  try {
    return await import(/* webpackIgnore: true */ /* @vite-ignore */ pkg);
  } catch (e) {
    throw backendImportError(name, e);
  }
}

/** Why `name` cannot run in this environment, if that can be told without trying. */
function environmentProblem(name: BackendName): string | undefined {
  const g = globalThis as { document?: unknown; OffscreenCanvas?: unknown; navigator?: { gpu?: unknown } };
  if (name === 'webgl' && g.document === undefined && g.OffscreenCanvas === undefined) return 'WebGL needs a browser (a document or an OffscreenCanvas)';
  if (name === 'webgpu' && g.navigator?.gpu === undefined) return 'WebGPU needs a browser that exposes navigator.gpu';
  return undefined;
}

function setWasmPaths(options: UseBackendOptions, mod: unknown): void {
  if (options.wasmPaths === undefined) return;
  // Once the backend has initialised, its binaries are loaded and the paths no longer matter.
  if ((tf.engine().registry as Record<string, unknown>).wasm !== undefined) return;
  const m = mod as Partial<WasmModule> | undefined;
  if (typeof m?.setWasmPaths !== 'function') {
    throw new Error(
      "useBackend('wasm', { wasmPaths }): the wasm package's setWasmPaths is out of reach here (a bundle): pass the module as well, " +
        "`import * as wasm from '@tensorflow/tfjs-backend-wasm'` and `useBackend('wasm', { wasmPaths, module: wasm })`, or call its setWasmPaths yourself",
    );
  }
  try {
    m.setWasmPaths(options.wasmPaths);
  } catch (e) {
    throw new Error(`useBackend('wasm', { wasmPaths }): ${(e as Error).message}`);
  }
}

/**
 * Activates a backend, importing its package first unless it is registered already (imported by the
 * application). Returns the tfjs backend name now in use. wasm finds its .wasm binaries beside its
 * package in Node without `wasmPaths`; a bundled browser app serves them and says where (`wasmPaths`).
 * On wasm it also registers forgetless's wasm kernels and puts forgetless's gradients back where an
 * import after `@forgetless/core` (tfjs-layers, `@tensorflow/tfjs`) registered tfjs's own again.
 */
export async function useBackend(name: BackendName, options: UseBackendOptions = {}): Promise<string> {
  if (!isBackendName(name)) {
    // A backend the application registered under its own name is used as it is.
    if (typeof name === 'string' && tf.findBackendFactory(name)) return activate(name, name);
    throw new Error(`unknown backend '${String(name)}' (expected one of ${Object.keys(PACKAGES).join(', ')}, or the name of a registered tfjs backend)`);
  }
  const tfjsName = TFJS_NAME[name];
  let mod: unknown = options.module;
  // A registered backend (the application imported its package) is used as it is; otherwise the
  // package is imported now, which registers the backend and its flags (set below, after that).
  if (!tf.findBackendFactory(tfjsName)) {
    const problem = environmentProblem(name);
    if (problem) throw new Error(`backend '${name}' cannot run here: ${problem}`);
    mod = await importPackage(name);
  }
  if (name === 'wasm') {
    if (mod === undefined && options.wasmPaths !== undefined && (tf.engine().registry as Record<string, unknown>).wasm === undefined) {
      // Registered by the application: reach its module by name where that works (Node, import maps).
      mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ PACKAGES.wasm).catch(() => undefined);
    }
    setWasmPaths(options, mod);
    // Flags are read when the backend initialises: they take effect in a process that has not used wasm yet.
    if (options.simd === false) tf.env().set('WASM_HAS_SIMD_SUPPORT', false);
    if (options.threads === false || options.threads === 1) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    const n = options.threads;
    if (typeof n === 'number' && n !== 1) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`useBackend('wasm', { threads }): expected a positive integer, got ${n}`);
      if (options.simd === false) throw new Error(`useBackend('wasm', { threads: ${n} }): tfjs's only threaded build needs SIMD (simd: false given)`);
      mod ??= await import(/* webpackIgnore: true */ /* @vite-ignore */ PACKAGES.wasm).catch(() => undefined);
      if ((tf.engine().registry as Record<string, unknown>).wasm !== undefined) {
        const now = wasmThreadsCount(mod);
        if (now !== n)
          throw new Error(
            `useBackend('wasm', { threads: ${n} }): the wasm backend already runs on ${now} thread(s) in this process; threads are chosen before it first initialises`,
          );
        return activate(name, tfjsName);
      }
      if (isNode) {
        const got = await withNodeWasmThreads(n, mod, () => activate(name, tfjsName));
        const now = wasmThreadsCount(mod);
        if (now !== n) throw new Error(`useBackend('wasm', { threads: ${n} }): the wasm backend started on ${now} thread(s)`);
        return got;
      }
      (mod as { setThreadsCount?: (k: number) => void } | undefined)?.setThreadsCount?.(n);
      return withBrowserWasmThreads(n, () => activate(name, tfjsName));
    }
  }
  return activate(name, tfjsName);
}

async function activate(name: string, tfjsName: string): Promise<string> {
  let ok: boolean;
  let cause = '';
  try {
    ok = await tf.setBackend(tfjsName);
  } catch (e) {
    ok = false;
    cause = `: ${(e as Error).message}`;
  }
  if (!ok) {
    const problem = isBackendName(name) ? environmentProblem(name) : undefined;
    const hint =
      name === 'wasm' && !isNode
        ? " (in a browser: are the .wasm binaries served where tfjs-backend-wasm looks, beside the page's script? If not, say where with useBackend('wasm', { wasmPaths, module }))"
        : '';
    throw new Error(`backend '${name}' failed to initialise (tf.setBackend('${tfjsName}') returned false${cause})${problem ? `: ${problem}` : ''}${hint}`);
  }
  await tf.ready();
  if (tf.getBackend() === 'wasm') {
    // an allocation past the heap's 4 GB throws, instead of tfjs writing through a null pointer
    guardWasmMalloc(tf.backend());
    // forgetless's wasm kernels, and its gradients back where a later import (tfjs-layers, @tensorflow/tfjs) registered
    // tfjs's own again: stock tfjs-layers `fit` reaches them too
    ensureOwnGradients();
    // a browser's main thread compiles forgetless's SIMD kernels asynchronously: done before the first op;
    // on tfjs's threaded build, forgetless's kernels get as many threads as XNNPACK (`kernel-threads.ts`)
    await prepareSimdThreads(tf.backend());
  }
  return tf.getBackend();
}

/** Backends whose packages can be loaded here, each with the reason when not. */
export async function probeBackends(): Promise<{ name: BackendName; available: boolean; reason?: string }[]> {
  const out: { name: BackendName; available: boolean; reason?: string }[] = [];
  for (const name of Object.keys(PACKAGES) as BackendName[]) {
    const problem = environmentProblem(name);
    if (problem) {
      out.push({ name, available: false, reason: problem });
      continue;
    }
    try {
      if (!tf.findBackendFactory(TFJS_NAME[name])) await importPackage(name);
      out.push({ name, available: true });
    } catch (e) {
      out.push({ name, available: false, reason: (e as Error).message });
    }
  }
  return out;
}
