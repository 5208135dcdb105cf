/**
 * The model contract every method of forgetless accepts: `trainContinual` and its plugins, every
 * importance, the regularizers, the optimizers and pruning. `Sequential` (a chain of layers) and
 * `GraphModel` (a DAG of layers: merges, fan-out, shared layers, imported Keras/tfjs-layers models)
 * implement it.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Layer, LayerCapture, Shape } from './layers/layer.js';
import type { BatchNormSumsRequest } from './ops/norm-simd.js';
import type { ParamMap } from './params.js';
import type { Rng } from './rng.js';

export interface ForwardOptions {
  /** Training mode: dropout active, batch normalisation on batch statistics (and updating them). */
  training?: boolean;
  /** Every parametric layer writes its input, pre-activation and output here, keyed by layer name. */
  capture?: Record<string, LayerCapture>;
  /** Tensors added to the named layers' pre-activation outputs (zero taps give per-example δ). */
  taps?: Record<string, tf.Tensor>;
  /**
   * Per-example γ/β sums asked of the named batch norms' backward kernels (inference mode, wasm SIMD):
   * the per-example importances' one pass over x and δ (`BatchNormSumsRequest`).
   */
  exampleSums?: Record<string, BatchNormSumsRequest>;
  /**
   * Let a ZeroPadding2D be folded into the conv or depthwise conv after it (wasm SIMD kernels) even
   * under `capture` and `taps`: that layer's capture then holds its unpadded input and the `pads`
   * (`LayerCapture.pads`). For callers that read `pads`; without it, captures hold the padded input.
   */
  capturePads?: boolean;
  rng?: Rng;
}

/** Per-example input and output shapes of a layer (its output is the shape of its tap). */
export interface LayerShapes {
  input: number[];
  output: number[];
}

export interface Model {
  /** Trainable parameters by name (`<layer>/<weight>`), in the model's order. Frozen layers' are not here. */
  readonly params: ParamMap<tf.Variable>;
  /** Non-trainable variables: moving statistics, and the weights of frozen layers. */
  readonly state: ParamMap<tf.Variable>;
  /** Per-example input shape; `null` where any size is accepted. */
  readonly inputShape: Shape;
  /** Per-example output shape of `logits`. */
  readonly outputShape: Shape;
  /** Width of the output (the number of classes of a classifier). */
  readonly numClasses: number;
  /** Every layer once, in execution order: the per-layer view importances and pruning use. */
  readonly layers: readonly Layer[];
  /** The layers that own trainable parameters, in execution order. */
  readonly parametricLayers: readonly Layer[];
  /**
   * Forward pass returning the model's output before any final softmax (logits for a classifier).
   * With `capture`, every parametric layer records its input, pre-activation and output; the last
   * parametric layer's output is the model's probabilities when it is a classifier.
   */
  logits(x: tf.Tensor, options?: ForwardOptions): tf.Tensor;
  /** Forward pass as the layers define it (a model that ends in a softmax returns probabilities). */
  apply(x: tf.Tensor, options?: ForwardOptions): tf.Tensor;
  /** The model's own output in inference mode (class probabilities for a classifier). */
  predict(x: tf.Tensor): tf.Tensor;
  /**
   * Per-example input and output shapes of every layer for inputs of `exampleShape` (default the
   * model's `inputShape`, which must then be fully known).
   */
  layerShapes(exampleShape?: readonly number[]): Record<string, LayerShapes>;
  /** Layers called more than once (shared weights): per-example fast paths do not apply to them. */
  readonly sharedLayers?: ReadonlySet<string>;
  getWeights(options?: { state?: boolean }): ParamMap;
  setWeights(weights: ParamMap, options?: { allowMissing?: boolean }): void;
  countParams(): number;
  summary(): string;
  dispose(): void;
  readonly isDisposed: boolean;
}

/**
 * Why a batch of examples of `exampleShape` cannot feed `model`, or undefined if it can: equal rank
 * with every known dimension equal, or (for a fully known input shape) the same size, reshaped.
 */
export function exampleShapeProblem(inputShape: Shape, exampleShape: readonly number[]): string | undefined {
  const known = inputShape.every((d) => d !== null);
  if (known) {
    const want = (inputShape as number[]).reduce((a, b) => a * b, 1);
    const have = exampleShape.reduce((a, b) => a * b, 1);
    return want === have ? undefined : `examples of shape [${exampleShape}] but the model takes [${inputShape}]`;
  }
  const ok = exampleShape.length === inputShape.length && inputShape.every((d, i) => d === null || d === exampleShape[i]);
  return ok ? undefined : `examples of shape [${exampleShape}] but the model takes [${inputShape.map((d) => d ?? 'any')}]`;
}

/** Product of a shape's dimensions; throws naming `what` if one is unknown. */
export function shapeSize(shape: Shape, what: string): number {
  let n = 1;
  for (const d of shape) {
    if (d === null) throw new Error(`${what}: shape [${shape.map((x) => x ?? 'any')}] has a dimension of unknown size`);
    n *= d;
  }
  return n;
}
