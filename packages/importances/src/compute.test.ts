import type * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, disposeParams } from '@forgetless/core';
import { describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { mlpNet, randomSource } from '../test/nets.js';
import { computeImportance } from './compute.js';
import { fisherDiagonal } from './fisher.js';
import { magnitude } from './magnitude.js';
import { mas } from './mas.js';
import { sig } from './sig.js';

describe('computeImportance', () => {
  it('dispatches to each method with its options', async () => {
    const model = mlpNet('tanh', 1);
    const source = randomSource(6, [5], 4, 2);
    const pairs: [ParamMap, ParamMap][] = [
      [await computeImportance('fisher', model, source, { variant: 'exact' }), await fisherDiagonal(model, source, { variant: 'exact' })],
      [await computeImportance('mas', model, source, { output: 'logits' }), await mas(model, source, { output: 'logits' })],
      [await computeImportance('sig', model, source), await sig(model, source)],
      [await computeImportance('magnitude', model, undefined), magnitude(model)],
    ];
    for (const [a, b] of pairs) {
      for (const k of Object.keys(b)) expect(relErr(a[k] as tf.Tensor, b[k] as tf.Tensor), k).toBe(0);
      disposeParams(a);
      disposeParams(b);
    }
    // different options give a different answer (the options are passed on)
    const e = await computeImportance('fisher', model, source, { variant: 'empirical' });
    const x = await computeImportance('fisher', model, source, { variant: 'exact' });
    expect(relErr(e['dense_0/kernel'] as tf.Tensor, x['dense_0/kernel'] as tf.Tensor)).toBeGreaterThan(1e-3);
    [e, x].forEach(disposeParams);
    model.dispose();
  });

  it('rejects an unknown method, si without a tracker, and data methods without data', async () => {
    const model = mlpNet('relu');
    await expect(computeImportance('ewc' as never, model, undefined)).rejects.toThrow(/unknown method 'ewc' \(expected one of fisher, mas, si, sig, magnitude, taylor\)/);
    await expect(computeImportance('si', model, undefined)).rejects.toThrow(/'si' needs options.tracker/);
    await expect(computeImportance('fisher', model, undefined)).rejects.toThrow(/'fisher' needs a data source/);
    model.dispose();
  });
});
