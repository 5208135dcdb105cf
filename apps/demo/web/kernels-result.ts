/** What the SIMD kernel check page (`kernels.ts`) finds, as JSON in its `#result` (read by kernels.e2e.test.ts). */
import type { SimdKernelsStatus } from '@forgetless/core';

export interface CheckRow {
  /** The op and the quantity compared, e.g. 'depthwise 3×3 stride 2: ∂W'. */
  name: string;
  /** Relative error of the wasm result against cpu's. */
  relErr: number;
  /** The largest error allowed. */
  tolerance: number;
}

export interface CheckGroup {
  name: string;
  rows: CheckRow[];
  /** Calls of each SIMD kernel while the group ran on wasm. */
  kernelCalls: Record<string, number>;
  /** The kernels that must have served the group. */
  expectedKernels: string[];
}

export interface KernelCheck {
  userAgent: string;
  crossOriginIsolated: boolean;
  /** tfjs-backend-wasm's threads (1: its one-thread SIMD build; more: the threaded build on a shared memory). */
  tfjsWasmThreads: number;
  wasmMemoryShared: boolean;
  /**
   * `?activate=set-backend` only: wasm activated by `tf.setBackend` (which, unlike `useBackend`, does
   * not await the module's compile), its first op run at once, and the status right after it.
   */
  firstOp?: { group: CheckGroup; status: SimdKernelsStatus };
  /** Before the checks on wasm: the module compiled and bound. */
  statusBefore: SimdKernelsStatus;
  statusAfter: SimdKernelsStatus;
  /** forgetless's kernel threads (`kernelThreadsStatus()`): how many, and the kernel calls split over them by the two large checks. */
  kernelThreads: { threads: number; jobs: number; reason?: string };
  groups: CheckGroup[];
  /** tf.memory().numTensors before and after all the checks. */
  numTensors: { before: number; after: number };
  millis: number;
}
