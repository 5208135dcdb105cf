/**
 * Keras converters of the convolution layers: Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D,
 * Conv2DTranspose. Each reads every config key that changes the function (filters, kernel_size,
 * strides, padding, dilation_rate, depth_multiplier, use_bias, activation, data_format, groups,
 * output_padding) and throws naming the key for a value forgetless does not compute. Initializers,
 * regularizers and constraints do not change the function (weights are loaded afterwards).
 * Local weight names are the Keras names.
 */
import { Conv1d, type Conv1dPadding } from '../../layers/conv1d.js';
import { Conv2d } from '../../layers/conv2d.js';
import { Conv2dTranspose } from '../../layers/conv2d-transpose.js';
import { DepthwiseConv2d } from '../../layers/depthwise-conv2d.js';
import type { Layer } from '../../layers/layer.js';
import { SeparableConv2d } from '../../layers/separable-conv2d.js';
import type { Padding } from '../../ops/conv2d.js';
import { type ConvertedLayer, type KerasLayerConfig, channelsLast, kerasTuple, registerKerasLayers } from '../registry.js';

type Config = Record<string, unknown>;
const given = (v: unknown) => v !== undefined && v !== null;
const text = (v: unknown) => JSON.stringify(v);

function filters(c: Config): number {
  const v = c.filters;
  if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`has filters ${text(v)}: expected a positive integer`);
  return v as number;
}

function padding<P extends string>(c: Config, allowed: readonly P[]): P {
  const v = given(c.padding) ? c.padding : 'valid';
  if (typeof v !== 'string' || !allowed.includes(v as P)) throw new Error(`has padding ${text(c.padding)} (supported: ${allowed.join(', ')})`);
  return v as P;
}

function useBias(c: Config): boolean {
  const v = given(c.use_bias) ? c.use_bias : true;
  if (typeof v !== 'boolean') throw new Error(`has use_bias ${text(c.use_bias)}: expected true or false`);
  return v;
}

function groups(c: Config): void {
  if (given(c.groups) && c.groups !== 1) throw new Error(`has groups ${text(c.groups)} (only 1 is supported)`);
}

function depthMultiplier(c: Config): number {
  const v = given(c.depth_multiplier) ? c.depth_multiplier : 1;
  if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`has depth_multiplier ${text(c.depth_multiplier)}: expected a positive integer`);
  return v as number;
}

/** strides and dilation_rate as `rank`-tuples; Keras (and tfjs) refuse both above 1. */
function stridesAndDilation(c: Config, rank: number): { strides: number[]; dilation: number[] } {
  const strides = kerasTuple(c.strides, rank, 1, 'strides');
  const dilation = kerasTuple(c.dilation_rate, rank, 1, 'dilation_rate');
  if (strides.some((s) => s > 1) && dilation.some((d) => d > 1)) {
    throw new Error(`has strides ${text(c.strides)} and dilation_rate ${text(c.dilation_rate)}: both above 1 is not supported (Keras refuses it too)`);
  }
  return { strides, dilation };
}

/** Common to every converter: a channels_last layer, its name, its activation; errors name the key. */
function convert(l: KerasLayerConfig, make: (c: Config) => { layer: Layer; weights: string[] }): ConvertedLayer {
  channelsLast(l);
  const { layer, weights } = make(l.config);
  layer.name = l.name;
  return { layer, weights: Object.fromEntries(weights.map((w) => [w, w])) };
}

const pair = (t: number[]) => t as [number, number];
const withBias = (bias: boolean, ...kernels: string[]) => (bias ? [...kernels, 'bias'] : kernels);

registerKerasLayers({
  Conv1D: (l, ctx) =>
    convert(l, (c) => {
      groups(c);
      const [kernelSize] = kerasTuple(c.kernel_size, 1, 1, 'kernel_size') as [number];
      const { strides, dilation } = stridesAndDilation(c, 1);
      const bias = useBias(c);
      const layer = new Conv1d({
        filters: filters(c),
        kernelSize,
        stride: strides[0],
        dilation: dilation[0],
        padding: padding<Conv1dPadding>(c, ['valid', 'same', 'causal']),
        useBias: bias,
        activation: ctx.activation(c.activation),
        kernelInitializer: 'glorot',
      });
      return { layer, weights: withBias(bias, 'kernel') };
    }),

  Conv2D: (l, ctx) =>
    convert(l, (c) => {
      groups(c);
      const { strides, dilation } = stridesAndDilation(c, 2);
      const bias = useBias(c);
      const layer = new Conv2d({
        filters: filters(c),
        kernelSize: pair(kerasTuple(c.kernel_size, 2, 1, 'kernel_size')),
        stride: pair(strides),
        dilation: pair(dilation),
        padding: padding<Padding>(c, ['valid', 'same']),
        useBias: bias,
        activation: ctx.activation(c.activation),
        kernelInitializer: 'glorot',
      });
      return { layer, weights: withBias(bias, 'kernel') };
    }),

  DepthwiseConv2D: (l, ctx) =>
    convert(l, (c) => {
      const { strides, dilation } = stridesAndDilation(c, 2);
      const bias = useBias(c);
      const layer = new DepthwiseConv2d({
        kernelSize: pair(kerasTuple(c.kernel_size, 2, 1, 'kernel_size')),
        depthMultiplier: depthMultiplier(c),
        stride: pair(strides),
        dilation: pair(dilation),
        padding: padding<Padding>(c, ['valid', 'same']),
        useBias: bias,
        activation: ctx.activation(c.activation),
      });
      return { layer, weights: withBias(bias, 'depthwise_kernel') };
    }),

  SeparableConv2D: (l, ctx) =>
    convert(l, (c) => {
      const { strides, dilation } = stridesAndDilation(c, 2);
      const bias = useBias(c);
      const layer = new SeparableConv2d({
        filters: filters(c),
        kernelSize: pair(kerasTuple(c.kernel_size, 2, 1, 'kernel_size')),
        depthMultiplier: depthMultiplier(c),
        stride: pair(strides),
        dilation: pair(dilation),
        padding: padding<Padding>(c, ['valid', 'same']),
        useBias: bias,
        activation: ctx.activation(c.activation),
      });
      return { layer, weights: withBias(bias, 'depthwise_kernel', 'pointwise_kernel') };
    }),

  Conv2DTranspose: (l, ctx) =>
    convert(l, (c) => {
      groups(c);
      if (given(c.output_padding)) throw new Error(`has output_padding ${text(c.output_padding)} (only null is supported)`);
      const dilation = kerasTuple(c.dilation_rate, 2, 1, 'dilation_rate');
      if (dilation.some((d) => d !== 1)) throw new Error(`has dilation_rate ${text(c.dilation_rate)} (only 1 is supported for Conv2DTranspose)`);
      const bias = useBias(c);
      const layer = new Conv2dTranspose({
        filters: filters(c),
        kernelSize: pair(kerasTuple(c.kernel_size, 2, 1, 'kernel_size')),
        stride: pair(kerasTuple(c.strides, 2, 1, 'strides')),
        padding: padding<Padding>(c, ['valid', 'same']),
        useBias: bias,
        activation: ctx.activation(c.activation),
      });
      return { layer, weights: withBias(bias, 'kernel') };
    }),
});
