/**
 * Keras converters of the parameter-free shape, pooling and merge layers. Only channels_last data
 * is supported; every other value of a key that changes the layer's function is refused by name.
 */
import type { Padding } from '../../ops/conv2d.js';
import type { Layer, MergeLayer } from '../../layers/layer.js';
import { Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract } from '../../layers/merge.js';
import { GlobalPool, Pool1d } from '../../layers/pooling.js';
import { Cropping2d, type Margins2d, Permute, Reshape, UpSampling2d, ZeroPadding2d, margins2d } from '../../layers/shape.js';
import { Flatten, Pool2d } from '../../layers/simple.js';
import { type ConvertedLayer, type KerasLayerConfig, type KerasLayerConverter, channelsLast, kerasTuple, registerKerasLayers } from '../registry.js';

const done = (layer: Layer | MergeLayer): ConvertedLayer => ({ layer, weights: {} });

function padding(l: KerasLayerConfig): Padding {
  const p = l.config.padding ?? 'valid';
  const v = typeof p === 'string' ? p.toLowerCase() : p;
  if (v !== 'valid' && v !== 'same') throw new Error(`has padding ${JSON.stringify(p)} (pooling supports 'valid' and 'same')`);
  return v;
}

/** An int, [h, w] or [[top, bottom], [left, right]] (default `fallback`), read from config key `key`. */
function margins(l: KerasLayerConfig, key: string, fallback: number): Margins2d {
  const v = l.config[key] ?? fallback;
  try {
    return margins2d(v as Margins2d, key);
  } catch {
    throw new Error(`has ${key} ${JSON.stringify(v)}: expected a non-negative integer, [height, width] or [[top, bottom], [left, right]]`);
  }
}

/** Keys whose only supported value is the default. */
function only(l: KerasLayerConfig, key: string, allowed: readonly unknown[], what: string): void {
  const v = l.config[key];
  if (v !== undefined && v !== null && !allowed.includes(v)) throw new Error(`has ${key} ${JSON.stringify(v)} (${what})`);
}

const pool1d =
  (kind: 'maxPool1d' | 'avgPool1d'): KerasLayerConverter =>
  (l) => {
    channelsLast(l);
    const [poolSize] = kerasTuple(l.config.pool_size, 1, 2, 'pool_size') as [number];
    const [stride] = kerasTuple(l.config.strides, 1, poolSize, 'strides') as [number];
    return done(new Pool1d(kind, { poolSize, stride, padding: padding(l) }));
  };

const pool2d =
  (kind: 'maxPool2d' | 'avgPool2d'): KerasLayerConverter =>
  (l) => {
    channelsLast(l);
    const [ph, pw] = kerasTuple(l.config.pool_size, 2, 2, 'pool_size') as [number, number];
    const strides = l.config.strides ?? [ph, pw];
    const [sh, sw] = kerasTuple(strides, 2, 1, 'strides') as [number, number];
    const poolSize = ph === pw ? ph : ([ph, pw] as [number, number]);
    const stride = sh === sw ? sh : ([sh, sw] as [number, number]);
    return done(new Pool2d(kind, { poolSize, stride, padding: padding(l) }));
  };

const globalPool =
  (kind: 'globalMaxPool' | 'globalAvgPool', spatialRank: 1 | 2): KerasLayerConverter =>
  (l) => {
    channelsLast(l);
    only(l, 'keepdims', [true, false], 'expected true or false');
    return done(new GlobalPool(kind, { keepdims: l.config.keepdims === true, spatialRank }));
  };

const merge =
  (make: () => MergeLayer): KerasLayerConverter =>
  () =>
    done(make());

registerKerasLayers({
  ZeroPadding2D: (l) => {
    channelsLast(l);
    return done(new ZeroPadding2d({ padding: margins(l, 'padding', 1) }));
  },
  Cropping2D: (l) => {
    channelsLast(l);
    return done(new Cropping2d({ cropping: margins(l, 'cropping', 0) }));
  },
  UpSampling2D: (l) => {
    channelsLast(l);
    const size = kerasTuple(l.config.size, 2, 2, 'size') as [number, number];
    only(l, 'interpolation', ['nearest', 'bilinear'], "supported: 'nearest' and 'bilinear'");
    const interpolation = (l.config.interpolation ?? 'nearest') as 'nearest' | 'bilinear';
    // tfjs-layers resizes with alignCorners = halfPixelCenters = false (TF2 Keras's bilinear uses half-pixel centres)
    return done(new UpSampling2d({ size, interpolation }));
  },
  Reshape: (l) => {
    const t = l.config.target_shape;
    if (!Array.isArray(t) || t.some((d) => d !== null && !Number.isInteger(d))) throw new Error(`has target_shape ${JSON.stringify(t)}: expected a list of integers`);
    const targetShape = t.map((d) => (d === null ? -1 : (d as number)));
    try {
      return done(new Reshape({ targetShape }));
    } catch {
      throw new Error(`has target_shape ${JSON.stringify(t)}: expected positive integers with at most one -1`);
    }
  },
  Permute: (l) => {
    const dims = l.config.dims;
    try {
      return done(new Permute({ dims: dims as number[] }));
    } catch {
      throw new Error(`has dims ${JSON.stringify(dims)}: expected a permutation of 1..rank`);
    }
  },
  Flatten: (l) => {
    channelsLast(l);
    return done(new Flatten());
  },
  MaxPooling1D: pool1d('maxPool1d'),
  MaxPool1D: pool1d('maxPool1d'),
  AveragePooling1D: pool1d('avgPool1d'),
  AvgPool1D: pool1d('avgPool1d'),
  MaxPooling2D: pool2d('maxPool2d'),
  MaxPool2D: pool2d('maxPool2d'),
  AveragePooling2D: pool2d('avgPool2d'),
  AvgPool2D: pool2d('avgPool2d'),
  GlobalMaxPooling1D: globalPool('globalMaxPool', 1),
  GlobalMaxPool1D: globalPool('globalMaxPool', 1),
  GlobalMaxPooling2D: globalPool('globalMaxPool', 2),
  GlobalMaxPool2D: globalPool('globalMaxPool', 2),
  GlobalAveragePooling1D: globalPool('globalAvgPool', 1),
  GlobalAvgPool1D: globalPool('globalAvgPool', 1),
  GlobalAveragePooling2D: globalPool('globalAvgPool', 2),
  GlobalAvgPool2D: globalPool('globalAvgPool', 2),
  Add: merge(() => new Add()),
  Subtract: merge(() => new Subtract()),
  Multiply: merge(() => new Multiply()),
  Average: merge(() => new Average()),
  Maximum: merge(() => new Maximum()),
  Minimum: merge(() => new Minimum()),
  Concatenate: (l) => {
    const axis = l.config.axis ?? -1;
    if (!Number.isInteger(axis) || axis === 0) throw new Error(`has axis ${JSON.stringify(axis)}: expected a non-zero integer (0 is the batch axis)`);
    return done(new Concatenate({ axis: axis as number }));
  },
});
