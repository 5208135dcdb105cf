/**
 * forgetless's SIMD kernels on several threads, for tfjs-backend-wasm's threaded build
 * (`useBackend('wasm', { threads: N })`), whose memory is shared. Without this, only XNNPACK's ops
 * (tfjs's own) used the other threads, while forgetless's kernels, most of a conv net's training step,
 * ran on the calling thread alone.
 *
 * The kernels' module keeps no state of its own (no data section, no C stack: `build-wasm.mjs`
 * checks), so any number of instances can run on the same shared memory at once. The pool starts N − 1
 * workers (worker_threads in Node, Web Workers elsewhere), each an instance of the same compiled
 * module on tfjs-wasm's memory, all waiting on one control block (a SharedArrayBuffer). A kernel call
 * that splits (`runSlices`) posts its slices there; every thread, the calling one too, takes the next
 * slice left until none is, and the caller then waits for the slices the workers took (Atomics.wait
 * where the thread may block; a spin on Atomics.load on a browser's main thread, which may not). A
 * slice is an export's arguments, so the callers split work the way each kernel allows: rows of a GEMM,
 * images of a batch, rows of a batch norm, ranges of examples; a reduction's slices write partial sums
 * that the caller adds (`slicedSums` in depthwise-simd.ts).
 *
 * Small calls do not split (`MIN_SPLIT_WORK`, `MIN_SPLIT_VALUES`).
 */
/**
 * The pool's control block (one SharedArrayBuffer for all its workers), int32 words: [0] job sequence,
 * [1] the job's tag (its sequence's low 15 bits) << 16 | the next slice to take, [2] slices, [3] export
 * index, [4] arguments per slice, [5] slices done, [6] a slice threw, [7] workers ready; the slices'
 * arguments as float64 from byte ARGS. A thread takes a slice by compare-and-swap on [1], so a worker
 * that wakes late, after its job is done and another posted, takes nothing of the new one with the old
 * one's export and arguments; the caller posts a job only after every slice of the one before is done.
 */
const ARGS = 64;
const MAX_ARGS = 32;
/** Slices one call may post; callers cut a call into a few per thread (`slicesFor`), so that a thread slowed by other work takes fewer. */
export const MAX_SLICES = 64;
const BLOCK_BYTES = ARGS + 8 * MAX_ARGS * MAX_SLICES;

/**
 * Work (multiply-adds) below which a kernel call stays on one thread. Splits cost a few µs to hand out
 * and some 10–100 µs more while a worker wakes or polls beside tfjs's own ops; at 1.5 M multiply-adds
 * (~0.1 ms) MobileNetV2 α 0.35's step (96², batch 8) took 1.06–1.14× its one-thread time on 2 threads,
 * at 4 M 0.98× (benchmark README, "forgetless's kernels on several threads").
 */
export const MIN_SPLIT_WORK = 4_000_000;

/** The same for kernels that stream their data once or twice (batch norm): values of the largest tensor (200 000 before, with the 1.5 M above). */
export const MIN_SPLIT_VALUES = 500_000;

/**
 * Polls of the job word a worker makes after a job before it sleeps (Atomics.wait): a training step
 * calls kernels back to back, and waking a sleeping thread took ~0.1 ms here (a VM's idle vCPU), more
 * than many kernels take. Short, though: a worker polling while tfjs's own ops run (XNNPACK's threads,
 * one-thread kernels) slowed them. 4 000 polls (some 10–30 µs here) against 20 000 and 100 000: an
 * InceptionV3-style step took 0.75× one thread's time against 0.92× and 1.26× (benchmark README,
 * "forgetless's kernels on several threads").
 */
const SPIN = 4000;

/** Polls of the done count the calling thread makes before it sleeps while workers finish their slices (they end about when it does). */
const WAIT_SPIN = 100_000;

/**
 * The worker's code: instantiate the module on the memory, then serve jobs until told to stop
 * (sequence < 0): take slices (an atomic counter) until none is left, then count itself done.
 */
const WORKER_SOURCE = `
const serve = (data) => {
  const { mod, memory, block, names } = data;
  const ex = new WebAssembly.Instance(mod, { env: { memory } }).exports;
  const fns = names.map((n) => ex[n]);
  const i32 = new Int32Array(block), f64 = new Float64Array(block, ${ARGS});
  Atomics.add(i32, 7, 1);
  Atomics.notify(i32, 7);
  let seq = 0;
  for (;;) {
    for (let i = 0; i < ${SPIN} && Atomics.load(i32, 0) === seq; i++);
    Atomics.wait(i32, 0, seq);
    const s = Atomics.load(i32, 0);
    if (s < 0) return;
    if (s === seq) continue;
    seq = s;
    const tag = s & 0x7fff, f = fns[i32[3]], n = i32[2], k = i32[4];
    for (;;) {
      const v = Atomics.load(i32, 1);
      if (v >>> 16 !== tag || (v & 0xffff) >= n) break;
      if (Atomics.compareExchange(i32, 1, v, v + 1) !== v) continue;
      const j = v & 0xffff;
      try {
        const a = [];
        for (let i = 0; i < k; i++) a.push(f64[j * k + i]);
        f(...a);
      } catch (e) {
        Atomics.store(i32, 6, 1);
      }
      Atomics.add(i32, 5, 1);
      Atomics.notify(i32, 5);
    }
  }
};
if (typeof self === 'undefined') {
  // Node: import() works whether the code runs as CommonJS or (a parent started with --input-type=module) as a module
  import('node:worker_threads').then(({ parentPort }) => parentPort.once('message', serve));
} else {
  self.onmessage = (e) => serve(e.data);
}
`;

