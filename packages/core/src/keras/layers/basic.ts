/**
 * Keras converters of the core, activation, normalisation, noise, rescaling and embedding layers.
 * Each reads every config key that changes what the layer computes and throws naming the key for a
 * value forgetless does not compute; initializers, regularizers and constraints do not change the
 * function and are not read. Recurrent layers and wrappers are deliberately not registered.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addTap } from '../../ops/tap.js';
import { initialize, toVariable } from '../../init.js';
import { type ActivationLike, type ActivationSpec, applyActivation, toActivationSpec } from '../../layers/activation.js';
import { BatchNorm } from '../../layers/batch-norm.js';
import { AlphaDropout, GaussianDropout, GaussianNoise, Rescaling, Softmax, SpatialDropout } from '../../layers/elementwise.js';
import { Embedding } from '../../layers/embedding.js';
import type { ApplyContext, Layer, LayerConfig, LayerKind, MergeLayer, Shape } from '../../layers/layer.js';
import { LayerNorm } from '../../layers/layer-norm.js';
import { PReLU } from '../../layers/prelu.js';
import { Activation, Dropout } from '../../layers/simple.js';
import { dense as denseOp } from '../../ops/dense.js';
import type { Rng } from '../../rng.js';
import { kerasActivation } from '../activations.js';
import { type ConvertedLayer, type KerasLayerConfig, channelsLast, registerKerasLayers } from '../registry.js';

type Config = Record<string, unknown>;

const given = (v: unknown) => v !== undefined && v !== null;
const text = (v: unknown) => JSON.stringify(v);

function num(c: Config, key: string, fallback: number | undefined, ok: (v: number) => boolean, expected: string): number {
  const v = given(c[key]) ? c[key] : fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new Error(`has ${key} ${text(c[key])}: expected ${expected}`);
  return v;
}

function bool(c: Config, key: string, fallback: boolean): boolean {
  const v = given(c[key]) ? c[key] : fallback;
  if (typeof v !== 'boolean') throw new Error(`has ${key} ${text(c[key])}: expected true or false`);
  return v;
}

/** Throws if `key` is set to anything but one of `neutral` (default: unset/null). */
function unsupported(c: Config, key: string, why: string, neutral: unknown[] = []): void {
  if (given(c[key]) && !neutral.includes(c[key])) throw new Error(`has ${key} ${text(c[key])} (${why})`);
}

const rate = (c: Config) => num(c, 'rate', undefined, (v) => v >= 0 && v < 1, 'a rate in [0, 1)');

/** An int or a list of ints (Keras axes), as given. */
function axes(c: Config, key: string, fallback: number): number | number[] {
  const v = given(c[key]) ? c[key] : fallback;
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || list.some((a) => !Number.isInteger(a))) throw new Error(`has ${key} ${text(c[key])}: expected an integer or a list of them`);
  return Array.isArray(v) ? (v as number[]) : (v as number);
}

/** Keras noise_shape: null, or one entry per batched axis (null = the input's size). */
function noiseShape(c: Config): (number | null)[] | undefined {
  const v = c.noise_shape;
  if (!given(v)) return undefined;
  if (!Array.isArray(v) || v.some((d) => d !== null && !(Number.isInteger(d) && (d as number) >= 1)))
    throw new Error(`has noise_shape ${text(v)}: expected a list of positive integers or nulls`);
  return v as (number | null)[];
}

function named<T extends Layer | MergeLayer>(layer: T, l: KerasLayerConfig): T {
  layer.name = l.name;
  return layer;
}

const activationLayer = (l: KerasLayerConfig, spec: ActivationLike): ConvertedLayer => ({ layer: named(new Activation(spec), l), weights: {} });

/**
 * Keras's Dense: y = act(x·W + b) on the last axis. On a flat per-example input it is forgetless's
 * `dense` (kind 'dense', same config); on inputs of higher rank ([steps, features] → [steps, units])
 * its kind is 'denseNd' and it captures the unflattened tensors.
 */
export class KerasDense implements Layer {
  name = 'dense';
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  readonly activation: ActivationSpec;
  private nd = false;

  constructor(
    readonly units: number,
    readonly useBias: boolean,
    activation: ActivationLike,
  ) {
    if (!Number.isInteger(units) || units < 1) throw new Error(`dense: units must be a positive integer, got ${String(units)}`);
    this.activation = toActivationSpec(activation);
  }

