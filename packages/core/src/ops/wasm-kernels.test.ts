import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { withGradientMode } from './gradients.js';
import { withConvFormulation } from './formulation.js';
import { ensureWasmKernels } from './wasm-kernels.js';
import { onWasm } from './wasm.test-helpers.js';

/** A stock tfjs-layers conv net: fused Conv2D (bias, ReLU), fused DepthwiseConv2D, max pooling, strides. */
function net(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [9, 9, 3], filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: 'glorotNormal', seed: 1 } as never),
      tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu', depthwiseInitializer: 'glorotNormal', seed: 2 } as never),
      tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.conv2d({ filters: 5, kernelSize: 1, activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4 }),
    ],
  });
}

/** The gradients of a sum of the net's outputs with respect to every weight, as plain arrays. */
function grads(model: tfl.LayersModel, x: tf.Tensor): Float32Array[] {
  return tf.tidy(() => {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads: g } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x) as tf.Tensor)), vars);
    return vars.map((v) => (g[v.name] as tf.Tensor).dataSync() as Float32Array);
  });
}

describe("forgetless's wasm kernels", () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('let a stock tfjs-layers conv net train on wasm (it calls the backprop kernels wasm lacks), agreeing with cpu within 1e-5', async () => {
    const xs = tf.tidy(() => tf.randomNormal([2, 9, 9, 3], 0, 1, 'float32', 5).dataSync().slice());
    const onCpu = net();
    const weights = onCpu.getWeights().map((w) => ({ v: w.dataSync().slice(), s: w.shape }));
    const xc = tf.tensor(xs, [2, 9, 9, 3]);
    const ref = withGradientMode('stock', () => grads(onCpu, xc));
    xc.dispose();
    onCpu.dispose();
    await tf.setBackend('wasm');
    ensureWasmKernels();
    const model = net();
    const ws = weights.map((w) => tf.tensor(w.v, w.s));
    model.setWeights(ws);
    tf.dispose(ws);
    const x = tf.tensor(xs, [2, 9, 9, 3]);
    await expectNoLeak(() => {
      const got = withGradientMode('stock', () => grads(model, x));
      got.forEach((g, i) => expect(relErr(g, ref[i] as Float32Array), model.trainableWeights[i]?.name).toBeLessThanOrEqual(1e-5));
    });
    x.dispose();
    model.dispose();
  });

  it("PadV2 in place (under 'auto') equals tfjs's pad on cpu: ranks 1–5, padded and unpadded trailing axes, a constant, int32, empty", async () => {
    const cases: Array<{ shape: number[]; pads: Array<[number, number]>; value?: number; dtype?: 'int32' }> = [
      {
        shape: [2, 5, 6, 3],
        pads: [
          [0, 0],
          [1, 1],
          [0, 1],
          [0, 0],
        ],
      },
      {
        shape: [3, 4, 5, 7],
        pads: [
          [0, 0],
          [2, 0],
          [1, 2],
          [0, 0],
        ],
        value: 1.5,
      },
      {
        shape: [2, 3, 4, 5],
        pads: [
          [1, 0],
          [0, 0],
          [0, 0],
          [2, 1],
        ],
      },
      { shape: [7], pads: [[3, 2]] },
      {
        shape: [2, 3, 2, 2, 3],
        pads: [
          [0, 1],
          [0, 0],
          [1, 0],
          [0, 0],
          [0, 0],
        ],
        dtype: 'int32',
      },
      {
        shape: [2, 0, 3],
        pads: [
          [1, 1],
          [1, 0],
          [0, 0],
        ],
      },
    ];
    const make = (c: (typeof cases)[number]) => tf.tidy(() => tf.cast(tf.mul(tf.randomNormal(c.shape, 0, 1, 'float32', 3), c.dtype ? 10 : 1), c.dtype ?? 'float32'));
    const refs = cases.map((c) =>
      tf.tidy(() => {
        const x = make(c);
        return { x: Array.from(x.dataSync()), y: Array.from(tf.pad(x, c.pads, c.value).dataSync()) };
      }),
    );
    await tf.setBackend('wasm');
    ensureWasmKernels();
    await expectNoLeak(() => {
      cases.forEach((c, i) => {
        const x = tf.tensor(refs[i]?.x as number[], c.shape, c.dtype ?? 'float32');
        const y = tf.pad(x, c.pads, c.value);
        expect(Array.from(y.dataSync()), JSON.stringify(c)).toEqual(refs[i]?.y);
        tf.dispose([x, y]);
      });
    });
    await tf.setBackend('cpu');
  });

  it("Tile (in place under 'auto' where it repeats the whole input, the stock kernel otherwise) equals tfjs's tile on cpu", async () => {
    const cases: Array<{ shape: number[]; reps: number[]; dtype?: 'int32' }> = [
      { shape: [1, 1, 1, 16], reps: [8, 5, 5, 1] }, // tfjs's batch-norm gradient
      { shape: [1, 1, 1, 5], reps: [3, 7, 11, 1] }, // doubling ends part-way
      { shape: [1, 300], reps: [3, 1] }, // long runs (copyWithin)
      { shape: [1, 3], reps: [4, 1], dtype: 'int32' },
      { shape: [2, 3], reps: [2, 2] }, // not a whole-input repeat: the stock kernel
      { shape: [1, 2, 3], reps: [2, 1, 2] },
      { shape: [4, 3], reps: [1, 1] },
      { shape: [1, 0, 3], reps: [5, 1, 1] },
    ];
    const make = (c: (typeof cases)[number]) => tf.tidy(() => tf.cast(tf.mul(tf.randomNormal(c.shape, 0, 1, 'float32', 3), c.dtype ? 10 : 1), c.dtype ?? 'float32'));
    const refs = cases.map((c) =>
      tf.tidy(() => {
        const x = make(c);
        return { x: Array.from(x.dataSync()), y: Array.from(tf.tile(x, c.reps).dataSync()) };
      }),
    );
    await onWasm(() =>
      expectNoLeak(() => {
        for (const f of ['auto', 'composed'] as const) {
          cases.forEach((c, i) => {
            const x = tf.tensor(refs[i]?.x as number[], c.shape, c.dtype ?? 'float32');
            const y = withConvFormulation(f, () => tf.tile(x, c.reps));
            expect(Array.from(y.dataSync()), `${f} ${JSON.stringify(c)}`).toEqual(refs[i]?.y);
            tf.dispose([x, y]);
          });
        }
      }),
    );
  });

  it("a stock tfjs-layers model with BatchNormalization and ReLU(max_value 6) (tfjs's FusedBatchNorm and ClipByValue gradients: Tile and the clip mask by forgetless's kernels) trains on wasm as on cpu", async () => {
    const make = () => {
      const m = tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [7, 7, 3], filters: 6, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'glorotNormal', seed: 1 } as never),
          tfl.layers.batchNormalization({ epsilon: 1e-3, betaInitializer: tfl.initializers.constant({ value: 2 }) }),
          tfl.layers.reLU({ maxValue: 6 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 3, kernelInitializer: 'glorotNormal', seed: 2 } as never),
        ],
      });
      return m;
    };
    /** Gradients of the squared outputs in training mode (batch statistics), and the kernels the step ran. */
    const step = async (m: tfl.LayersModel, x: tf.Tensor) => {
      let out: Float32Array[] = [];
      const p = await tf.profile(() => {
        out = tf.tidy(() => {
          const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
          const { grads: g } = tf.variableGrads(() => tf.sum(tf.square(m.apply(x, { training: true }) as tf.Tensor)), vars);
          return vars.map((v) => (g[v.name] as tf.Tensor).dataSync().slice() as Float32Array);
        });
        return [];
      });
      return { out, kernels: p.kernels.map((k) => k.name) };
    };
    const xs = tf.tidy(() =>
      tf
        .mul(tf.randomNormal([4, 7, 7, 3], 0, 1, 'float32', 6), 3)
        .dataSync()
        .slice(),
    );
    const onCpu = make();
    const weights = onCpu.getWeights().map((w) => ({ v: w.dataSync().slice(), s: w.shape }));
    const xc = tf.tensor(xs, [4, 7, 7, 3]);
    const ref = (await withGradientMode('stock', () => step(onCpu, xc))).out;
    xc.dispose();
    onCpu.dispose();
    await onWasm(async () => {
      const model = make();
      const ws = weights.map((w) => tf.tensor(w.v, w.s));
      model.setWeights(ws);
      tf.dispose(ws);
      const x = tf.tensor(xs, [4, 7, 7, 3]);
      await expectNoLeak(async () => {
        for (const f of ['auto', 'composed'] as const) {
          const got = await withConvFormulation(f, () => step(model, x));
          got.out.forEach((g, i) => expect(relErr(g, ref[i] as Float32Array), `${f} ${model.trainableWeights[i]?.name}`).toBeLessThanOrEqual(1e-5));
          // the clip mask: one kernel of ours under 'auto', tfjs's four (LessEqual, GreaterEqual, LogicalAnd, Select) otherwise
          expect(got.kernels.includes('ForgetlessClipByValueGrad'), f).toBe(f === 'auto');
          expect(got.kernels.includes('Select'), f).toBe(f !== 'auto');
        }
      });
      x.dispose();
      model.dispose();
    });
  });
});
