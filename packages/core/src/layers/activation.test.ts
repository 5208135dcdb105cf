import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { kerasActivation } from '../keras/activations.js';
import { type ActivationSpec, applyActivation, toActivationSpec } from './activation.js';

const X = () => tf.tensor2d([-7, -3, -2.6, -2.5, -1, -0.3, -1e-3, 0.2, 0.7, 1, 1.5, 2.4, 2.6, 5.9, 6.1, 9], [2, 8]);
const DY = () => tf.tensor2d([0.3, -1.2, 0.5, 2, -0.7, 1.1, 0.9, -0.4, 1.3, -2, 0.6, 0.8, -0.9, 1.7, 0.2, -1.5], [2, 8]);

/** f(x) and ∂Σ(f(x)·dy)/∂x. */
function valueAndGrad(f: (x: tf.Tensor) => tf.Tensor): [Float32Array, Float32Array] {
  return tf.tidy(() => {
    const x = X();
    const dy = DY();
    const y = f(x).dataSync() as Float32Array;
    const g = tf
      .grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dy)))(x)
      .dataSync() as Float32Array;
    return [y.slice(), g.slice()];
  });
}

const ours = (spec: ActivationSpec) => (x: tf.Tensor) => applyActivation(x, toActivationSpec(spec));
const tflActivation = (id: string) => {
  const layer = tfl.layers.activation({ activation: id as never });
  return (x: tf.Tensor) => layer.apply(x) as tf.Tensor;
};

/** Keras's relu(x, negative_slope, max_value, threshold), one number at a time. */
function kerasRelu(x: number, slope: number, max: number | undefined, t: number): number {
  let y = t !== 0 ? (x > t ? x : 0) : Math.max(x, 0);
  if (max !== undefined) y = Math.min(Math.max(y, 0), max);
  return y - slope * Math.max(t - x, 0);
}

