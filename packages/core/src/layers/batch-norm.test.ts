import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { Rng } from '../rng.js';
import { BatchNorm, type BatchNormOptions } from './batch-norm.js';

const SHAPE = [6, 3, 4, 5]; // [batch, channels, h, w]: Keras axis 1 normalises the 3 channels

function data(): Record<'x' | 'gamma' | 'beta' | 'mean' | 'variance', Float32Array> {
  return tf.tidy(() => ({
    x: tf.randomNormal(SHAPE, 0.5, 2, 'float32', 1).dataSync().slice() as Float32Array,
    gamma: tf.randomUniform([3], 0.5, 1.5, 'float32', 2).dataSync().slice() as Float32Array,
    beta: tf.randomNormal([3], 0, 1, 'float32', 3).dataSync().slice() as Float32Array,
    mean: tf.randomNormal([3], 0, 1, 'float32', 4).dataSync().slice() as Float32Array,
    variance: tf.randomUniform([3], 0.5, 2, 'float32', 5).dataSync().slice() as Float32Array,
  }));
}

/**
 * Ours and tfjs-layers' BatchNormalization with the same weights. tfjs-layers normalises over a
 * non-last axis wrongly in tfjs 4.22 (the cpu and wasm batchNorm kernels index γ, β, μ, σ² by
 * flat index mod size, ignoring the broadcast shape), so the reference moves the feature axis last,
 * applies tfjs-layers' layer there (axis −1), and moves it back.
 */
function pair(options: BatchNormOptions & { axis: number }, d: ReturnType<typeof data>) {
  const ours = new BatchNorm(options);
  ours.build(SHAPE.slice(1), new Rng(0));
  const a = options.axis < 0 ? options.axis + SHAPE.length : options.axis;
  const perm = [...SHAPE.keys()].filter((i) => i !== a).concat([a]);
  const undo = perm.map((_, i) => perm.indexOf(i));
  const layer = tfl.layers.batchNormalization({ axis: -1, momentum: options.momentum, epsilon: options.epsilon, center: options.center, scale: options.scale });
  layer.build(perm.map((i) => (i === 0 ? null : (SHAPE[i] as number))));
  const w: tf.Tensor[] = [];
  if (options.scale !== false) w.push(tf.tensor1d(d.gamma));
  if (options.center !== false) w.push(tf.tensor1d(d.beta));
  w.push(tf.tensor1d(d.mean), tf.tensor1d(d.variance));
  layer.setWeights(w);
  const names = [...(options.scale !== false ? ['gamma'] : []), ...(options.center !== false ? ['beta'] : []), 'moving_mean', 'moving_variance'];
  names.forEach((n, i) => (ours.params[n] ?? (ours.state[n] as tf.Variable)).assign(w[i] as tf.Tensor));
  tf.dispose(w);
  const ref = {
    apply: (x: tf.Tensor, kwargs: { training: boolean }) => tf.transpose(layer.apply(tf.transpose(x, perm), kwargs) as tf.Tensor, undo),
    getWeights: () => layer.getWeights(),
    dispose: () => layer.weights.forEach((v) => v.dispose()),
  };
  return { ours, ref };
}

const dispose = (l: BatchNorm, r: { dispose(): void }) => {
  tf.dispose([...Object.values(l.params), ...Object.values(l.state)]);
  r.dispose();
};

