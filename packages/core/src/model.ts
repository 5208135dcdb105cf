/**
 * A sequential model over tfjs-core with named parameters (`dense_0/kernel`, `conv2d_1/bias`,
 * `batch_norm_0/gamma`), seeded initialisation, a choice of gradient implementation, and forward
 * passes that can capture each parametric layer's input, pre-activation and output.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ForwardOptions, LayerShapes, Model } from './contract.js';
import { type BatchNorm, type FusableConv, batchNormAfterConv, fusedReluCap } from './layers/batch-norm.js';
import { layerFromConfig } from './layers/index.js';
import type { LayerCapture, Layer, LayerConfig } from './layers/layer.js';
import { type ParamMap, assignWeights, copyWeights } from './params.js';
import { Rng } from './rng.js';

export interface SequentialOptions {
  /** Per-example input shape, e.g. [784] or [28, 28, 1]. Inputs of the same size are reshaped to it. */
  inputShape: number[];
  /** Seed of the initializers (default 0). */
  seed?: number;
}

export interface ModelConfig {
  format: 'forgetless-sequential';
  inputShape: number[];
  seed: number;
  layers: LayerConfig[];
}

export type { ForwardOptions } from './contract.js';

/** The prefix of a layer's name in a model (`dense_0`, `batch_norm_1`, ...) for each layer kind. */
export const LAYER_NAME_PREFIX: Readonly<Record<string, string>> = {
  dense: 'dense',
  conv2d: 'conv2d',
  batchNorm: 'batch_norm',
  maxPool2d: 'max_pool2d',
  avgPool2d: 'avg_pool2d',
  flatten: 'flatten',
  dropout: 'dropout',
  activation: 'activation',
};

export class Sequential implements Model {
  readonly layers: Layer[];
  readonly inputShape: number[];
  readonly outputShape: number[];
  readonly seed: number;
  /** Trainable parameters, in layer order. */
  readonly params: ParamMap<tf.Variable>;
  /** Non-trainable state (batchNorm moving statistics). */
  readonly state: ParamMap<tf.Variable>;
  /** Per-example output shape of every layer, by layer name. */
  readonly shapes: Record<string, { input: number[]; output: number[] }> = {};
  private disposed = false;

