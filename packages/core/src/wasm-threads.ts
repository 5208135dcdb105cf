/**
 * tfjs-backend-wasm's threaded build (tfjs-backend-wasm-threaded-simd.wasm, XNNPACK on a pthreadpool)
 * in Node. tfjs 4.22 never uses it there: its WASM_HAS_MULTITHREAD_SUPPORT flag is false in Node
 * (tensorflow/tfjs#3830), and forcing the flag is not enough, for three reasons this module works
 * around, all during the backend's initialisation only:
 * 1. The pthread worker script is handed to `new Worker()` as a `blob:` URL, which Node's
 *    worker_threads refuse (ERR_WORKER_PATH: a file path or a file:/data: URL is needed). Here
 *    `URL.createObjectURL` returns a temporary .cjs file holding the same worker script instead.
 * 2. That worker then loads the main glue from another Blob (importScripts of an object URL, which
 *    its Node shim reads with fs and cannot): the file's loader is pointed at the package's own
 *    `wasm-out/tfjs-backend-wasm-threaded-simd.js`.
 * 3. The C++ side caps the pool at emscripten_num_logical_cores() / 2 (os.cpus().length / 2 in
 *    Node, assuming two hyperthreads per core): 1 on a 2-vCPU machine, whatever
 *    `setThreadsCount` asks. `os.cpus()` reports 2·N entries while the module initialises.
 * The pthread workers are then unref'd, or they would keep the process alive after its work.
 * Only the SIMD build is threaded: threads need SIMD.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A Node built-in, imported by a name bundlers do not follow (this module's code runs in Node only). */
const nodeImport = (name: string): Promise<unknown> => import(/* webpackIgnore: true */ /* @vite-ignore */ name);

interface WasmPackage {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** Steps 1–3 of the module comment around `init()` (tf.setBackend('wasm')); returns what init returned. */
export async function withNodeWasmThreads<T>(threads: number, pkg: unknown, init: () => Promise<T>): Promise<T> {
  const wasm = pkg as WasmPackage;
  if (typeof wasm?.setThreadsCount !== 'function') throw new Error("useBackend('wasm', { threads }): the wasm package's setThreadsCount is out of reach");
  const { createRequire } = (await nodeImport('node:module')) as typeof import('node:module');
  const { mkdtempSync, writeFileSync, rmSync } = (await nodeImport('node:fs')) as typeof import('node:fs');
  const { join, dirname } = (await nodeImport('node:path')) as typeof import('node:path');
  const os = ((await nodeImport('node:os')) as { default: typeof import('node:os') }).default;
  // the CommonJS build has `require` (and no import.meta); the ESM build makes one
  const req = typeof require === 'function' ? require : createRequire(import.meta.url);
  const glue = req.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = req(join(dirname(glue), 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const loader = /if\(typeof e\.data\.urlOrBlob=="string"\)\{importScripts\(e\.data\.urlOrBlob\)\}else\{[^}]*\}/;
  if (!loader.test(wasmWorkerContents)) throw new Error("useBackend('wasm', { threads }): this tfjs-backend-wasm's worker script is not the one forgetless knows (4.22)");
  const dir = mkdtempSync(join(os.tmpdir(), 'forgetless-wasm-threads-'));
  const workerFile = join(dir, 'tfjs-backend-wasm-threaded-simd.worker.cjs');
  // tfjs escapes newlines the same way before making its Blob
  writeFileSync(workerFile, wasmWorkerContents.replace(loader, `importScripts(${JSON.stringify(glue)});`).replace(/\n/g, '\\n'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = (obj: Blob | MediaSource) => ((obj as Blob)?.type === 'application/javascript' ? workerFile : createObjectURL(obj as Blob));
  os.cpus = () => Array.from({ length: 2 * threads }, () => cpus()[0] as ReturnType<typeof cpus>[number]);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  try {
    return await init();
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
    const pthread = (tf.findBackend('wasm') as unknown as { wasm?: { PThread?: { unusedWorkers: { unref(): void }[]; runningWorkers: { unref(): void }[] } } })?.wasm?.PThread;
    for (const w of [...(pthread?.unusedWorkers ?? []), ...(pthread?.runningWorkers ?? [])]) w.unref();
  }
}

/**
 * Step 3 of the module comment in a browser: the C++ side caps the pool at
 * navigator.hardwareConcurrency / 2 (2 logical cores: 1 thread, whatever `setThreadsCount` asks), so
 * `navigator.hardwareConcurrency` reads 2·N while the module initialises, then reads as before. The
 * threaded build itself still needs the page cross-origin isolated; without it tfjs runs one thread.
 */
export async function withBrowserWasmThreads<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const nav = (globalThis as { navigator?: object }).navigator;
  const own = nav ? Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency') : undefined;
  let told = false;
  try {
    if (nav) {
      Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => 2 * threads });
      told = true;
    }
  } catch {
    // a navigator that cannot be told: tfjs's own cap holds
  }
  try {
    return await init();
  } finally {
    if (told && nav) {
      if (own) Object.defineProperty(nav, 'hardwareConcurrency', own);
      else delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
    }
  }
}

/** The threads XNNPACK runs on in the initialised wasm backend (1 for the non-threaded builds). */
export function wasmThreadsCount(pkg: unknown): number {
  const wasm = pkg as WasmPackage;
  try {
    return typeof wasm?.getThreadsCount === 'function' ? wasm.getThreadsCount() : 1;
  } catch {
    return 1;
  }
}
