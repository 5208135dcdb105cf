/**
 * Keras / tfjs-layers layer classes → forgetless layers, registered by class name (as tfjs-layers
 * registers its own), so an unknown class is named, never guessed.
 *
 * A converter reads one layer's Keras config and returns the forgetless layer that computes the same
 * function, and which of its local weights holds which Keras weight (`{ kernel: 'kernel' }`,
 * `{ depthwise_kernel: 'depthwise_kernel' }`). Converters throw `Error`s whose message says what is
 * wrong with the config (the importer prefixes the layer's name and class, and gathers every problem
 * of a model into one error).
 */
import type { ActivationSpec } from '../layers/activation.js';
import type { Layer, MergeLayer } from '../layers/layer.js';

/** One layer of a Keras topology: `class_name`, and `config` as stored in model.json. */
export interface KerasLayerConfig {
  className: string;
  name: string;
  config: Record<string, unknown>;
}

export interface ConvertContext {
  /** The model.json path or URL, for messages. */
  readonly source: string;
  /** This layer's node produces the model's output. */
  readonly isOutput: boolean;
  /**
   * The Keras activation named by `value` (a string, or a serialized `{ class_name, config }`) as a
   * forgetless activation. At the model's output a softmax becomes linear and the model records
   * that its output is softmaxed (losses and importances then see logits). Throws naming the
   * activation if it is not supported.
   */
  activation(value: unknown): ActivationSpec;
}

/** What a converter returns. `layer: undefined` is an identity (e.g. InputLayer): its node passes its input on. */
export interface ConvertedLayer {
  layer: Layer | MergeLayer | undefined;
  /** forgetless local weight name → Keras weight name (the part after `<layer>/`), in Keras's weight order. */
  weights: Record<string, string>;
}

export type KerasLayerConverter = (l: KerasLayerConfig, ctx: ConvertContext) => ConvertedLayer;

// One registry per process, kept on the global object: the CommonJS build bundles each entry point
// (`.` and `./node`) separately, and both copies must see the same converters.
const KEY = Symbol.for('@forgetless/core/keras-layers');
const registry: Map<string, KerasLayerConverter> =
  ((globalThis as Record<symbol, unknown>)[KEY] as Map<string, KerasLayerConverter> | undefined) ??
  ((globalThis as Record<symbol, unknown>)[KEY] = new Map<string, KerasLayerConverter>());

/** Registers converters by Keras class name (later registrations replace earlier ones). */
export function registerKerasLayers(converters: Record<string, KerasLayerConverter>): void {
  for (const [name, c] of Object.entries(converters)) registry.set(name, c);
}

export function kerasLayerConverter(className: string): KerasLayerConverter | undefined {
  return registry.get(className);
}

/** Class names with a converter, sorted. */
export function supportedKerasLayers(): string[] {
  return [...registry.keys()].sort();
}

/** Reads a Keras size given as a number or a tuple: `size(c.strides, 2, 1)` → [sh, sw]. Throws naming the key. */
export function kerasTuple(value: unknown, rank: number, fallback: number, key: string, min = 1): number[] {
  const v = value === undefined || value === null ? fallback : value;
  const t = Array.isArray(v) ? v : Array.from({ length: rank }, () => v);
  if (t.length !== rank || t.some((d) => !Number.isInteger(d) || (d as number) < min)) {
    throw new Error(`has ${key} ${JSON.stringify(value)}: expected ${min === 0 ? 'a non-negative' : 'a positive'} integer or ${rank} of them`);
  }
  return t as number[];
}

/** Throws unless the layer is channels_last (the only layout forgetless runs). */
export function channelsLast(l: KerasLayerConfig): void {
  const f = l.config.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last') throw new Error(`has data_format '${String(f)}' (only channels_last is supported)`);
}
