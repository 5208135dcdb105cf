/** Layer factories: `sequential([dense(300, { activation: 'relu' }), dense(10)], { inputShape: [784] })`. */
import type { Pool2dOptions } from './simple.js';
import { Activation, Dropout, Flatten, Pool2d } from './simple.js';
import { BatchNorm, type BatchNormOptions } from './batch-norm.js';
import { Conv2d, type Conv2dOptions } from './conv2d.js';
import { Dense, type DenseOptions } from './dense.js';
import type { ActivationLike } from './activation.js';
import type { Layer, LayerConfig } from './layer.js';

export function dense(units: number, options: Omit<DenseOptions, 'units'> = {}): Dense {
  return new Dense({ units, ...options });
}
export function conv2d(filters: number, kernelSize: number | [number, number], options: Omit<Conv2dOptions, 'filters' | 'kernelSize'> = {}): Conv2d {
  return new Conv2d({ filters, kernelSize, ...options });
}
export function maxPool2d(options: Pool2dOptions = {}): Pool2d {
  return new Pool2d('maxPool2d', options);
}
export function avgPool2d(options: Pool2dOptions = {}): Pool2d {
  return new Pool2d('avgPool2d', options);
}
export function flatten(): Flatten {
  return new Flatten();
}
export function batchNorm(options: BatchNormOptions = {}): BatchNorm {
  return new BatchNorm(options);
}
export function dropout(rate: number): Dropout {
  return new Dropout(rate);
}
export function activation(a: ActivationLike): Activation {
  return new Activation(a);
}

/** Rebuilds a layer from `Layer.config()`. */
export function layerFromConfig(c: LayerConfig): Layer {
  const o = c as Record<string, unknown>;
  switch (c.kind) {
    case 'dense':
      return new Dense(o as unknown as DenseOptions);
    case 'conv2d':
      return new Conv2d(o as unknown as Conv2dOptions);
    case 'maxPool2d':
    case 'avgPool2d':
      return new Pool2d(c.kind as 'maxPool2d' | 'avgPool2d', o as Pool2dOptions);
    case 'flatten':
      return new Flatten();
    case 'batchNorm':
      return new BatchNorm(o as BatchNormOptions);
    case 'dropout':
      return new Dropout(o.rate as number);
    case 'activation':
      return new Activation(o.activation as ActivationLike);
    default:
      throw new Error(`unknown layer kind '${String(c.kind)}'`);
  }
}

export { Activation, BatchNorm, Conv2d, Dense, Dropout, Flatten, Pool2d };
export type { BatchNormOptions, Conv2dOptions, DenseOptions, Pool2dOptions };