interface Pool {
  /** Threads a call splits over: the workers and the calling thread. */
  threads: number;
  i32: Int32Array;
  f64: Float64Array;
  seq: number;
  names: string[];
  index: Map<string, number>;
  /** The workers' handles (terminate). */
  handles: { terminate(): unknown }[];
}

/** Per memory: the pool once its workers are ready; a promise while they start; null where none can run. */
const pools = new WeakMap<object, Pool | Promise<Pool | null> | null>();
/** Threads asked for (`setKernelThreads`): 'auto' follows the backend's thread count. */
let wanted: number | 'auto' = 'auto';
/** The threads of the pool last started (`kernelThreadsStatus`). */
let started: { threads: number; reason?: string } = { threads: 1 };
/** Calls that went to the pool's threads (`kernelThreadsStatus().jobs`). */
let jobs = 0;

const nodeImport = (name: string): Promise<unknown> => import(/* webpackIgnore: true */ /* @vite-ignore */ name);
const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Whether Atomics.wait may block this thread (not on a browser's main thread). */
let mayBlock: boolean | undefined;
function canBlock(i32: Int32Array): boolean {
  if (mayBlock === undefined) {
    try {
      Atomics.wait(i32, 7, -12345, 0); // "not-equal" at once where blocking is allowed, a TypeError where not
      mayBlock = true;
    } catch {
      mayBlock = false;
    }
  }
  return mayBlock;
}

async function startWorkers(count: number, mod: WebAssembly.Module, memory: WebAssembly.Memory, names: string[]): Promise<Pool> {
  const block = new SharedArrayBuffer(BLOCK_BYTES);
  const i32 = new Int32Array(block);
  const data = { mod, memory, block, names };
  const handles: { terminate(): unknown }[] = [];
  const Worker = isNode ? ((await nodeImport('node:worker_threads')) as typeof import('node:worker_threads')).Worker : undefined;
  for (let i = 0; i < count; i++) {
    if (Worker) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref(); // an idle worker must not keep the process alive
      w.postMessage(data);
      handles.push(w);
    } else {
      const w = new globalThis.Worker(URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'application/javascript' })));
      w.postMessage(data);
      handles.push(w);
    }
  }
  // ready: each worker's instance is made (a few ms: the module is compiled already)
  const deadline = Date.now() + 30_000;
  while (Atomics.load(i32, 7) !== count) {
    if (Date.now() > deadline) {
      for (const h of handles) void h.terminate();
      throw new Error(`${count - Atomics.load(i32, 7)} of ${count} kernel workers did not start within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return { threads: count + 1, i32, f64: new Float64Array(block, ARGS), seq: 0, names, index: new Map(names.map((n, i) => [n, i])), handles };
}

/**
 * Starts the pool for this memory (shared: tfjs's threaded build) with `threads` threads in all
 * (threads − 1 workers) unless `setKernelThreads` says otherwise; resolves when its workers are ready
 * (or none can run: the pool is then left out and the kernels run on the calling thread).
 */
export async function prepareKernelThreads(memory: WebAssembly.Memory, mod: WebAssembly.Module, exportNames: string[], backendThreads: number): Promise<void> {
  const threads = wanted === 'auto' ? backendThreads : wanted;
  const known = pools.get(memory);
  if (known && !(known instanceof Promise) && known.threads >= threads) return;
  if (known instanceof Promise) {
    await known;
    return prepareKernelThreads(memory, mod, exportNames, backendThreads);
  }
  if (known) stopPool(memory, known);
  if (threads <= 1 || typeof SharedArrayBuffer === 'undefined' || !(memory.buffer instanceof SharedArrayBuffer)) {
    pools.set(memory, null);
    started = { threads: 1, ...(threads > 1 ? { reason: "tfjs-wasm's memory is not shared (its one-thread build)" } : {}) };
    return;
  }
  const p = startWorkers(threads - 1, mod, memory, [...exportNames]).then(
    (pool) => {
      pools.set(memory, pool);
      started = { threads };
      return pool;
    },
    (e) => {
      pools.set(memory, null);
      started = { threads: 1, reason: `starting the kernel workers failed: ${e instanceof Error ? e.message : String(e)}` };
      return null;
    },
  );
  pools.set(memory, p);
  await p;
}

function stopPool(memory: WebAssembly.Memory, pool: Pool): void {
  Atomics.store(pool.i32, 0, -1);
  Atomics.notify(pool.i32, 0);
  for (const h of pool.handles) void h.terminate();
  pools.delete(memory);
}

/**
 * Threads for forgetless's kernels: N (1: the calling thread alone), or 'auto' (the default: as many
 * as tfjs-wasm's threaded build runs, `useBackend('wasm', { threads: N })`). Fewer threads than the
 * running pool has take effect at once (for same-process comparisons); more start at the next
 * `useBackend('wasm', …)`. Only tfjs's threaded build (a shared memory) can run more than one.
 */
export function setKernelThreads(n: number | 'auto'): void {
  if (n !== 'auto' && (!Number.isInteger(n) || n < 1)) throw new Error(`setKernelThreads: expected a positive integer or 'auto', got ${String(n)}`);
  wanted = n;
}

/** How many threads forgetless's kernels split over now on the pool last started, how many kernel calls were split over them so far, and why only one thread where more were asked for. */
export function kernelThreadsStatus(): { threads: number; jobs: number; reason?: string } {
  return { ...started, threads: wanted === 'auto' ? started.threads : Math.min(wanted, started.threads), jobs };
}

/** The ready pool for this memory (undefined: one thread). */
export function poolFor(memory: WebAssembly.Memory | undefined): Pool | undefined {
  if (!memory) return undefined;
  const p = pools.get(memory);
  return p && !(p instanceof Promise) ? p : undefined;
}

/** The thread count a call on this memory splits over (1 without a ready pool). */
export function threadsFor(memory: WebAssembly.Memory | undefined): number {
  const t = poolFor(memory)?.threads ?? 1;
  return wanted === 'auto' ? t : Math.min(wanted, t);
}

/**
 * Runs slices of a kernel's work on the pool's threads: every thread, the calling one too, takes the
 * next slice left (an atomic counter) until none is, so a thread slowed by other work takes fewer;
 * returns when all are done. Without a pool, or with one slice, runs them in order on the calling
 * thread. Slices must not overlap in what they write. Throws (after all have finished) if a slice threw.
 */
export function runSlices(memory: WebAssembly.Memory | undefined, run: (name: string, args: number[]) => void, name: string, slices: number[][]): void {
  const pool = poolFor(memory);
  if (!pool || slices.length <= 1 || threadsFor(memory) < 2) {
    for (const s of slices) run(name, s);
    return;
  }
  const fn = pool.index.get(name);
  if (fn === undefined) throw new Error(`runSlices (forgetless): the kernels' module has no export ${name}`);
  const k = (slices[0] as number[]).length;
  if (k > MAX_ARGS || slices.length > MAX_SLICES || slices.some((s) => s.length !== k))
    throw new Error(`runSlices (forgetless): ${name}: at most ${MAX_SLICES} slices of the same ${MAX_ARGS} arguments or fewer`);
  const { i32, f64 } = pool;
  jobs++;
  for (let j = 0; j < slices.length; j++) f64.set(slices[j] as number[], j * k);
  pool.seq = (pool.seq + 1) & 0x7fff || 1;
  const tag = pool.seq << 16;
  i32[2] = slices.length;
  i32[3] = fn;
  i32[4] = k;
  i32[5] = 0;
  i32[6] = 0;
  Atomics.store(i32, 1, tag);
  Atomics.store(i32, 0, pool.seq);
  Atomics.notify(i32, 0);
  let error: unknown;
  for (;;) {
    const v = Atomics.load(i32, 1);
    if ((v & 0xffff) >= slices.length) break;
    if (Atomics.compareExchange(i32, 1, v, v + 1) !== v) continue;
    try {
      run(name, slices[v & 0xffff] as number[]);
    } catch (e) {
      error ??= e;
    }
    Atomics.add(i32, 5, 1);
  }
  // the workers finish the slices they took (spinning first: they end about when this thread does)
  const n = slices.length;
  let spins = 0;
  for (let seen = Atomics.load(i32, 5); seen !== n; seen = Atomics.load(i32, 5)) if (++spins > WAIT_SPIN && canBlock(i32)) Atomics.wait(i32, 5, seen, 1);
  if (error) throw error;
  if (i32[6] !== 0) throw new Error(`${name} (forgetless): a kernel worker's slice failed`);
}

/** How many slices a call splits into on `threads` threads: `perThread` each (dynamic balance), at most MAX_SLICES. */
export function slicesFor(threads: number, perThread = 4): number {
  return threads < 2 ? 1 : Math.min(MAX_SLICES, threads * perThread);
}

/**
 * [start, count] of `parts` slices of `total` items, each start a multiple of `align` (the last
 * slice takes the rest); fewer slices where items run short.
 */
export function splitRange(total: number, parts: number, align = 1): [number, number][] {
  const out: [number, number][] = [];
  const per = Math.ceil(total / parts / align) * align;
  for (let s = 0; s < total; s += per) out.push([s, Math.min(per, total - s)]);
  return out.length > 0 ? out : [[0, 0]];
}
