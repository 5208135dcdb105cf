/**
 * The backends a benchmark run measures ("targets"): tfjs's cpu backend, wasm with SIMD, wasm
 * without SIMD, wasm with SIMD on two threads (tfjs's threaded build, `useBackend('wasm', { threads: 2 })`;
 * only when asked for by --backends), and tfjs-node's tensorflow and tensorflow-gpu when installed. A
 * wasm backend keeps the SIMD and thread choice it was initialised with for the life of the process,
 * so `wasm-nosimd` and `wasm-threads2` always run in a child process of the CLI (`--child <target>`);
 * the others run in the CLI's own process.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type BackendName, probeBackends, useBackend } from '@forgetless/core';

export const TARGETS = ['cpu', 'wasm', 'wasm-nosimd', 'wasm-threads2', 'tensorflow', 'tensorflow-gpu'] as const;
export type Target = (typeof TARGETS)[number];

/** The targets a run measures when --backends is not given (two wasm threads only on request). */
export const DEFAULT_TARGETS: readonly Target[] = TARGETS.filter((t) => t !== 'wasm-threads2');

export function isTarget(name: string): name is Target {
  return (TARGETS as readonly string[]).includes(name);
}

/** The forgetless backend a target runs on. */
export function backendOf(target: Target): BackendName {
  return target === 'wasm-nosimd' || target === 'wasm-threads2' ? 'wasm' : target;
}

/** Whether the target must run in a child process of the CLI. */
export function needsChild(target: Target): boolean {
  return target === 'wasm-nosimd' || target === 'wasm-threads2';
}

export interface TargetProbe {
  target: Target;
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
}

/** Availability of each target (a package that cannot be loaded makes it unavailable, with the reason). */
export async function probeTargets(targets: readonly Target[]): Promise<TargetProbe[]> {
  const probes = await probeBackends();
  return targets.map((target) => {
    const p = probes.find((q) => q.name === backendOf(target));
    if (!p) return { target, available: false, reason: `unknown backend '${backendOf(target)}'` };
    return p.available ? { target, available: true } : { target, available: false, reason: p.reason ?? 'unavailable' };
  });
}

/**
 * Activates a target in this process and returns a label describing what runs (e.g. `wasm (SIMD)`).
 * Throws if the wasm SIMD choice cannot be honoured (the backend was initialised with the other one).
 */
export async function activateTarget(target: Target): Promise<string> {
  const backend = backendOf(target);
  if (backend !== 'wasm') {
    await useBackend(backend);
    return target;
  }
  const simd = target !== 'wasm-nosimd';
  // The wasm package registers the WASM_HAS_SIMD_SUPPORT flag when it is imported; core's useBackend
  // sets the flag before importing it, which throws "has not been registered" in a fresh process.
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (target === 'wasm-threads2') {
    await useBackend('wasm', { threads: 2 });
    return `wasm (SIMD, ${wasm.getThreadsCount()} threads)`;
  }
  await useBackend('wasm', { simd });
  const has = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  if (!simd && has) throw new Error(`${target}: the wasm backend of this process was initialised with SIMD; run ${target} in a process of its own`);
  if (simd && !has) return 'wasm (SIMD requested, not available here: runs without)';
  return `wasm (${simd ? 'SIMD' : 'no SIMD'})`;
}
