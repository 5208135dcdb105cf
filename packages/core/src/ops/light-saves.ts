/**
 * tfjs's engine saves every tensor a gradient needs (a conv's input and filter, a custom gradient's
 * `save([...])`) through `engine.clone`: an Identity kernel call, a new tensor and a node on the
 * gradient tape for each. A MobileNetV2 step saves 333 tensors that way. At the first order of
 * differentiation that tape node can never lie on a path from the parameters to the loss (a saved
 * copy is read only by gradient functions, never by the forward), so the engine's tape filter drops
 * it; only a second-order gradient, whose backward pass the outer tape records, needs it.
 *
 * `withLightSaves(fn)` runs `fn` with the engine saving such tensors as a new tensor on the same
 * memory (a reference count, which is all the cpu backend's Identity and forgetless's wasm Identity
 * do) and no tape node, while the engine is one gradient deep; deeper (tf.grad of tf.grad) and on
 * any other backend it clones as tfjs does. The values computed are the same to the bit; what goes
 * is the engine's per-call bookkeeping. Used by `trainStep` around its `variableGrads`.
 */
import * as tf from '@tensorflow/tfjs-core';

type TensorInfoEntry = { backend: { incRef(dataId: unknown): void } };
interface EngineInternals {
  clone?(x: tf.Tensor): tf.Tensor;
  state?: { gradientDepth?: number; tensorInfo?: { get(dataId: unknown): TensorInfoEntry | undefined } };
  backendName?: string;
  makeTensorFromTensorInfo?(info: { dataId: unknown; shape: number[]; dtype: tf.DataType }, backend?: unknown): tf.Tensor;
}

/** Backends whose Identity shares its input's memory: a saved tensor on the same memory is what tfjs would have saved. */
const SHARING_BACKENDS = new Set(['cpu', 'wasm']);

let enabled = true;
let depth = 0;

/** Turns `withLightSaves` on (the default) or off (it then runs `fn` as it is: tfjs's clones), for A/B comparisons. */
export function setLightSaves(on: boolean): void {
  enabled = on;
}
let installed: { engine: EngineInternals; own: boolean; previous: EngineInternals['clone'] } | undefined;

/** Whether the engine has the internals this relies on (tfjs-core 4.x); otherwise `withLightSaves` just runs `fn`. */
function usable(engine: EngineInternals): boolean {
  return (
    typeof engine.clone === 'function' &&
    typeof engine.makeTensorFromTensorInfo === 'function' &&
    typeof engine.state?.gradientDepth === 'number' &&
    typeof engine.state.tensorInfo?.get === 'function'
  );
}

/** Runs `fn` (synchronous) with tensors saved for the first-order backward pass shared, not cloned. Nests. */
export function withLightSaves<T>(fn: () => T): T {
  const engine = tf.engine() as unknown as EngineInternals;
  if (depth === 0) {
    if (!enabled || !usable(engine) || !SHARING_BACKENDS.has(tf.getBackend())) return fn();
    const previous = engine.clone as (x: tf.Tensor) => tf.Tensor;
    const own = Object.hasOwn(engine, 'clone');
    engine.clone = function lightClone(this: EngineInternals, x: tf.Tensor): tf.Tensor {
      return ((this.state as NonNullable<EngineInternals['state']>).gradientDepth === 1 ? shareMemory(this, x) : undefined) ?? previous.call(this, x);
    };
    installed = { engine, own, previous };
  }
  depth++;
  try {
    return fn();
  } finally {
    depth--;
    if (depth === 0 && installed) {
      if (installed.own) installed.engine.clone = installed.previous;
      else delete installed.engine.clone;
      installed = undefined;
    }
  }
}

/**
 * A second tensor on x's memory, made without a kernel call (a reference count, what the cpu and wasm
 * backends' Reshape to the same shape does); on other backends, or where the engine lacks the
 * internals this relies on, `tf.reshape(x, x.shape)` as tfjs's gradients make it.
 */
export function sharedTensor(x: tf.Tensor): tf.Tensor {
  const engine = tf.engine() as unknown as EngineInternals;
  return (usable(engine) && SHARING_BACKENDS.has(tf.getBackend()) ? shareMemory(engine, x) : undefined) ?? tf.reshape(x, x.shape);
}

/** A new tensor on x's memory (its backend's reference count raised, no kernel), or undefined where the backend cannot share it. */
function shareMemory(engine: EngineInternals, x: tf.Tensor): tf.Tensor | undefined {
  const entry = x.dtype === 'string' ? undefined : engine.state?.tensorInfo?.get(x.dataId);
  if (!entry || typeof entry.backend?.incRef !== 'function') return undefined;
  entry.backend.incRef(x.dataId);
  return (engine.makeTensorFromTensorInfo as NonNullable<EngineInternals['makeTensorFromTensorInfo']>)({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, entry.backend);
}
