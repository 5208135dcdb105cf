/** The papers' models, and a compact model spec such as `784-300-150-10:leakyRelu`. */
import type { ActivationLike } from './layers/activation.js';
import { activation, batchNorm, conv2d, dense, flatten, maxPool2d } from './layers/index.js';
import type { InitializerName } from './init.js';
import { Sequential } from './model.js';

export interface MlpOptions {
  /** Hidden activation (default relu). */
  activation?: ActivationLike;
  init?: InitializerName;
  seed?: number;
}

/**
 * A multilayer perceptron `sizes[0] → … → sizes[n]` with logits output, e.g. the papers'
 * 784-300-150-10 (paper 1: ReLU, init normal(0, 2/√fan_in); papers 2–4: leaky ReLU 0.01).
 */
export function mlp(sizes: number[], options: MlpOptions = {}): Sequential {
  if (sizes.length < 2) throw new Error(`mlp: needs at least input and output sizes, got [${sizes}]`);
  const act = options.activation ?? 'relu';
  const layers = sizes.slice(1).map((units, i) => dense(units, { activation: i === sizes.length - 2 ? 'linear' : act, kernelInitializer: options.init ?? 'he' }));
  return new Sequential(layers, {
    inputShape: [sizes[0] as number],
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
}

/**
 * Paper 2's conv net for 28×28×1 inputs:
 * Conv(1→64, k5)-BN-lrelu-maxpool2 → Conv(64→128, k3)-BN-lrelu → Conv(128→256, k3)-BN-lrelu → Dense(→10).
 * `width` scales the channel counts (1 = the paper's; smaller for quick runs).
 */
export function paper2ConvNet(options: { seed?: number; width?: number; alpha?: number } = {}): Sequential {
  const w = options.width ?? 1;
  const c = (n: number) => Math.max(1, Math.round(n * w));
  const lrelu = { name: 'leakyRelu' as const, alpha: options.alpha ?? 0.01 };
  return new Sequential(
    [
      conv2d(c(64), 5),
      batchNorm(),
      activation(lrelu),
      maxPool2d({ poolSize: 2 }),
      conv2d(c(128), 3),
      batchNorm(),
      activation(lrelu),
      conv2d(c(256), 3),
      batchNorm(),
      activation(lrelu),
      flatten(),
      dense(10),
    ],
    {
      inputShape: [28, 28, 1],
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    },
  );
}

const ACTIVATIONS: Record<string, ActivationLike> = {
  relu: 'relu',
  leakyrelu: { name: 'leakyRelu', alpha: 0.01 },
  lrelu: { name: 'leakyRelu', alpha: 0.01 },
  tanh: 'tanh',
  sigmoid: 'sigmoid',
};

/**
 * Builds a model from a compact spec: `784-300-150-10` (ReLU MLP), `784-300-150-10:leakyrelu`,
 * `784-300-10:tanh:glorot`, or a preset name: `paper2-conv`, `paper2-conv:0.25` (width-scaled).
 */
export function modelFromSpec(spec: string, options: { seed?: number } = {}): Sequential {
  const parts = spec.trim().split(':');
  const head = (parts[0] ?? '').toLowerCase();
  if (head === 'paper2-conv' || head === 'conv') {
    const width = parts[1] !== undefined ? Number(parts[1]) : 1;
    if (!(width > 0)) throw new Error(`model spec '${spec}': width must be a positive number`);
    return paper2ConvNet({ ...options, width });
  }
  const sizes = head.split('-').map(Number);
  if (sizes.length < 2 || sizes.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`model spec '${spec}': expected sizes like 784-300-150-10 or a preset (paper2-conv)`);
  }
  let act: ActivationLike = 'relu';
  let init: InitializerName = 'he';
  for (const p of parts.slice(1)) {
    const k = p.toLowerCase();
    if (k in ACTIVATIONS) act = ACTIVATIONS[k] as ActivationLike;
    else if (['he', 'glorot', 'paper'].includes(k)) init = k as InitializerName;
    else throw new Error(`model spec '${spec}': unknown option '${p}' (activations: ${Object.keys(ACTIVATIONS).join(', ')}; inits: he, glorot, paper)`);
  }
  return mlp(sizes, { activation: act, init, ...options });
}
