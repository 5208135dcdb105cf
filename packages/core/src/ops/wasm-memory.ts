/**
 * tfjs-backend-wasm allocates every tensor with emscripten's `malloc` on a heap it caps at 4 GB, and
 * does not check the result: past the cap, `malloc` returns 0 and the kernel writes its output over
 * the bottom of the heap, corrupting other tensors, until something fails later with "memory access
 * out of bounds" or "table index is out of bounds", or nothing fails and the numbers are wrong.
 * `guardWasmMalloc` makes a failed allocation throw at once, naming the size, the heap and what to do.
 */

/** The largest heap tfjs-backend-wasm 4.22 grows to (emscripten's `getHeapMax`). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

const GUARDED = Symbol.for('forgetless.wasmMallocGuard');

type WasmModule = { _malloc?: (bytes: number) => number; asm?: { malloc?: (bytes: number) => number }; HEAPU8?: Uint8Array; [GUARDED]?: true };

const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;

/** The error of an allocation the wasm heap cannot hold. */
export class WasmOutOfMemoryError extends Error {
  constructor(
    readonly bytes: number,
    readonly heapBytes: number,
  ) {
    super(
      `the wasm backend is out of memory: ${mb(bytes)} asked for with its heap grown to ${mb(heapBytes)} of the ${mb(WASM_HEAP_MAX_BYTES)} tfjs-backend-wasm allows; ` +
        'use smaller batches (a 224×224 MobileNetV2 takes about 100 MB per example to train), fewer tensors kept, or the cpu backend',
    );
    this.name = 'WasmOutOfMemoryError';
  }
}

/** Makes the wasm backend's `malloc` throw `WasmOutOfMemoryError` instead of returning 0; once per module. */
export function guardWasmMalloc(backend: unknown): void {
  const wasm = (backend as { wasm?: WasmModule } | undefined)?.wasm;
  if (!wasm || typeof wasm._malloc !== 'function' || wasm[GUARDED]) return;
  // emscripten's `_malloc` export is a stub that replaces itself with the wasm function on its first
  // call (it would replace this wrapper too): wrap the wasm function itself
  const malloc = typeof wasm.asm?.malloc === 'function' ? wasm.asm.malloc : wasm._malloc;
  wasm._malloc = (bytes: number) => {
    // malloc takes a 32-bit size: 4 GB or more would wrap around to a small allocation
    const at = bytes < 2 ** 32 ? malloc(bytes) : 0;
    if (at === 0 && bytes > 0) throw new WasmOutOfMemoryError(bytes, wasm.HEAPU8?.length ?? 0);
    return at;
  };
  wasm[GUARDED] = true;
}