describe('batchNorm: Keras semantics (axis, center, scale)', () => {
  it.each([
    ['axis 1, center and scale off', { axis: 1, center: false, scale: false }],
    ['axis 1', { axis: 1 }],
    ['axis -1 (last)', { axis: -1, center: false }],
    ['axis 2', { axis: 2, scale: false }],
  ] as [string, BatchNormOptions & { axis: number }][])('inference equals tfjs-layers: %s', (_, o) => {
    const opts = { ...o, momentum: 0.9, epsilon: 1e-3 };
    // axis 2 and -1 normalise other sizes: give them matching weights
    const size = SHAPE[o.axis < 0 ? SHAPE.length + o.axis : o.axis] as number;
    const d = data();
    const fit = (v: Float32Array) => Float32Array.from({ length: size }, (_, i) => (v[i % v.length] as number) + 0.1 * i);
    const dd = { ...d, gamma: fit(d.gamma), beta: fit(d.beta), mean: fit(d.mean), variance: fit(d.variance) };
    const { ours, ref } = pair(opts, dd);
    const x = tf.tensor(d.x, SHAPE);
    const y = ours.apply(x, { training: false });
    const yr = ref.apply(x, { training: false }) as tf.Tensor;
    expect(relErr(y, yr)).toBeLessThanOrEqual(1e-5);
    expect(Object.keys(ours.params).sort()).toEqual([...(o.scale === false ? [] : ['gamma']), ...(o.center === false ? [] : ['beta'])].sort());
    tf.dispose([x, y, yr]);
    dispose(ours, ref);
  });

  it('training mode with center and scale off, axis 1: output and moving statistics equal tfjs-layers (γ = 1, β = 0 there)', () => {
    const d = data();
    const opts = { axis: 1, momentum: 0.8, epsilon: 1e-3 };
    const { ours, ref: refOff } = pair({ ...opts, center: false, scale: false }, d);
    // tfjs-layers' training path reads γ and β unconditionally (it throws with them off), so the
    // training reference keeps them, at 1 and 0
    expect(() => refOff.apply(tf.ones(SHAPE), { training: true })).toThrow(/reading 'read'/);
    refOff.dispose();
    const { ours: withParams, ref } = pair(opts, { ...d, gamma: new Float32Array([1, 1, 1]), beta: new Float32Array(3) });
    tf.dispose([...Object.values(withParams.params), ...Object.values(withParams.state)]);
    const x = tf.tensor(d.x, SHAPE);
    for (let step = 0; step < 2; step++) {
      const y = ours.apply(x, { training: true });
      const yr = ref.apply(x, { training: true }) as tf.Tensor;
      expect(relErr(y, yr)).toBeLessThanOrEqual(1e-5);
      tf.dispose([y, yr]);
    }
    const [, , mm, mv] = ref.getWeights();
    expect(relErr(ours.state.moving_mean as tf.Tensor, mm as tf.Tensor)).toBeLessThanOrEqual(1e-5);
    expect(relErr(ours.state.moving_variance as tf.Tensor, mv as tf.Tensor)).toBeLessThanOrEqual(1e-5);
    x.dispose();
    dispose(ours, ref);
  });

  it('training mode with γ, β, axis 1: output, moving statistics and gradients equal tfjs-layers', () => {
    const d = data();
    const { ours, ref } = pair({ axis: 1, momentum: 0.9, epsilon: 1e-3 }, d);
    const x = tf.tensor(d.x, SHAPE);
    const dy = tf.randomNormal(SHAPE, 0, 1, 'float32', 9);
    const y = ours.apply(x, { training: true });
    const yr = ref.apply(x, { training: true }) as tf.Tensor;
    expect(relErr(y, yr)).toBeLessThanOrEqual(1e-5);
    const [, , mm, mv] = ref.getWeights();
    expect(relErr(ours.state.moving_mean as tf.Tensor, mm as tf.Tensor)).toBeLessThanOrEqual(1e-5);
    expect(relErr(ours.state.moving_variance as tf.Tensor, mv as tf.Tensor)).toBeLessThanOrEqual(1e-5);
    // gradients (inference mode, where tfjs-layers' batchNorm4d differentiates γ, β and x with broadcasting)
    const g = tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
      const z = tf.add(tf.mul(ours.normalize(xx), ours.broadcast(gg)), ours.broadcast(bb));
      return tf.sum(tf.mul(z, dy));
    })([x, ours.params.gamma as tf.Tensor, ours.params.beta as tf.Tensor]);
    const gx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(ours.apply(xx, { training: false }), dy)))(x);
    const gxr = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(ref.apply(xx, { training: false }) as tf.Tensor, dy)))(x);
    expect(relErr(gx, gxr)).toBeLessThanOrEqual(1e-5);
    expect(relErr(g[0] as tf.Tensor, gxr)).toBeLessThanOrEqual(1e-5);
    // g_γ = Σ δ·x̂ over every axis but the feature axis
    const gGamma = tf.sum(tf.mul(dy, ours.normalize(x)), ours.reductionAxes());
    expect(relErr(g[1] as tf.Tensor, gGamma)).toBeLessThanOrEqual(1e-5);
    expect(relErr(g[2] as tf.Tensor, tf.sum(dy, ours.reductionAxes()))).toBeLessThanOrEqual(1e-5);
    tf.dispose([x, dy, y, yr, ...g, gx, gxr, gGamma]);
    dispose(ours, ref);
  });

  it('captures, taps, default config unchanged, and no leaks', async () => {
    const bn = new BatchNorm();
    expect(bn.config()).toEqual({ kind: 'batchNorm', momentum: 0.9, epsilon: 1e-5 });
    expect(new BatchNorm({ axis: 1, center: false, scale: false }).config()).toEqual({ kind: 'batchNorm', momentum: 0.9, epsilon: 1e-5, center: false, scale: false, axis: 1 });
    bn.build([4, 2], new Rng(0));
    bn.name = 'bn';
    const x = tf.randomNormal([3, 4, 2]);
    await expectNoLeak(() =>
      tf.tidy(() => {
        const capture = {};
        const tap = tf.onesLike(x);
        const y = bn.apply(x, { training: true, capture, taps: { bn: tap } });
        const y0 = bn.apply(x, { training: false });
        expect((capture as Record<string, { preActivation: tf.Tensor }>).bn?.preActivation).toBe(y);
        expect(y.shape).toEqual([3, 4, 2]);
        expect(y0.shape).toEqual([3, 4, 2]);
      }),
    );
    expect(() => new BatchNorm({ axis: 0 })).toThrow(/axis must be a non-zero integer/);
    expect(() => new BatchNorm({ axis: 4 }).build([4, 2], new Rng(0))).toThrow(/axis 4 is outside/);
    tf.dispose([x, ...Object.values(bn.params), ...Object.values(bn.state)]);
  });
});
