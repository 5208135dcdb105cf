import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { GraphModel } from '../graph.js';
import { softmaxCrossEntropy } from '../loss.js';
import { type GradientMode, withGradientMode } from '../ops/gradients.js';
import { Rng } from '../rng.js';
import { Dense } from './dense.js';
import { Embedding } from './embedding.js';
import type { LayerCapture } from './layer.js';
import { Flatten } from './simple.js';

const IDS = [
  [3, 1, 3, 3, 0],
  [9, 9, 2, 3, 1],
  [0, 0, 7, 3, 9],
];

describe('embedding', () => {
  it('looks up the rows tfjs-layers Embedding looks up, from float or int ids', () => {
    const ours = new Embedding({ inputDim: 10, outputDim: 4 });
    ours.build([5], new Rng(1));
    const ref = tfl.layers.embedding({ inputDim: 10, outputDim: 4 });
    ref.build([null, 5]);
    ref.setWeights([ours.params.embeddings as tf.Variable]);
    tf.tidy(() => {
      const ids = tf.tensor2d(IDS);
      const yr = ref.apply(ids) as tf.Tensor;
      const y = ours.apply(ids, { training: false });
      expect(y.shape).toEqual([3, 5, 4]);
      expect(relErr(y, yr)).toBe(0);
      expect(relErr(ours.apply(tf.tensor2d(IDS, [3, 5], 'int32'), { training: false }), yr)).toBe(0);
    });
    ours.params.embeddings?.dispose();
  });

  /** ∂Σ(embedding(ids)·dy)/∂E through the layer, under a gradient mode. */
  function tableGrad(mode: GradientMode): Float32Array {
    return tf.tidy(() => {
      const e = new Embedding({ inputDim: 10, outputDim: 4 });
      e.build([5], new Rng(2));
      const table = e.params.embeddings as tf.Variable;
      const dy = tf.randomNormal([3, 5, 4], 0, 1, 'float32', 3);
      const { grads, value } = withGradientMode(mode, () => tf.variableGrads(() => tf.sum(tf.mul(e.apply(tf.tensor2d(IDS), { training: true }), dy)) as tf.Scalar, [table]));
      const g = (grads[table.name] as tf.Tensor).dataSync().slice() as Float32Array;
      tf.dispose([value, table]);
      return g;
    });
  }

  it('its gradient equals the stock one on cpu with repeated ids (rows summed)', () => {
    const custom = tableGrad('custom');
    expect(relErr(custom, tableGrad('stock'))).toBeLessThanOrEqual(1e-6);
    // row 3 is read 5 times, rows 4, 5, 6, 8 never
    for (const r of [4, 5, 6, 8]) expect(Array.from(custom.slice(r * 4, r * 4 + 4))).toEqual([0, 0, 0, 0]);
  });

  /** Ten SGD steps of embedding → flatten → dense on a fixed batch; the losses and the final table. */
  function train(): { losses: number[]; table: Float32Array } {
    const emb = new Embedding({ inputDim: 10, outputDim: 4 });
    emb.name = 'emb';
    const head = new Dense({ units: 3 });
    head.name = 'head';
    const flat = new Flatten();
    const model = new GraphModel({
      input: { name: 'ids', shape: [5] },
      nodes: [
        { name: 'e', layer: emb, inputs: ['ids'] },
        { name: 'f', layer: flat, inputs: ['e'] },
        { name: 'h', layer: head, inputs: ['f'] },
      ],
      output: 'h',
      seed: 7,
    });
    const x = tf.tensor2d(IDS);
    const y = tf.tensor1d([0, 2, 1], 'int32');
    const losses: number[] = [];
    for (let step = 0; step < 10; step++) {
      tf.tidy(() => {
        const vars = Object.values(model.params);
        const { grads, value } = tf.variableGrads(() => softmaxCrossEntropy(model.logits(x, { training: true }), y), vars);
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 0.5)));
        losses.push(value.dataSync()[0] as number);
      });
    }
    const table = (model.params['emb/embeddings'] as tf.Variable).dataSync().slice() as Float32Array;
    tf.dispose([x, y]);
    model.dispose();
    return { losses, table };
  }

  it('trains on wasm (no UnsortedSegmentSum there) as on cpu, without leaking', async () => {
    const cpu = train();
    expect(cpu.losses[9] as number).toBeLessThan((cpu.losses[0] as number) * 0.5);
    await tf.setBackend('wasm');
    try {
      const wasm = await expectNoLeak(() => train());
      expect(relErr(wasm.losses, cpu.losses)).toBeLessThanOrEqual(1e-5);
      expect(relErr(wasm.table, cpu.table)).toBeLessThanOrEqual(1e-5);
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('adds the tap to the looked-up vectors and captures them; rejects bad sizes; out-of-range ids throw', async () => {
    const e = new Embedding({ inputDim: 4, outputDim: 2 });
    e.name = 'e';
    expect(e.build([null], new Rng(0))).toEqual([null, 2]);
    const ids = tf.tensor2d([[1, 3]]);
    await expectNoLeak(() =>
      tf.tidy(() => {
        const capture: Record<string, LayerCapture> = {};
        const tap = tf.ones([1, 2, 2]);
        const y0 = e.apply(ids, { training: false });
        const y = e.apply(ids, { training: false, capture, taps: { e: tap } });
        expect(relErr(tf.sub(y, y0), tap)).toBe(0);
        expect(capture.e?.input).toBe(ids);
        expect(capture.e?.preActivation).toBe(y);
      }),
    );
    expect(() => e.apply(tf.tensor2d([[4]]), { training: false })).toThrow(/index value 4 is not in \[0, 3\]/);
    expect(() => new Embedding({ inputDim: 0, outputDim: 2 })).toThrow(/inputDim must be a positive integer/);
    tf.dispose([ids, e.params.embeddings as tf.Variable]);
  });
});
