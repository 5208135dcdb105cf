/**
 * Keras / tfjs-layers activation identifiers → forgetless activation specs.
 *
 * Accepted: strings in Keras snake_case or tfjs camelCase (`'hard_sigmoid'`, `'hardSigmoid'`,
 * `'gelu_new'`, `'silu'`), `null`/`undefined` (linear), and serialized objects: `{ class_name, config }`
 * of an activation (`{ class_name: 'relu' }`), of a Keras 3 function (`{ class_name: 'function',
 * config: 'relu' }`), or of an activation layer used as one (`{ class_name: 'LeakyReLU', config: { alpha } }`).
 *
 * `hard_sigmoid` is tfjs-layers' and Keras 2's clip(0.2x + 0.5, 0, 1) (Keras 3 changed it to relu6(x + 3)/6).
 */
import { type ActivationSpec, toActivationSpec } from '../layers/activation.js';

/** Identifier, lower-cased without underscores → spec. */
const BY_NAME: Record<string, ActivationSpec> = {
  linear: { name: 'linear' },
  relu: { name: 'relu' },
  relu6: { name: 'relu6' },
  elu: { name: 'elu', alpha: 1 },
  selu: { name: 'selu' },
  gelu: { name: 'gelu' },
  gelunew: { name: 'geluNew' },
  swish: { name: 'swish' },
  silu: { name: 'swish' },
  mish: { name: 'mish' },
  hardsigmoid: { name: 'hardSigmoid' },
  softplus: { name: 'softplus' },
  softsign: { name: 'softsign' },
  exponential: { name: 'exponential' },
  tanh: { name: 'tanh' },
  sigmoid: { name: 'sigmoid' },
  softmax: { name: 'softmax' },
  logsoftmax: { name: 'logSoftmax' },
  // Keras 3's activations.leaky_relu (negative_slope 0.2)
  leakyrelu: { name: 'leakyRelu', alpha: 0.2 },
};

/** The spellings listed in error messages. */
const SUPPORTED = [
  'linear',
  'relu',
  'relu6',
  'elu',
  'selu',
  'gelu',
  'gelu_new',
  'swish',
  'silu',
  'mish',
  'hard_sigmoid',
  'softplus',
  'softsign',
  'exponential',
  'tanh',
  'sigmoid',
  'softmax',
  'log_softmax',
  'leaky_relu',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'Softmax (axis -1)',
  'ThresholdedReLU',
];

const describe = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

function unsupported(value: unknown, why = ''): never {
  throw new Error(`activation ${describe(value)} is not supported${why} (supported: ${SUPPORTED.join(', ')})`);
}

function num(config: Record<string, unknown>, keys: string[], fallback: number | undefined): number | undefined {
  for (const k of keys) {
    const v = config[k];
    if (v !== undefined && v !== null) return v as number;
  }
  return fallback;
}

/** An activation layer's class and config (Keras names), as a spec. */
function fromLayerClass(value: unknown, className: string, config: Record<string, unknown>): ActivationSpec {
  switch (className) {
    case 'ReLU': {
      const maxValue = num(config, ['max_value', 'maxValue'], undefined);
      return toActivationSpec({
        name: 'cappedRelu',
        ...(maxValue === undefined ? {} : { maxValue }),
        negativeSlope: num(config, ['negative_slope', 'negativeSlope'], 0) as number,
        threshold: num(config, ['threshold'], 0) as number,
      });
    }
    case 'LeakyReLU':
      return toActivationSpec({ name: 'leakyRelu', alpha: num(config, ['alpha', 'negative_slope', 'negativeSlope'], 0.3) as number });
    case 'ELU':
      return toActivationSpec({ name: 'elu', alpha: num(config, ['alpha'], 1) as number });
    case 'ThresholdedReLU':
      return toActivationSpec({ name: 'cappedRelu', threshold: num(config, ['theta'], 1) as number });
    case 'Softmax': {
      const axis = config.axis ?? -1;
      const last = axis === -1 || (Array.isArray(axis) && axis.length === 1 && axis[0] === -1);
      if (!last) unsupported(value, ` as an activation: only axis -1 is (use the Softmax layer)`);
      return { name: 'softmax' };
    }
    default:
      return unsupported(value);
  }
}

/**
 * The forgetless activation that computes what the Keras activation `value` computes. Throws
 * `Error('activation ... is not supported (supported: ...)')` for anything else.
 */
export function kerasActivation(value: unknown): ActivationSpec {
  if (value === undefined || value === null) return { name: 'linear' };
  if (typeof value === 'string') {
    const spec = BY_NAME[value.toLowerCase().replace(/_/g, '')];
    if (!spec) unsupported(value);
    return toActivationSpec(spec);
  }
  if (typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const className = o.class_name ?? o.className;
    const config = o.config;
    if (typeof className !== 'string') unsupported(value, ': it has no class_name');
    // Keras 3 serializes built-in activation functions as { class_name: 'function', config: 'relu' }
    if (className === 'function' && typeof config === 'string') return kerasActivation(config);
    const cfg = config !== null && typeof config === 'object' ? (config as Record<string, unknown>) : {};
    if (/^[A-Z]/.test(className)) return fromLayerClass(value, className, cfg);
    return kerasActivation(className);
  }
  return unsupported(value);
}