  get kind(): LayerKind {
    return this.nd ? 'denseNd' : 'dense';
  }

  build(inputShape: Shape, rng: Rng): (number | null)[] {
    const fanIn = inputShape[inputShape.length - 1];
    if (fanIn === null || fanIn === undefined) throw new Error(`${this.name}: dense needs a known size of the last input axis, got [${inputShape.map((d) => d ?? 'any')}]`);
    this.nd = inputShape.length > 1;
    this.params.kernel = toVariable(initialize('glorot', [fanIn, this.units], fanIn, this.units, rng), true);
    if (this.useBias) this.params.bias = toVariable(initialize('zeros', [this.units], fanIn, this.units, rng), true);
    return [...inputShape.slice(0, -1), this.units];
  }

  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const kernel = this.params.kernel as tf.Variable<tf.Rank.R2>;
    const bias = this.params.bias as tf.Tensor1D | undefined;
    let z: tf.Tensor = this.nd
      ? tf.reshape(denseOp(tf.reshape(x, [-1, kernel.shape[0]]), kernel, bias), [...x.shape.slice(0, -1), this.units])
      : denseOp(x as tf.Tensor2D, kernel, bias);
    const tap = ctx.taps?.[this.name];
    if (tap) z = addTap(z, tap);
    const y = applyActivation(z, this.activation);
    if (ctx.capture) ctx.capture[this.name] = { input: x, preActivation: z, output: y };
    return y;
  }

  config(): LayerConfig {
    return { kind: this.kind, units: this.units, useBias: this.useBias, activation: this.activation };
  }
}