describe('activations equal tfjs-layers (values and gradients, <= 1e-5)', () => {
  const cases: [string, ActivationSpec][] = [
    ['linear', { name: 'linear' }],
    ['relu', { name: 'relu' }],
    ['relu6', { name: 'relu6' }],
    ['elu', { name: 'elu' }],
    ['selu', { name: 'selu' }],
    ['gelu', { name: 'gelu' }],
    ['gelu_new', { name: 'geluNew' }],
    ['swish', { name: 'swish' }],
    ['mish', { name: 'mish' }],
    ['hardSigmoid', { name: 'hardSigmoid' }],
    ['softplus', { name: 'softplus' }],
    ['softsign', { name: 'softsign' }],
    ['tanh', { name: 'tanh' }],
    ['sigmoid', { name: 'sigmoid' }],
    ['softmax', { name: 'softmax' }],
    ['logSoftmax', { name: 'logSoftmax' }],
  ];
  it.each(cases)('%s', (id, spec) => {
    const [y, g] = valueAndGrad(ours(spec));
    const [yr, gr] = valueAndGrad(tflActivation(id));
    expect(relErr(y, yr)).toBeLessThanOrEqual(1e-5);
    expect(relErr(g, gr)).toBeLessThanOrEqual(1e-5);
  });

  it('the Keras identifiers of each map to the same spec (snake_case, camelCase, serialized objects)', () => {
    expect(kerasActivation('hard_sigmoid')).toEqual({ name: 'hardSigmoid' });
    expect(kerasActivation('hardSigmoid')).toEqual({ name: 'hardSigmoid' });
    expect(kerasActivation('gelu_new')).toEqual({ name: 'geluNew' });
    expect(kerasActivation('silu')).toEqual({ name: 'swish' });
    expect(kerasActivation('log_softmax')).toEqual({ name: 'logSoftmax' });
    expect(kerasActivation(null)).toEqual({ name: 'linear' });
    expect(kerasActivation({ class_name: 'relu6', config: {} })).toEqual({ name: 'relu6' });
    expect(kerasActivation({ className: 'selu', config: {} })).toEqual({ name: 'selu' });
    expect(kerasActivation({ module: 'keras.activations', class_name: 'function', config: 'gelu', registered_name: 'function' })).toEqual({ name: 'gelu' });
    expect(kerasActivation({ class_name: 'LeakyReLU', config: { alpha: 0.1 } })).toEqual({ name: 'leakyRelu', alpha: 0.1 });
    expect(kerasActivation({ class_name: 'LeakyReLU', config: { negative_slope: 0.2 } })).toEqual({ name: 'leakyRelu', alpha: 0.2 });
    expect(kerasActivation({ class_name: 'ReLU', config: { max_value: 6 } })).toEqual({ name: 'relu6' });
    expect(kerasActivation({ class_name: 'ReLU', config: { max_value: null, negative_slope: 0, threshold: 0 } })).toEqual({ name: 'relu' });
    expect(kerasActivation({ class_name: 'ELU', config: { alpha: 0.5 } })).toEqual({ name: 'elu', alpha: 0.5 });
    expect(kerasActivation('exponential')).toEqual({ name: 'exponential' });
  });

  it('unsupported identifiers throw naming the value and the supported ones', () => {
    expect(() => kerasActivation('celu')).toThrow(/activation 'celu' is not supported \(supported: linear, relu/);
    expect(() => kerasActivation({ class_name: 'PReLU', config: {} })).toThrow(/activation .*PReLU.* is not supported/);
    expect(() => kerasActivation({ class_name: 'Softmax', config: { axis: 1 } })).toThrow(/only axis -1/);
    expect(() => kerasActivation(3)).toThrow(/activation 3 is not supported/);
    expect(() => kerasActivation({ config: {} })).toThrow(/no class_name/);
  });

  it('LeakyReLU, ReLU (max_value), ELU, ThresholdedReLU, Softmax layers of tfjs-layers', () => {
    const pairs: [ActivationSpec, (x: tf.Tensor) => tf.Tensor][] = [
      [kerasActivation({ class_name: 'LeakyReLU', config: { alpha: 0.15 } }), (x) => tfl.layers.leakyReLU({ alpha: 0.15 }).apply(x) as tf.Tensor],
      [kerasActivation({ class_name: 'ReLU', config: { max_value: 2.5 } }), (x) => tfl.layers.reLU({ maxValue: 2.5 }).apply(x) as tf.Tensor],
      [kerasActivation({ class_name: 'ReLU', config: { max_value: 6 } }), (x) => tfl.layers.reLU({ maxValue: 6 }).apply(x) as tf.Tensor],
      [kerasActivation({ class_name: 'ELU', config: { alpha: 1 } }), (x) => tfl.layers.elu().apply(x) as tf.Tensor],
      [kerasActivation({ class_name: 'Softmax', config: { axis: -1 } }), (x) => tfl.layers.softmax({ axis: -1 }).apply(x) as tf.Tensor],
    ];
    for (const [spec, ref] of pairs) {
      const [y, g] = valueAndGrad(ours(spec));
      const [yr, gr] = valueAndGrad(ref);
      expect(relErr(y, yr), spec.name).toBeLessThanOrEqual(1e-5);
      expect(relErr(g, gr), spec.name).toBeLessThanOrEqual(1e-5);
    }
  });

  it('ThresholdedReLU equals tfjs-layers (values; its gradient has no Greater gradient in tfjs, so the formula checks ours)', () => {
    const spec = kerasActivation({ class_name: 'ThresholdedReLU', config: { theta: 0.5 } });
    const [y, g] = valueAndGrad(ours(spec));
    const ref = tf.tidy(() => (tfl.layers.thresholdedReLU({ theta: 0.5 }).apply(X()) as tf.Tensor).dataSync().slice());
    expect(relErr(y, ref)).toBeLessThanOrEqual(1e-6);
    const x = Array.from(X().dataSync());
    const dy = Array.from(DY().dataSync());
    expect(
      relErr(
        g,
        x.map((v, i) => (v > 0.5 ? (dy[i] as number) : 0)),
      ),
    ).toBeLessThanOrEqual(1e-6);
  });

  it.each([
    [0.1, undefined, 0.5],
    [0.2, 3, 0],
    [0, 4, 1.2],
    [0.3, 2, 1.7],
    [0.25, undefined, -0.8],
  ] as const)("Keras ReLU(negative_slope %s, max_value %s, threshold %s) equals Keras's formula", (slope, max, t) => {
    const spec = kerasActivation({ class_name: 'ReLU', config: { negative_slope: slope, max_value: max ?? null, threshold: t } });
    const [y, g] = valueAndGrad(ours(spec));
    const x = Array.from(X().dataSync());
    const dy = Array.from(DY().dataSync());
    expect(
      relErr(
        y,
        x.map((v) => kerasRelu(v, slope, max, t)),
      ),
    ).toBeLessThanOrEqual(1e-6);
    // central differences (no test point sits on a kink)
    const h = 1e-3;
    expect(
      relErr(
        g,
        x.map((v, i) => ((dy[i] as number) * (kerasRelu(v + h, slope, max, t) - kerasRelu(v - h, slope, max, t))) / (2 * h)),
      ),
    ).toBeLessThanOrEqual(1e-3);
  });

  it('elu with α ≠ 1 (Keras; tfjs-layers only has α = 1) and exponential, against formulas and finite differences', () => {
    const [y, g] = valueAndGrad(ours({ name: 'elu', alpha: 0.4 }));
    const x = Array.from(X().dataSync());
    const dy = Array.from(DY().dataSync());
    expect(
      relErr(
        y,
        x.map((v) => (v > 0 ? v : 0.4 * (Math.exp(v) - 1))),
      ),
    ).toBeLessThanOrEqual(1e-6);
    expect(
      relErr(
        g,
        x.map((v, i) => (dy[i] as number) * (v > 0 ? 1 : 0.4 * Math.exp(v))),
      ),
    ).toBeLessThanOrEqual(1e-6);
    const [ye, ge] = valueAndGrad(ours({ name: 'exponential' }));
    expect(relErr(ye, x.map(Math.exp))).toBeLessThanOrEqual(1e-6);
    expect(
      relErr(
        ge,
        x.map((v, i) => (dy[i] as number) * Math.exp(v)),
      ),
    ).toBeLessThanOrEqual(1e-6);
  });

  it('existing names keep their behaviour (leakyRelu default 0.01) and unknown names throw', () => {
    expect(toActivationSpec('leakyRelu')).toEqual({ name: 'leakyRelu', alpha: 0.01 });
    expect(toActivationSpec(undefined)).toEqual({ name: 'linear' });
    expect(toActivationSpec({ name: 'cappedRelu', negativeSlope: 0.1 })).toEqual({ name: 'leakyRelu', alpha: 0.1 });
    expect(() => toActivationSpec('gelu_new' as never)).toThrow(/unknown activation 'gelu_new'/);
    expect(() => toActivationSpec({ name: 'cappedRelu', maxValue: -1 })).toThrow(/maxValue must be/);
  });

  it('every activation runs and differentiates on wasm like on cpu, without leaking', async () => {
    const specs: ActivationSpec[] = ['relu6', 'elu', 'selu', 'gelu', 'geluNew', 'swish', 'mish', 'hardSigmoid', 'softplus', 'softsign', 'exponential', 'logSoftmax'].map(
      (name) => ({ name }) as ActivationSpec,
    );
    specs.push({ name: 'elu', alpha: 0.3 }, { name: 'cappedRelu', maxValue: 3, negativeSlope: 0.2, threshold: 0.5 });
    const cpu = specs.map((s) => valueAndGrad(ours(s)));
    await tf.setBackend('wasm');
    try {
      await expectNoLeak(() => {
        specs.forEach((s, i) => {
          const [y, g] = valueAndGrad(ours(s));
          expect(relErr(y, (cpu[i] as [Float32Array, Float32Array])[0]), s.name).toBeLessThanOrEqual(1e-5);
          expect(relErr(g, (cpu[i] as [Float32Array, Float32Array])[1]), s.name).toBeLessThanOrEqual(1e-5);
        });
      });
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
