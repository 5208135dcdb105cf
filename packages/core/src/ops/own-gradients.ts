/**
 * forgetless's gradients are registered with tfjs by kernel name, over tfjs's own. Anything that
 * registers tfjs's gradients again afterwards (importing `@tensorflow/tfjs` after `@forgetless/core`
 * runs tfjs-core's `register_all_gradients`) would silently put the stock ones back, and conv nets
 * would then fail on wasm (no Conv2DBackpropFilter kernel there). So every registration is recorded
 * here, and `ensureOwnGradients()`, called by every entry point that differentiates (`trainStep`,
 * the importances), puts back any that was replaced: import order does not matter.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureWasmKernels } from './wasm-kernels.js';

const own = new Map<string, tf.GradConfig>();

/** Registers `config` with tfjs and remembers it as forgetless's gradient for its kernel. */
export function registerOwnGradient(config: tf.GradConfig): void {
  own.set(config.kernelName, config);
  tf.registerGradient(config);
}

/** Re-registers every forgetless gradient that something else has replaced since. Cheap when none was. */
export function ensureOwnGradients(): void {
  ensureWasmKernels();
  for (const [kernel, config] of own) {
    if (tf.getGradient(kernel) !== config) tf.registerGradient(config);
  }
}

/** The kernels forgetless registers a gradient for. */
export function ownGradientKernels(): string[] {
  return [...own.keys()];
}