registerKerasLayers({
  InputLayer: (l) => {
    unsupported(l.config, 'sparse', 'sparse inputs are not supported', [false]);
    unsupported(l.config, 'ragged', 'ragged inputs are not supported', [false]);
    return { layer: undefined, weights: {} };
  },

  Dense: (l, ctx) => {
    const c = l.config;
    unsupported(c, 'lora_rank', 'LoRA-adapted kernels are not supported');
    const units = num(c, 'units', undefined, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
    const useBias = bool(c, 'use_bias', true);
    const layer = named(new KerasDense(units, useBias, ctx.activation(c.activation ?? 'linear')), l);
    const weights: Record<string, string> = useBias ? { kernel: 'kernel', bias: 'bias' } : { kernel: 'kernel' };
    return { layer, weights };
  },

  Activation: (l, ctx) => activationLayer(l, ctx.activation(l.config.activation ?? 'linear')),

  ReLU: (l) => activationLayer(l, kerasActivation({ class_name: 'ReLU', config: l.config })),
  LeakyReLU: (l) => activationLayer(l, kerasActivation({ class_name: 'LeakyReLU', config: l.config })),
  ELU: (l) => activationLayer(l, kerasActivation({ class_name: 'ELU', config: l.config })),
  ThresholdedReLU: (l) => activationLayer(l, kerasActivation({ class_name: 'ThresholdedReLU', config: l.config })),

  Softmax: (l, ctx) => {
    const axis = axes(l.config, 'axis', -1);
    const last = axis === -1 || (Array.isArray(axis) && axis.length === 1 && axis[0] === -1);
    if (last) return activationLayer(l, ctx.activation('softmax'));
    return { layer: named(new Softmax({ axis }), l), weights: {} };
  },

  PReLU: (l) => {
    const s = l.config.shared_axes;
    const shared = !given(s) ? [] : Array.isArray(s) ? s : [s];
    if (shared.some((a) => !Number.isInteger(a) || (a as number) < 1))
      throw new Error(`has shared_axes ${text(s)}: expected positive integers (1 is the first axis after the batch)`);
    return { layer: named(new PReLU({ sharedAxes: shared as number[] }), l), weights: { alpha: 'alpha' } };
  },

  BatchNormalization: (l) => {
    const c = l.config;
    unsupported(c, 'renorm', 'batch renormalisation is not supported', [false]);
    unsupported(c, 'virtual_batch_size', 'ghost batch normalisation is not supported');
    unsupported(c, 'adjustment', 'an adjustment function is not supported');
    const a = axes(c, 'axis', -1);
    if (Array.isArray(a) && a.length !== 1) throw new Error(`has axis ${text(a)} (normalising over several feature axes is not supported)`);
    const axis = Array.isArray(a) ? (a[0] as number) : a;
    if (axis === 0) throw new Error('has axis 0 (the batch axis; it cannot be the feature axis)');
    const center = bool(c, 'center', true);
    const scale = bool(c, 'scale', true);
    const layer = new BatchNorm({
      momentum: num(c, 'momentum', 0.99, (v) => v >= 0 && v < 1, 'a number in [0, 1)'),
      epsilon: num(c, 'epsilon', 1e-3, (v) => v > 0, 'a number > 0'),
      center,
      scale,
      axis,
    });
    const weights: Record<string, string> = {};
    if (scale) weights.gamma = 'gamma';
    if (center) weights.beta = 'beta';
    weights.moving_mean = 'moving_mean';
    weights.moving_variance = 'moving_variance';
    return { layer: named(layer, l), weights };
  },

  LayerNormalization: (l) => {
    const c = l.config;
    unsupported(c, 'rms_scaling', 'RMS scaling is not supported', [false]);
    const axis = axes(c, 'axis', -1);
    if ((Array.isArray(axis) ? axis : [axis]).includes(0)) throw new Error(`has axis ${text(axis)} (0 is the batch axis; layer normalisation is per example)`);
    const center = bool(c, 'center', true);
    const scale = bool(c, 'scale', true);
    const layer = new LayerNorm({ axis, epsilon: num(c, 'epsilon', 1e-3, (v) => v > 0, 'a number > 0'), center, scale });
    const weights: Record<string, string> = {};
    if (scale) weights.gamma = 'gamma';
    if (center) weights.beta = 'beta';
    return { layer: named(layer, l), weights };
  },

  Dropout: (l) => {
    const shape = noiseShape(l.config);
    const r = rate(l.config);
    return { layer: named(shape ? new SpatialDropout({ rate: r, noiseShape: shape }) : new Dropout(r), l), weights: {} };
  },

  SpatialDropout1D: (l) => ({ layer: named(new SpatialDropout({ rate: rate(l.config), rank: 2 }), l), weights: {} }),

  SpatialDropout2D: (l) => {
    channelsLast(l);
    return { layer: named(new SpatialDropout({ rate: rate(l.config), rank: 3 }), l), weights: {} };
  },

  GaussianNoise: (l) => ({
    layer: named(new GaussianNoise(num(l.config, 'stddev', undefined, (v) => v >= 0, 'a number >= 0')), l),
    weights: {},
  }),

  GaussianDropout: (l) => ({ layer: named(new GaussianDropout(rate(l.config)), l), weights: {} }),

  AlphaDropout: (l) => {
    const shape = noiseShape(l.config);
    return { layer: named(new AlphaDropout({ rate: rate(l.config), ...(shape ? { noiseShape: shape } : {}) }), l), weights: {} };
  },

  Rescaling: (l) => {
    const c = l.config;
    const read = (key: string, fallback: number): number | number[] => {
      const v = given(c[key]) ? c[key] : fallback;
      const ok = typeof v === 'number' ? Number.isFinite(v) : Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'number' && Number.isFinite(e));
      if (!ok) throw new Error(`has ${key} ${text(c[key])}: expected a number or a list of numbers`);
      return v as number | number[];
    };
    return { layer: named(new Rescaling({ scale: read('scale', Number.NaN), offset: read('offset', 0) }), l), weights: {} };
  },

  Embedding: (l) => {
    const c = l.config;
    if (c.mask_zero === true) throw new Error('has mask_zero true (masking is not supported: id 0 would be looked up like any other)');
    unsupported(c, 'lora_rank', 'LoRA-adapted embeddings are not supported');
    unsupported(c, 'sparse', 'sparse gradients are not supported', [false]);
    const positive = (v: number) => Number.isInteger(v) && v >= 1;
    const layer = new Embedding({
      inputDim: num(c, 'input_dim', undefined, positive, 'a positive integer'),
      outputDim: num(c, 'output_dim', undefined, positive, 'a positive integer'),
    });
    return { layer: named(layer, l), weights: { embeddings: 'embeddings' } };
  },
});
