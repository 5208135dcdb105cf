/** The layer contract every layer of a forgetless model follows. */
import type * as tf from '@tensorflow/tfjs-core';
import type { BatchNormSumsRequest } from '../ops/norm-simd.js';
import type { Rng } from '../rng.js';
import type { ActivationSpec } from './activation.js';

/** What a forward pass records for a parametric layer (dense, conv2d, batchNorm). */
export interface LayerCapture {
  /** The layer's input (for dense: the previous layer's post-activation output). */
  input: tf.Tensor;
  /** The layer's output before its activation (z = x·W + b), after any tap was added. */
  preActivation: tf.Tensor;
  /**
   * The layer's output after its activation, or after the activation layers that directly follow
   * it; for the model's last parametric layer, the model's output probabilities.
   */
  output: tf.Tensor;
  /**
   * Intermediate tensors of composite layers, by name (SeparableConv2D: `depthwise`, the depthwise
   * convolution's output that the pointwise kernel sees).
   */
  inner?: Record<string, tf.Tensor>;
  /**
   * Set where the activation layer after this one ran inside it (a batch norm and the ReLU6 or ReLU
   * after it, in inference mode on wasm: one kernel each way): `preActivation` and `output` are then
   * after that activation, and so is this layer's tap, whose gradient is the one at the activation's output.
   */
  fusedActivation?: 'relu6' | 'relu';
  /**
   * Set where the ZeroPadding2D before this conv or depthwise conv was folded into it
   * (`ForwardOptions.capturePads`): `input` is then the unpadded input, and these are the zeros the
   * layer's 'valid' convolution sees around it, [[top, bottom], [left, right]].
   */
  pads?: readonly [readonly [number, number], readonly [number, number]];
}

export interface ApplyContext {
  /** Training mode: dropout active, batchNorm uses and updates batch statistics. */
  training: boolean;
  /** Seeded randomness (dropout). */
  rng?: Rng;
  /** If given, parametric layers write their captures here, keyed by layer name. */
  capture?: Record<string, LayerCapture>;
  /**
   * Tensors added to the pre-activation output of the named layers. A zero tap turns the
   * gradient with respect to the tap into the per-example pre-activation gradient δ.
   */
  taps?: Record<string, tf.Tensor>;
  /** Per-example γ/β sums asked of the named batch norms' backward kernels (`ForwardOptions.exampleSums`). */
  exampleSums?: Record<string, BatchNormSumsRequest>;
  /** A ZeroPadding2D may be folded into the conv after it under captures and taps too (`ForwardOptions.capturePads`). */
  capturePads?: boolean;
}

/**
 * A layer's kind: the built-in ones of `sequential` models, and the kinds graph models add
 * (`depthwiseConv2d`, `add`, `concatenate`, ...). Code that needs a kind's specifics checks for it.
 */
export type LayerKind = 'dense' | 'conv2d' | 'maxPool2d' | 'avgPool2d' | 'flatten' | 'batchNorm' | 'dropout' | 'activation' | (string & {});

/** A per-example shape; `null` marks a dimension of any size (the spatial dims of a fully convolutional net). */
export type Shape = readonly (number | null)[];

/** Serializable description of a layer (enough to rebuild it). */
export interface LayerConfig {
  kind: LayerKind;
  [key: string]: unknown;
}

export interface Layer {
  readonly kind: LayerKind;
  /** Unique name in the model, e.g. `dense_0`; assigned by the model. */
  name: string;
  /** Trainable parameters by local name ('kernel', 'bias', 'gamma', 'beta'); empty before build. */
  readonly params: Record<string, tf.Variable>;
  /** Non-trainable state (batchNorm moving statistics). */
  readonly state: Record<string, tf.Variable>;
  /** Activation fused into the layer, if any. */
  readonly activation?: ActivationSpec;
  /**
   * True for layers that act elementwise without parameters (activations): a graph model extends a
   * parametric layer's captured `output` through them.
   */
  readonly elementwise?: boolean;
  /** Creates the variables for a per-example input shape; returns the per-example output shape. */
  build(inputShape: Shape, rng: Rng): (number | null)[];
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor;
  config(): LayerConfig;
}

/**
 * A parameter-free layer of several inputs (Add, Concatenate, ...), used by graph models.
 */
export interface MergeLayer {
  readonly kind: LayerKind;
  name: string;
  readonly merge: true;
  readonly params: Record<string, tf.Variable>;
  readonly state: Record<string, tf.Variable>;
  /** Checks the inputs' per-example shapes; returns the output's. Errors name the layer and the shapes. */
  build(inputShapes: readonly Shape[], rng: Rng): (number | null)[];
  apply(xs: tf.Tensor[], ctx: ApplyContext): tf.Tensor;
  config(): LayerConfig;
}

export function isMergeLayer(l: Layer | MergeLayer): l is MergeLayer {
  return (l as MergeLayer).merge === true;
}
