/**
 * A chain of Keras layers → a core `Sequential`, and the binding of each core parameter to its Keras
 * weight. Supported: InputLayer, Dense, Conv2D, MaxPooling2D, AveragePooling2D, Flatten,
 * BatchNormalization, Dropout, Activation, ReLU, LeakyReLU, and Reshape (to the input shape as the
 * first layer, or to a flat vector anywhere). A final softmax (Dense/Conv2D activation or a last
 * Activation layer) becomes the core model's logits output; `outputSoftmax` records it so that
 * predictions (softmax of the logits) equal the Keras model's.
 */
import {
  type ActivationLike,
  type Layer,
  LAYER_NAME_PREFIX,
  Sequential,
  activation,
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  dropout,
  flatten,
  maxPool2d,
} from '@forgetless/core';
import type { KerasLayer } from './topology.js';

export const SUPPORTED_LAYERS = [
  'InputLayer',
  'Dense',
  'Conv2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'Flatten',
  'BatchNormalization',
  'Dropout',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'Reshape',
] as const;

/** A Keras layer and, if it became one, the core layer and its weights: core local name → Keras weight name. */
export interface LayerBinding {
  keras: string;
  className: string;
  core?: string;
  weights: Record<string, string>;
}

export interface ConvertedModel {
  model: Sequential;
  bindings: LayerBinding[];
  /** The Keras model ends in a softmax that the core model leaves to `predict`. */
  outputSoftmax: boolean;
}

const ACTIVATIONS: Record<string, ActivationLike> = { linear: 'linear', relu: 'relu', tanh: 'tanh', sigmoid: 'sigmoid', softmax: 'softmax' };


function fail(source: string, l: KerasLayer, why: string): never {
  throw new Error(`${source}: layer '${l.name}' (class ${l.className}) ${why}`);
}

function activationOf(source: string, l: KerasLayer, value: unknown): ActivationLike {
  const name = value === undefined || value === null ? 'linear' : value;
  if (typeof name !== 'string' || !(name in ACTIVATIONS)) {
    fail(source, l, `has activation '${typeof name === 'string' ? name : JSON.stringify(name)}', which is not supported (supported: ${Object.keys(ACTIVATIONS).join(', ')})`);
  }
  return ACTIVATIONS[name] as ActivationLike;
}

/** A square size from a number or an [a, b] pair with a = b. */
function square(source: string, l: KerasLayer, key: string, value: unknown, fallback?: number): number {
  const v = value === undefined || value === null ? fallback : value;
  const pair = Array.isArray(v) ? v : [v, v];
  if (pair.length !== 2 || pair.some((d) => !Number.isInteger(d) || (d as number) < 1)) fail(source, l, `has ${key} ${JSON.stringify(value)}: expected a positive integer or a pair`);
  if (pair[0] !== pair[1]) fail(source, l, `has ${key} ${JSON.stringify(value)}: only equal sizes along height and width are supported`);
  return pair[0] as number;
}

function padding(source: string, l: KerasLayer, value: unknown): 'same' | 'valid' {
  const p = value ?? 'valid';
  if (p !== 'same' && p !== 'valid') fail(source, l, `has padding '${String(p)}' (supported: valid, same)`);
  return p;
}

function channelsLast(source: string, l: KerasLayer): void {
  const f = l.config.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last') fail(source, l, `has data_format '${String(f)}' (only channels_last is supported)`);
}

function shapeOf(config: Record<string, unknown>): unknown[] | undefined {
  const b = config.batch_input_shape ?? config.batch_shape;
  if (Array.isArray(b)) return b.slice(1);
  if (Array.isArray(config.input_shape)) return config.input_shape;
  return undefined;
}

function checkShape(source: string, l: KerasLayer, shape: unknown[]): number[] {
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || (d as number) < 1)) {
    fail(source, l, `declares input shape [${shape.map(String)}]; every dimension but the batch must be a known positive integer`);
  }
  return shape as number[];
}