  constructor(layers: Layer[], options: SequentialOptions) {
    if (!Array.isArray(options.inputShape) || options.inputShape.length === 0 || options.inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`sequential: inputShape must be positive integers, got [${String(options.inputShape)}]`);
    }
    if (layers.length === 0) throw new Error('sequential: a model needs at least one layer');
    this.layers = layers;
    this.inputShape = [...options.inputShape];
    this.seed = options.seed ?? 0;
    const rng = new Rng(this.seed);
    const counts: Record<string, number> = {};
    const params: ParamMap<tf.Variable> = {};
    const state: ParamMap<tf.Variable> = {};
    let shape = this.inputShape;
    for (const layer of layers) {
      const prefix = LAYER_NAME_PREFIX[layer.kind] ?? layer.kind;
      const k = counts[prefix] ?? 0;
      counts[prefix] = k + 1;
      layer.name = `${prefix}_${k}`;
      const input = shape;
      shape = layer.build(shape, rng.fork(layer.name)) as number[];
      this.shapes[layer.name] = { input, output: shape };
      for (const [local, v] of Object.entries(layer.params)) params[`${layer.name}/${local}`] = v;
      for (const [local, v] of Object.entries(layer.state)) state[`${layer.name}/${local}`] = v;
    }
    this.outputShape = shape;
    this.params = params;
    this.state = state;
  }

  /** Layers that own trainable parameters (dense, conv2d, batchNorm). */
  get parametricLayers(): Layer[] {
    return this.layers.filter((l) => Object.keys(l.params).length > 0);
  }

  /** Number of classes of a classifier (the last layer's width). */
  get numClasses(): number {
    return this.outputShape[this.outputShape.length - 1] as number;
  }

  /**
   * Forward pass; returns the last layer's output (logits for a classifier whose last dense layer has
   * no activation). With `capture`, records every parametric layer's input, pre-activation and output;
   * the last parametric layer's output is the model's probabilities (softmax of the logits).
   */
  apply(x: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.assertLive();
    const ctx = {
      training: options.training ?? false,
      ...(options.rng ? { rng: options.rng } : {}),
      ...(options.capture ? { capture: options.capture } : {}),
      ...(options.taps ? { taps: options.taps } : {}),
      ...(options.exampleSums ? { exampleSums: options.exampleSums } : {}),
    };
    const input = this.reshapeInput(x);
    let h = input;
    let open: string | undefined; // parametric layer whose activation may still follow
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i] as Layer;
      // a conv, the batch norm after it (and a ReLU6 or ReLU after that) as one op each way where it can (wasm
      // SIMD, training, no capture), unless the conv reads the model's input (the op computes ∂x)
      const bn = h === input ? undefined : batchNormAfterConv(layer, this.layers[i + 1]);
      if (bn) {
        const cap = fusedReluCap(bn, this.layers[i + 2]);
        const y = bn.applyAfterConv(layer as unknown as FusableConv, h, undefined, cap ?? 0, ctx);
        if (y) {
          h = y;
          i += cap !== undefined ? 2 : 1;
          continue;
        }
      }
      // a batch norm and the ReLU6 or ReLU after it as one kernel where it can (wasm SIMD; in training, no tap or
      // capture; in inference, a tap or capture is taken after the ReLU: `LayerCapture.fusedActivation`)
      const cap = fusedReluCap(layer, this.layers[i + 1]);
      const fused = cap !== undefined ? (layer as BatchNorm).applyWithRelu(h, cap, ctx) : undefined;
      if (fused) {
        h = fused;
        i++;
        if (options.capture) open = options.capture[layer.name] ? layer.name : undefined;
        continue;
      }
      h = layer.apply(h, ctx);
      if (!options.capture) continue;
      if (Object.keys(layer.params).length > 0) open = layer.name;
      else if (layer.kind === 'activation' && open) (options.capture[open] as LayerCapture).output = h;
      else open = undefined;
    }
    if (options.capture) {
      const last = this.parametricLayers.at(-1);
      const lastLayer = this.layers.at(-1);
      const c = last ? options.capture[last.name] : undefined;
      if (c && last && lastLayer && open === last.name) {
        const act = lastLayer.activation?.name;
        c.output = act === 'softmax' ? h : tf.softmax(h);
      }
    }
    return h;
  }

  /**
   * The output before a final softmax: `apply`, or, when the last parametric layer is followed by a
   * softmax (fused or as activation layers), that layer's pre-activation.
   */
  logits(x: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    if (!this.endsInSoftmax()) return this.apply(x, options);
    const last = this.parametricLayers.at(-1) as Layer;
    const tail = this.layers.slice(this.layers.indexOf(last) + 1);
    if (tail.some((l) => l.kind !== 'activation')) {
      throw new Error('model: the model ends in a softmax that is not directly after its last parametric layer, so its logits cannot be recovered');
    }
    const capture = options.capture ?? {};
    this.apply(x, { ...options, capture });
    return (capture[last.name] as LayerCapture).preActivation;
  }

  /** True if the model's output is probabilities (a softmax after its last parametric layer). */
  endsInSoftmax(): boolean {
    const last = this.parametricLayers.at(-1);
    if (!last) return false;
    return this.layers.slice(this.layers.indexOf(last)).some((l) => l.activation?.name === 'softmax');
  }

  /** Per-example input and output shapes of every layer (static: the input shape is fully known). */
  layerShapes(_exampleShape?: readonly number[]): Record<string, LayerShapes> {
    return this.shapes;
  }

  /** Class probabilities in inference mode (softmax of the logits). */
  predict(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = this.apply(x);
      return this.layers.at(-1)?.activation?.name === 'softmax' ? y : tf.softmax(y);
    });
  }

  /** Reshapes a batch to [batch, ...inputShape]; throws naming both shapes if sizes disagree. */
  reshapeInput(x: tf.Tensor): tf.Tensor {
    const per = this.inputShape.reduce((a, b) => a * b, 1);
    const n = x.shape[0] as number;
    if (x.size !== n * per) {
      throw new Error(`model input: expected [batch, ${this.inputShape}] but got [${x.shape}]`);
    }
    if (x.shape.length === this.inputShape.length + 1 && x.shape.slice(1).every((d, i) => d === this.inputShape[i])) return x;
    return tf.reshape(x, [n, ...this.inputShape]);
  }

  /** Copies of all parameters and state (a checkpoint of the weights). */
  getWeights(options: { state?: boolean } = {}): ParamMap {
    return copyWeights(this.params, this.state, options);
  }

  setWeights(weights: ParamMap, options: { allowMissing?: boolean } = {}): void {
    assignWeights(this.params, this.state, weights, options);
  }

  countParams(): number {
    return Object.values(this.params).reduce((n, v) => n + v.size, 0);
  }

  config(): ModelConfig {
    return { format: 'forgetless-sequential', inputShape: this.inputShape, seed: this.seed, layers: this.layers.map((l) => l.config()) };
  }

  /** One line per layer: name, output shape, parameter count. */
  summary(): string {
    const rows = this.layers.map((l) => {
      const n = Object.values(l.params).reduce((a, v) => a + v.size, 0);
      return `${l.name.padEnd(14)} [${this.shapes[l.name]?.output}]`.padEnd(34) + String(n);
    });
    return [...rows, `total parameters: ${this.countParams()}`].join('\n');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of Object.values(this.params)) v.dispose();
    for (const v of Object.values(this.state)) v.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('model: this model has been disposed');
  }
}

export function sequential(layers: Layer[], options: SequentialOptions): Sequential {
  return new Sequential(layers, options);
}

/** Rebuilds a model from `model.config()` (weights are freshly initialised from the config's seed). */
export function modelFromConfig(config: ModelConfig): Sequential {
  if (config?.format !== 'forgetless-sequential' || !Array.isArray(config.layers)) {
    throw new Error("modelFromConfig: not a forgetless model config (format 'forgetless-sequential')");
  }
  return new Sequential(config.layers.map(layerFromConfig), { inputShape: config.inputShape, seed: config.seed });
}
