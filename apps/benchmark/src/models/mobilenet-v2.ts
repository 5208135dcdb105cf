/**
 * Keras's MobileNetV2 (keras.applications.MobileNetV2, `include_top=True`, no weights), built with
 * stock @tensorflow/tfjs-layers under Keras's layer names: Conv1_pad → Conv1 (3×3 s2 valid, no
 * bias) → bn_Conv1 → Conv1_relu (ReLU max 6); `expanded_conv_` (expansion 1: depthwise → project);
 * `block_1_` … `block_16_` (expand 1×1 → BN → ReLU6 → [block_N_pad for stride 2, Keras's
 * `correct_pad`] → depthwise 3×3 → BN → ReLU6 → project 1×1 → BN → [block_N_add when the shapes
 * match]); Conv_1 (1×1 to 1280) → Conv_1_bn → out_relu → global_average_pooling2d → predictions
 * (softmax). BatchNormalization epsilon 1e-3, momentum 0.999; channels as Keras's `_make_divisible`,
 * which torchvision's `mobilenet_v2(width_mult=α)` computes the same way.
 *
 * `blocks` keeps the first that many inverted-residual blocks after `expanded_conv` (16: the whole
 * network), so a benchmark can run a truncated net; the head (Conv_1, pooling, classifier) is kept.
 * Weights are seeded, variance-preserving draws (kernels normal(0, √(2/fanIn)), BN gammas near 1,
 * moving variances in [0.5, 1.5)), so activations stay O(1) and the softmax is not saturated, as in
 * a trained network; timings do not depend on the values.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '@forgetless/core';

type Sym = tfl.SymbolicTensor;

/** Keras MobileNetV2's inverted-residual blocks after `expanded_conv`: [filters, stride, expansion]. */
export const MOBILENET_V2_BLOCKS: ReadonlyArray<readonly [number, 1 | 2, number]> = [
  [24, 2, 6],
  [24, 1, 6],
  [32, 2, 6],
  [32, 1, 6],
  [32, 1, 6],
  [64, 2, 6],
  [64, 1, 6],
  [64, 1, 6],
  [64, 1, 6],
  [96, 1, 6],
  [96, 1, 6],
  [96, 1, 6],
  [160, 2, 6],
  [160, 1, 6],
  [160, 1, 6],
  [320, 1, 6],
];

export interface MobileNetV2Options {
  /** Width multiplier α (Keras `alpha`, torchvision `width_mult`); default 0.35. */
  alpha?: number;
  /** Input height and width (default 96). */
  size?: number;
  /** Classes of the classifier (default 10). */
  classes?: number;
  /** Inverted-residual blocks kept after `expanded_conv`, 0–16 (default 16: the whole network). */
  blocks?: number;
  seed?: number;
}

/** Keras's (and torchvision's) `_make_divisible`. */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** Keras's `imagenet_utils.correct_pad` for a 3×3 kernel on a `size`×`size` input. */
function correctPad(size: number): [[number, number], [number, number]] {
  const a = 1 - (size % 2);
  return [
    [1 - a, 1],
    [1 - a, 1],
  ];
}

const call = (layer: tfl.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;

export function mobileNetV2(options: MobileNetV2Options = {}): tfl.LayersModel {
  const { alpha = 0.35, size = 96, classes = 10, blocks = 16, seed = 1 } = options;
  if (!Number.isInteger(blocks) || blocks < 0 || blocks > 16) throw new Error(`mobileNetV2: blocks must be an integer in 0–16, got ${blocks}`);
  const bn = (name: string) => tfl.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name });
  const relu6 = (name: string) => tfl.layers.reLU({ maxValue: 6, name });

  const input = tfl.input({ shape: [size, size, 3], name: 'input_1' });
  let x = call(tfl.layers.zeroPadding2d({ padding: correctPad(size), name: 'Conv1_pad' }), input);
  x = call(tfl.layers.conv2d({ filters: makeDivisible(32 * alpha), kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'Conv1' }), x);
  x = call(bn('bn_Conv1'), x);
  x = call(relu6('Conv1_relu'), x);

  const inverted = (inp: Sym, filters: number, stride: 1 | 2, expansion: number, id: number): Sym => {
    const inChannels = inp.shape[3] as number;
    const out = makeDivisible(Math.trunc(filters * alpha));
    let p = `block_${id}_`;
    let h = inp;
    if (id > 0) {
      h = call(tfl.layers.conv2d({ filters: expansion * inChannels, kernelSize: 1, padding: 'same', useBias: false, name: `${p}expand` }), h);
      h = call(bn(`${p}expand_BN`), h);
      h = call(relu6(`${p}expand_relu`), h);
    } else {
      p = 'expanded_conv_';
    }
    if (stride === 2) h = call(tfl.layers.zeroPadding2d({ padding: correctPad(h.shape[1] as number), name: `${p}pad` }), h);
    h = call(tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: stride === 1 ? 'same' : 'valid', useBias: false, name: `${p}depthwise` }), h);
    h = call(bn(`${p}depthwise_BN`), h);
    h = call(relu6(`${p}depthwise_relu`), h);
    h = call(tfl.layers.conv2d({ filters: out, kernelSize: 1, padding: 'same', useBias: false, name: `${p}project` }), h);
    h = call(bn(`${p}project_BN`), h);
    if (inChannels === out && stride === 1) h = call(tfl.layers.add({ name: `${p}add` }), [inp, h]);
    return h;
  };
  x = inverted(x, 16, 1, 1, 0);
  MOBILENET_V2_BLOCKS.slice(0, blocks).forEach(([filters, stride, expansion], i) => {
    x = inverted(x, filters, stride, expansion, i + 1);
  });

  const last = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  x = call(tfl.layers.conv2d({ filters: last, kernelSize: 1, useBias: false, name: 'Conv_1' }), x);
  x = call(bn('Conv_1_bn'), x);
  x = call(relu6('out_relu'), x);
  x = call(tfl.layers.globalAveragePooling2d({ name: 'global_average_pooling2d' }), x);
  const output = call(tfl.layers.dense({ units: classes, activation: 'softmax', name: 'predictions' }), x);
  const model = tfl.model({ inputs: input, outputs: output, name: `mobilenetv2_${alpha.toFixed(2)}_${size}` });
  seedWeights(model, seed);
  return model;
}

/** Seeded, variance-preserving weights (see the module comment), whatever tfjs's initialisers drew. */
function seedWeights(model: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const v of model.weights) {
    const shape = v.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    const name = v.originalName;
    let draw: () => number = () => 0;
    if (name.endsWith('moving_variance')) draw = () => 0.5 + rng.next();
    else if (name.endsWith('moving_mean')) draw = () => rng.normal() * 0.1;
    else if (/(^|\/)gamma$/.test(name)) draw = () => 1 + rng.normal() * 0.1;
    else if (/(^|\/)(depthwise_)?kernel$/.test(name)) {
      const fanIn = shape.slice(0, name.endsWith('depthwise_kernel') ? -2 : -1).reduce((a, b) => a * b, 1);
      const std = Math.sqrt(2 / fanIn);
      draw = () => rng.normal() * std;
    }
    // betas and the classifier's bias: 0
    const t = tf.tensor(Float32Array.from({ length: size }, draw), shape, 'float32');
    v.write(t);
    t.dispose();
  }
}

/** The model's artifacts as `model.save` writes them (model.json topology + one weight group), in memory. */
export async function saveToMemory(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('saveToMemory: the save handler was not called');
  return saved;
}
