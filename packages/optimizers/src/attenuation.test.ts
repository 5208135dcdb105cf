import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { attenuationFactors } from './attenuation.js';

const I = () => ({ w: tf.tensor2d([0, 0.5, 2, 10], [2, 2]), b: tf.tensor1d([0, 0, 0]), c: tf.tensor1d([1e-3, 4]) });

describe('attenuationFactors', () => {
  it('hyperbolic 1/(1 + λI) and exponential exp(−λI) match hand values; a ≡ 1 parameters are left out', async () => {
    await expectNoLeak(() => {
      const imp = I();
      const lambda = 0.7;
      const h = attenuationFactors(imp, { lambda });
      expect(Object.keys(h)).toEqual(['w', 'c']); // b has I = 0: a ≡ 1, not stored
      expect(relErr(h.w as tf.Tensor, [1, 1 / 1.35, 1 / 2.4, 1 / 8])).toBeLessThanOrEqual(1e-7);
      expect(relErr(h.c as tf.Tensor, [1 / (1 + 0.7e-3), 1 / 3.8])).toBeLessThanOrEqual(1e-7);
      const e = attenuationFactors(imp, { lambda, attenuation: 'exponential' });
      expect(relErr(e.w as tf.Tensor, [1, Math.exp(-0.35), Math.exp(-1.4), Math.exp(-7)])).toBeLessThanOrEqual(1e-6);
      expect(relErr(e.c as tf.Tensor, [Math.exp(-0.7e-3), Math.exp(-2.8)])).toBeLessThanOrEqual(1e-6);
      // λ = 0: nothing is attenuated
      expect(Object.keys(attenuationFactors(imp, { lambda: 0 }))).toEqual([]);
      disposeParams(h);
      disposeParams(e);
      disposeParams(imp as ParamMap);
    });
  });

  it('a custom attenuation receives λ·I', async () => {
    await expectNoLeak(() => {
      const imp = I();
      const seen: number[][] = [];
      const a = attenuationFactors(imp, {
        lambda: 2,
        attenuation: (s) => {
          seen.push(Array.from(s.dataSync()));
          return tf.maximum(0, tf.sub(1, tf.mul(0.05, s))); // linear, clipped at 0
        },
      });
      expect(seen[0]).toEqual([0, 1, 4, 20]);
      expect(relErr(a.w as tf.Tensor, [1, 0.95, 0.8, 0])).toBeLessThanOrEqual(1e-7);
      disposeParams(a);
      disposeParams(imp as ParamMap);
    });
  });

  it('rejects bad λ, attenuation, importances and custom outputs with the parameter named, leaking nothing', async () => {
    await expectNoLeak(() => {
      const imp = I();
      expect(() => attenuationFactors(imp, { lambda: -0.1 })).toThrow(/lambda must be a finite number ≥ 0, got -0.1/);
      expect(() => attenuationFactors(imp, { lambda: Number.POSITIVE_INFINITY })).toThrow(/lambda must be a finite number ≥ 0, got Infinity/);
      expect(() => attenuationFactors(imp, { lambda: '1' as never })).toThrow(/lambda must be a finite number/);
      expect(() => attenuationFactors(imp, { lambda: 1, attenuation: 'cosine' as never })).toThrow(
        /unknown attenuation 'cosine' \(expected 'hyperbolic', 'exponential' or a function/,
      );
      expect(() => attenuationFactors(imp, { lambda: 1, attenuation: () => tf.ones([3]) })).toThrow(/returned shape \[3\] for parameter 'w' of shape \[2,2\]/);
      expect(() => attenuationFactors(imp, { lambda: 1, attenuation: (s) => tf.neg(s) })).toThrow(/negative factors for parameter 'w'/);
      expect(() => attenuationFactors(imp, { lambda: 1, attenuation: (s) => tf.div(1, s) })).toThrow(/NaN or Infinity for parameter 'w'/);
      const neg = { ...imp, c: tf.tensor1d([1, -2]) };
      expect(() => attenuationFactors(neg, { lambda: 1 })).toThrow(/importance of parameter 'c' has negative values \(min -2\)/);
      const nan = { ...imp, b: tf.tensor1d([0, Number.NaN, 0]) };
      expect(() => attenuationFactors(nan, { lambda: 1 })).toThrow(/importance of parameter 'b' contains NaN or Infinity/);
      const params = { w: tf.zeros([2, 2]), b: tf.zeros([3]), c: tf.zeros([3]) };
      expect(() => attenuationFactors(imp, { lambda: 1, params })).toThrow(/parameter 'c' has shape \[2\] but \[3\] was expected/);
      expect(() => attenuationFactors(imp, { lambda: 1, params: { w: params.w, b: params.b } })).toThrow(
        /importance given for 'c', which is not a parameter of the model \(known: w, b\)/,
      );
      tf.dispose([neg.c, nan.b]);
      disposeParams(params);
      disposeParams(imp as ParamMap);
    });
  });
});
