import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import type { LayerCapture } from './layer.js';
import { LayerNorm, type LayerNormOptions } from './layer-norm.js';
import { Rng } from '../rng.js';

const SHAPE = [4, 3, 5, 2];

/**
 * Ours with random γ, β, and two tfjs-layers references: `ref` with the same options, and `full`
 * with γ and β both present (the missing one neutral: γ = 1, β = 0) — tfjs's batchNorm gradient
 * fails when γ or β is absent, so gradients are compared with `full`.
 */
function setup(options: LayerNormOptions) {
  const ours = new LayerNorm({ epsilon: 1e-3, ...options });
  ours.build(SHAPE.slice(1), new Rng(0));
  const make = (center?: boolean, scale?: boolean) => {
    const l = tfl.layers.layerNormalization({ axis: options.axis, epsilon: 1e-3, center, scale });
    l.build([null, ...SHAPE.slice(1)]);
    return l;
  };
  const ref = make(options.center, options.scale);
  const full = make(true, true);
  const [g, b] = full.getWeights().map((w, i) => tf.randomNormal(w.shape, 1, 0.5, 'float32', 10 + i)) as [tf.Tensor, tf.Tensor];
  const gamma = options.scale === false ? tf.onesLike(g) : g;
  const beta = options.center === false ? tf.zerosLike(b) : b;
  full.setWeights([gamma, beta]);
  ref.setWeights([...(options.scale === false ? [] : [gamma]), ...(options.center === false ? [] : [beta])]);
  if (ours.params.gamma) ours.params.gamma.assign(gamma);
  if (ours.params.beta) ours.params.beta.assign(beta);
  const fullVars = full.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val);
  const present = [...(options.scale === false ? [] : [fullVars[0]]), ...(options.center === false ? [] : [fullVars[1]])] as tf.Variable[];
  tf.dispose([g, b, gamma, beta]);
  return { ours, ref, full, present };
}

/** Output and ∂Σ(y·dy) with respect to the input and every weight. */
function run(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, dy: tf.Tensor, vars: tf.Variable[]) {
  const y = f(x);
  const gx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dy)))(x);
  if (vars.length === 0) return { y, gx, gw: [] };
  const { grads, value } = tf.variableGrads(() => tf.sum(tf.mul(f(x), dy)) as tf.Scalar, vars);
  value.dispose();
  return { y, gx, gw: vars.map((v) => grads[v.name] as tf.Tensor) };
}

describe('layerNorm equals tfjs-layers LayerNormalization', () => {
  it.each([
    ['axis -1', { axis: -1 }],
    ['axis [1, 2]', { axis: [1, 2] }],
    ['axis [-2, -1], no center', { axis: [-2, -1], center: false }],
    ['axis 2, no scale', { axis: 2, scale: false }],
    ['axis [1, 2, 3], neither', { axis: [1, 2, 3], center: false, scale: false }],
  ] as [string, LayerNormOptions][])('%s: output and gradients (x, γ, β) <= 1e-5', (_, options) => {
    const { ours, ref, full, present } = setup(options);
    const x = tf.randomNormal(SHAPE, 0.3, 2, 'float32', 1);
    const dy = tf.randomNormal(SHAPE, 0, 1, 'float32', 2);
    const a = run((t) => ours.apply(t, { training: false }), x, dy, Object.values(ours.params));
    const b = run((t) => full.apply(t) as tf.Tensor, x, dy, present);
    expect(relErr(a.y, ref.apply(x) as tf.Tensor)).toBeLessThanOrEqual(1e-5);
    expect(relErr(a.y, b.y)).toBeLessThanOrEqual(1e-5);
    expect(relErr(a.gx, b.gx)).toBeLessThanOrEqual(1e-5);
    expect(a.gw.length).toBe(b.gw.length);
    a.gw.forEach((g, i) => expect(relErr(g, b.gw[i] as tf.Tensor)).toBeLessThanOrEqual(1e-5));
    // per-example: g_γ = Σ δ·x̂ over the batch and the unnormalised axes
    if (ours.params.gamma) {
      const keep = ours.resolvedAxes;
      const sumAxes = [0, 1, 2, 3].filter((i) => !keep.includes(i));
      const gGamma = tf.reshape(tf.sum(tf.mul(dy, ours.normalize(x)), sumAxes), (ours.params.gamma as tf.Variable).shape);
      expect(relErr(a.gw[0] as tf.Tensor, gGamma)).toBeLessThanOrEqual(1e-5);
    }
  });

  it('captures input, pre-activation and output; adds the tap; rejects the batch axis; no leaks', async () => {
    const ln = new LayerNorm();
    ln.name = 'ln';
    ln.build([6], new Rng(0));
    expect(Object.keys(ln.params)).toEqual(['gamma', 'beta']);
    const x = tf.randomNormal([2, 6]);
    await expectNoLeak(() =>
      tf.tidy(() => {
        const capture: Record<string, LayerCapture> = {};
        const tap = tf.fill([2, 6], 0.5);
        const y0 = ln.apply(x, { training: false });
        const y = ln.apply(x, { training: true, capture, taps: { ln: tap } });
        expect(relErr(tf.sub(y, y0), tap)).toBeLessThanOrEqual(1e-6);
        expect(capture.ln?.input).toBe(x);
        expect(capture.ln?.preActivation).toBe(y);
        expect(capture.ln?.output).toBe(y);
      }),
    );
    expect(() => new LayerNorm({ axis: 0 })).toThrow(/0 is the batch axis/);
    expect(() => new LayerNorm({ axis: [1, -1] }).build([3], new Rng(0))).toThrow(/names an axis twice/);
    expect(() => new LayerNorm({ axis: 2 }).build([null, 3], new Rng(0))).not.toThrow();
    expect(() => new LayerNorm({ axis: 1 }).build([null, 3], new Rng(0))).toThrow(/known sizes/);
    tf.dispose([x, ...Object.values(ln.params)]);
  });
});