export function convertChain(chain: readonly KerasLayer[], source: string): ConvertedModel {
  let inputShape: number[] | undefined;
  const parts: { keras: KerasLayer; layer?: Layer; weights: string[] }[] = [];
  for (const l of chain) {
    const c = l.config;
    const declared = shapeOf(c);
    if (declared && inputShape === undefined && !parts.some((p) => p.layer)) inputShape = checkShape(source, l, declared);
    const add = (layer: Layer | undefined, weights: string[] = []) => parts.push({ keras: l, ...(layer ? { layer } : {}), weights });
    try {
      switch (l.className) {
        case 'InputLayer':
          if (!declared) fail(source, l, 'declares no input shape');
          add(undefined);
          break;
        case 'Dense': {
          const useBias = c.use_bias !== false;
          add(dense(c.units as number, { activation: activationOf(source, l, c.activation), useBias }), useBias ? ['kernel', 'bias'] : ['kernel']);
          break;
        }
        case 'Conv2D': {
          channelsLast(source, l);
          if (square(source, l, 'dilation_rate', c.dilation_rate, 1) !== 1) fail(source, l, `has dilation_rate ${JSON.stringify(c.dilation_rate)} (only 1 is supported)`);
          if (c.groups !== undefined && c.groups !== null && c.groups !== 1) fail(source, l, `has groups ${String(c.groups)} (only 1 is supported)`);
          const useBias = c.use_bias !== false;
          const k = Array.isArray(c.kernel_size) ? (c.kernel_size as [number, number]) : (c.kernel_size as number);
          add(
            conv2d(c.filters as number, k, {
              stride: square(source, l, 'strides', c.strides, 1),
              padding: padding(source, l, c.padding),
              activation: activationOf(source, l, c.activation),
              useBias,
            }),
            useBias ? ['kernel', 'bias'] : ['kernel'],
          );
          break;
        }
        case 'MaxPooling2D':
        case 'AveragePooling2D': {
          channelsLast(source, l);
          const poolSize = square(source, l, 'pool_size', c.pool_size, 2);
          const opts = { poolSize, stride: square(source, l, 'strides', c.strides, poolSize), padding: padding(source, l, c.padding) };
          add(l.className === 'MaxPooling2D' ? maxPool2d(opts) : avgPool2d(opts));
          break;
        }
        case 'Flatten':
          channelsLast(source, l);
          add(flatten());
          break;
        case 'BatchNormalization': {
          if (c.center === false || c.scale === false) fail(source, l, 'has center or scale turned off (both are needed)');
          const axis = Array.isArray(c.axis) ? c.axis : [c.axis ?? -1];
          if (axis.length !== 1 || !(axis[0] === -1 || (typeof axis[0] === 'number' && axis[0] >= 1))) fail(source, l, `normalises over axis ${JSON.stringify(c.axis)} (only the last axis is supported)`);
          add(batchNorm({ momentum: (c.momentum as number | undefined) ?? 0.99, epsilon: (c.epsilon as number | undefined) ?? 1e-3 }), ['gamma', 'beta', 'moving_mean', 'moving_variance']);
          break;
        }
        case 'Dropout':
          add(dropout((c.rate as number | undefined) ?? 0));
          break;
        case 'Activation':
          add(activation(activationOf(source, l, c.activation)));
          break;
        case 'ReLU': {
          const max = c.max_value ?? c.maxValue;
          if (max !== undefined && max !== null) fail(source, l, `has max_value ${String(max)} (a capped ReLU is not supported)`);
          const slope = (c.negative_slope as number | undefined) ?? 0;
          if ((c.threshold ?? 0) !== 0) fail(source, l, `has threshold ${String(c.threshold)} (only 0 is supported)`);
          add(activation(slope === 0 ? 'relu' : { name: 'leakyRelu', alpha: slope }));
          break;
        }
        case 'LeakyReLU':
          add(activation({ name: 'leakyRelu', alpha: ((c.alpha ?? c.negative_slope) as number | undefined) ?? 0.3 }));
          break;
        case 'Reshape': {
          const target = Array.isArray(c.target_shape) ? (c.target_shape as unknown[]) : undefined;
          if (!target) fail(source, l, 'has no target_shape');
          const size = (s: readonly unknown[]) => s.reduce((a: number, b) => a * (b as number), 1);
          if (!parts.some((p) => p.layer)) {
            if (!inputShape) fail(source, l, 'comes first but the input shape is unknown');
            const t = checkShape(source, l, target);
            if (size(t) !== size(inputShape)) fail(source, l, `reshapes [${inputShape}] to [${t}], which has another size`);
            inputShape = t;
            add(undefined);
          } else if (target.length === 1) add(flatten());
          else fail(source, l, `reshapes to [${target.map(String)}] inside the model (supported: to the input shape as the first layer, or to a flat vector)`);
          break;
        }
        default:
          fail(source, l, `is not supported (supported layers: ${SUPPORTED_LAYERS.join(', ')})`);
      }
    } catch (e) {
      const msg = (e as Error).message;
      if (msg.startsWith(`${source}:`)) throw e;
      fail(source, l, `has a configuration core cannot build: ${msg}`);
    }
  }
  if (!inputShape) throw new Error(`${source}: the model declares no input shape (no InputLayer or batch_input_shape)`);

  // a final softmax is the classifier's output: the core model keeps the logits
  let outputSoftmax = false;
  const lastIdx = parts.map((p) => Boolean(p.layer)).lastIndexOf(true);
  const last = parts[lastIdx];
  if (last?.layer && last.layer.activation?.name === 'softmax') {
    outputSoftmax = true;
    if (last.layer.kind === 'activation') {
      if (parts.filter((p) => p.layer).length === 1) throw new Error(`${source}: the model is a lone softmax; nothing to prune`);
      delete last.layer;
    } else {
      const cfg = last.layer.config();
      const useBias = cfg.useBias !== false;
      last.layer =
        last.layer.kind === 'dense'
          ? dense(cfg.units as number, { activation: 'linear', useBias })
          : conv2d(cfg.filters as number, cfg.kernelSize as [number, number], { stride: cfg.stride as number, padding: cfg.padding as 'same' | 'valid', activation: 'linear', useBias });
    }
  }

  const layers = parts.filter((p) => p.layer).map((p) => p.layer as Layer);
  if (layers.length === 0) throw new Error(`${source}: the model has no layer to prune`);
  const counts: Record<string, number> = {};
  const names = new Map<Layer, string>();
  for (const layer of layers) {
    const prefix = LAYER_NAME_PREFIX[layer.kind] ?? layer.kind;
    const k = counts[prefix] ?? 0;
    counts[prefix] = k + 1;
    names.set(layer, `${prefix}_${k}`);
  }
  let model: Sequential;
  try {
    model = new Sequential(layers, { inputShape });
  } catch (e) {
    let msg = (e as Error).message;
    for (const p of parts) {
      const n = p.layer && names.get(p.layer);
      if (n && msg.startsWith(`${n}:`)) msg = `layer '${p.keras.name}' (class ${p.keras.className}): ${msg.slice(n.length + 1).trim()}`;
    }
    throw new Error(`${source}: ${msg}`);
  }
  const bindings: LayerBinding[] = parts.map((p) => {
    const weights: Record<string, string> = {};
    for (const w of p.layer ? p.weights : []) weights[w] = w;
    return { keras: p.keras.name, className: p.keras.className, ...(p.layer ? { core: p.layer.name } : {}), weights };
  });
  return { model, bindings, outputSoftmax };
}
