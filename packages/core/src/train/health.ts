/**
 * Checks of a model's numbers: the first parameter holding a NaN or infinite value, and the largest
 * |θ| per parameter. One read-back from the backend per call. The training loop uses them to name
 * the parameter of a divergence and to warn of blow-ups; importances use them to refuse a model whose
 * weights diverged.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamMap } from '../params.js';

export interface NonFiniteValue {
  /** The parameter's name in the map. */
  name: string;
  /** NaN when it holds a NaN, else +Infinity or -Infinity. */
  value: number;
}

/** Per parameter [any NaN, any +∞, any −∞], stacked in map order. */
function flags(map: ParamMap): tf.Tensor {
  return tf.tidy(() =>
    tf.stack(
      Object.values(map).map((t) => {
        const f = t.dtype === 'float32' ? t : tf.cast(t, 'float32');
        return tf.stack([tf.any(tf.isNaN(f)), tf.any(tf.equal(f, Number.POSITIVE_INFINITY)), tf.any(tf.equal(f, Number.NEGATIVE_INFINITY))]);
      }),
    ),
  );
}

function firstOf(names: string[], v: ArrayLike<number>): NonFiniteValue | undefined {
  for (let i = 0; i < names.length; i++) {
    if (v[3 * i]) return { name: names[i] as string, value: Number.NaN };
    if (v[3 * i + 1]) return { name: names[i] as string, value: Number.POSITIVE_INFINITY };
    if (v[3 * i + 2]) return { name: names[i] as string, value: Number.NEGATIVE_INFINITY };
  }
  return undefined;
}

/** The first parameter (in map order) holding a NaN or an infinity, and which; undefined when all are finite. */
export function findNonFinite(map: ParamMap): NonFiniteValue | undefined {
  const names = Object.keys(map);
  if (names.length === 0) return undefined;
  const f = flags(map);
  try {
    return firstOf(names, f.dataSync());
  } finally {
    f.dispose();
  }
}

/** `findNonFinite` without blocking the backend (WebGL, WebGPU). */
export async function findNonFiniteAsync(map: ParamMap): Promise<NonFiniteValue | undefined> {
  const names = Object.keys(map);
  if (names.length === 0) return undefined;
  const f = flags(map);
  try {
    return firstOf(names, await f.data());
  } finally {
    f.dispose();
  }
}

/** Throws `<what>: parameter '<name>' of the model contains NaN: ...` when a parameter is not finite. */
export function assertFiniteModel(params: ParamMap, what: string): void {
  const bad = findNonFinite(params);
  if (bad) throw new Error(`${what}: parameter '${bad.name}' of the model contains ${String(bad.value)}: the weights diverged; no importance is defined`);
}

/** max |θ| of each parameter, stacked in map order (a vector the caller disposes; 0 for empty tensors). */
export function maxAbsPerParameter(map: ParamMap): tf.Tensor1D {
  return tf.tidy(() => tf.stack(Object.values(map).map((t) => (t.size ? tf.max(tf.abs(t.dtype === 'float32' ? t : tf.cast(t, 'float32'))) : tf.scalar(0))))) as tf.Tensor1D;
}
