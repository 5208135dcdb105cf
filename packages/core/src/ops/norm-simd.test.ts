import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { artifactsOf } from '../keras/artifacts.test-helpers.js';
import { loadLayersModelFromArtifacts } from '../keras/load.js';
import { activation, batchNorm, conv2d, dense, flatten } from '../layers/index.js';
import { sequential } from '../model.js';
import { Rng } from '../rng.js';
import { setConvBatchNormFusion } from './conv-bn.js';
import { withConvFormulation, withLayerFusion } from './formulation.js';
import { withGradientMode } from './gradients.js';
import {
  type BatchNormSumsRequest,
  batchNormExampleSums,
  normSimdUsable,
  simdBatchNormInfer,
  simdBatchNormReluTrain,
  simdBatchNormTrain,
  simdBatchNormUsable,
  simdClipGrad,
  setSimdPerExampleSums,
  simdRelu6Grad,
} from './norm-simd.js';
import { type Host, dev, expectWritesOnly, host, onWasm, rawSimdModule } from './wasm.test-helpers.js';

/** Training-mode batch norm by tfjs ops on cpu, differentiated by tfjs's stock autodiff: y, μ, σ², ∂x, ∂γ, ∂β. */
function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, dy: tf.Tensor, eps: number): Host[] {
  return withGradientMode('stock', () =>
    tf.tidy(() => {
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(xx, axes);
        return tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, eps))), g), b);
      };
      const { mean, variance } = tf.moments(x, axes);
      const g = tf.grads((a, b, c) => tf.sum(tf.mul(f(a as tf.Tensor, b as tf.Tensor, c as tf.Tensor), dy)))([x, gamma, beta]);
      return [f(x, gamma, beta), mean, variance, ...g].map(host);
    }),
  );
}

/** The ReLU capped at `cap` by tfjs's own ops (their stock gradients): 6 ReLU6, +∞ ReLU, 0 none. */
function reluOf(y: tf.Tensor, cap: number): tf.Tensor {
  return cap === 6 ? tf.relu6(y) : cap === Number.POSITIVE_INFINITY ? tf.relu(y) : y;
}
const capName = (cap: number) => (cap === 6 ? 'ReLU6' : cap > 0 ? 'ReLU' : 'none');

describe("forgetless's SIMD batch norm and ReLU6 gradient kernels on wasm", () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  // channels not multiples of 4, one example and three, P = 1, and P over a summation block (64 rows)
  it.each([
    [1, 5, 7, 13],
    [3, 9, 9, 6],
    [3, 20, 25, 5],
    [1, 1, 1, 7],
    [3, 4, 4, 16],
    [10, 3],
    // every chunk width (16 + 8 + 4 channels and 3 alone; 16 + 16 + 8) over blocks of 64 rows and a partial one
    [2, 7, 9, 31],
    [2, 10, 10, 40],
  ])('batch norm (one kernel, its registered gradient, the moving statistics) matches tfjs on cpu within 1e-5: [%s]', async (...shape) => {
    const c = shape[shape.length - 1] as number;
    const eps = 1e-3;
    const inputs = tf.tidy(() => [
      tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 7), 3), 1.5),
      tf.randomNormal([c], 1, 0.3, 'float32', 8),
      tf.randomNormal([c], 0, 0.3, 'float32', 9),
      tf.randomNormal(shape, 0, 1, 'float32', 10),
    ]);
    const ref = reference(inputs[0] as tf.Tensor, inputs[1] as tf.Tensor, inputs[2] as tf.Tensor, inputs[3] as tf.Tensor, eps);
    const hs = inputs.map(host);
    tf.dispose(inputs);
    await onWasm(async () => {
      const [x, g, b, dy] = hs.map(dev) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const [mm, mv] = [tf.randomNormal([c], 0, 1, 'float32', 12), tf.randomUniform([c], 0.5, 2, 'float32', 13)];
      expect(simdBatchNormUsable(x, g, b, mm, mv)).toBe(true);
      await expectNoLeak(() => {
        const got = tf.tidy(() => {
          let moving: tf.Tensor[] = [];
          let out: tf.Tensor | undefined;
          const grads = tf.grads((xx, gg, bb) => {
            const f = simdBatchNormTrain(xx as tf.Tensor, gg as tf.Tensor, bb as tf.Tensor, mm, mv, eps, 0.8);
            // kept: tf.grads disposes what its function made but the value
            moving = [tf.keep(f.movingMean as tf.Tensor), tf.keep(f.movingVariance as tf.Tensor)];
            out = tf.keep(f.y);
            return tf.sum(tf.mul(f.y, dy));
          })([x, g, b]);
          // the moving statistics: m·0.8 + batch·0.2, from the reference's μ and σ²
          const wantMoving = [tf.add(tf.mul(mm, 0.8), tf.mul(dev(ref[1] as Host), 0.2)), tf.add(tf.mul(mv, 0.8), tf.mul(dev(ref[2] as Host), 0.2))];
          moving.forEach((m, i) => expect(relErr(m, wantMoving[i] as tf.Tensor), `moving ${i}`).toBeLessThanOrEqual(1e-5));
          const result = [out as tf.Tensor, ...grads].map(host);
          tf.dispose([...moving, out as tf.Tensor]);
          return result;
        });
        const names = ['y', '∂x', '∂γ', '∂β'];
        const want = [ref[0], ref[3], ref[4], ref[5]] as Host[];
        got.forEach((t, i) => {
          expect(t.s, names[i]).toEqual((want[i] as Host).s);
          // P = 1: x − μ is 0, so ∂x and ∂γ are rounding noise around 0: compare to the scale of dy·γ/√ε
          const scale = shape.slice(0, -1).every((v) => v === 1) && (i === 1 || i === 2) ? 30 : undefined;
          if (scale) expect(Math.max(...Array.from(t.v, (v, j) => Math.abs(v - ((want[i] as Host).v[j] as number)))) / scale, names[i]).toBeLessThanOrEqual(1e-5);
          else expect(relErr(t.v, (want[i] as Host).v), names[i]).toBeLessThanOrEqual(1e-5);
        });
      });
      tf.dispose([mm, mv]);
      tf.dispose([x, g, b, dy]);
    });
  });

  // shifted so that a good part of the outputs fall on each side of 0 and of 6 (both masks matter)
  it.each(
    [
      [3, 9, 9, 6],
      [3, 20, 25, 5],
      [2, 6, 6, 16],
      [1, 1, 1, 7],
      [2, 7, 9, 31],
    ].flatMap((shape) => [
      [shape, 6],
      [shape, Number.POSITIVE_INFINITY],
    ]) as [number[], number][],
  )(
    'batch norm + a ReLU (cap 6: ReLU6, ∞: ReLU) as one kernel each way equals the two kernels run apart (≤ 1e-6, moving statistics too) and tfjs on cpu (≤ 1e-5): %j, cap %s',
    async (shape, cap) => {
      const c = shape[shape.length - 1] as number;
      const eps = 1e-3;
      const inputs = tf.tidy(() => [
        tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 17), 3), 1.5),
        tf.randomNormal([c], 3, 2, 'float32', 18),
        tf.randomNormal([c], 2, 1.5, 'float32', 19),
        tf.randomNormal(shape, 0, 1, 'float32', 20),
      ]);
      // the reference: relu6 (or relu) of the stock batch norm, differentiated by tfjs's autodiff on cpu
      const ref = withGradientMode('stock', () =>
        tf.tidy(() => {
          const [x, g, b, dy] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
          const axes = shape.slice(0, -1).map((_, i) => i);
          const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => {
            const { mean, variance } = tf.moments(xx, axes);
            return reluOf(tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, eps))), gg), bb), cap);
          };
          const gr = tf.grads((a, bb, cc) => tf.sum(tf.mul(f(a as tf.Tensor, bb as tf.Tensor, cc as tf.Tensor), dy)))([x, g, b]);
          return [f(x, g, b), ...gr].map(host);
        }),
      );
      const hs = inputs.map(host);
      tf.dispose(inputs);
      await onWasm(async () => {
        const [x, g, b, dy] = hs.map(dev) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const [mm, mv] = [tf.randomNormal([c], 0, 1, 'float32', 21), tf.randomUniform([c], 0.5, 2, 'float32', 22)];
        expect(simdBatchNormUsable(x, g, b, mm, mv)).toBe(true);
        /** y, ∂x, ∂γ, ∂β and the two moving statistics, fused or by the batch norm kernel and then the ReLU (tfjs's op, its stock gradient). */
        const run = (fused: boolean) =>
          tf.tidy(() => {
            let moving: tf.Tensor[] = [];
            let out: tf.Tensor | undefined;
            const grads = tf.grads((xx, gg, bb) => {
              const f = fused
                ? simdBatchNormReluTrain(xx as tf.Tensor, gg as tf.Tensor, bb as tf.Tensor, mm, mv, eps, 0.8, cap)
                : simdBatchNormTrain(xx as tf.Tensor, gg as tf.Tensor, bb as tf.Tensor, mm, mv, eps, 0.8);
              const y = fused ? f.y : withGradientMode('stock', () => reluOf(f.y, cap));
              moving = [tf.keep(f.movingMean as tf.Tensor), tf.keep(f.movingVariance as tf.Tensor)];
              out = tf.keep(y);
              return tf.sum(tf.mul(y, dy));
            })([x, g, b]);
            const result = [out as tf.Tensor, ...grads, ...moving].map(host);
            tf.dispose([...moving, out as tf.Tensor]);
            return result;
          });
        await expectNoLeak(async () => {
          const fusedOut = run(true);
          const apart = run(false);
          const names = ['y', '∂x', '∂γ', '∂β', 'moving mean', 'moving variance'];
          const zeroY = Array.from((apart[0] as Host).v).filter((v) => v === 0).length;
          const sixY = Array.from((apart[0] as Host).v).filter((v) => v === 6).length;
          const overSix = Array.from((apart[0] as Host).v).filter((v) => v > 6).length;
          // the test data reach both clamps (else the masks would go untested); a plain ReLU passes values over 6
          expect(zeroY + sixY).toBeGreaterThan(0);
          if ((apart[0] as Host).v.length > 100) expect(Math.min(zeroY, cap === 6 ? sixY : overSix)).toBeGreaterThan(0);
          if (cap !== 6) expect(sixY, 'ReLU: nothing clipped at 6').toBe(0);
          fusedOut.forEach((t, i) => {
            expect(t.s, names[i]).toEqual((apart[i] as Host).s);
            expect(relErr(t.v, (apart[i] as Host).v), names[i]).toBeLessThanOrEqual(1e-6);
          });
          // against tfjs on cpu (P = 1: x − μ is 0, every output is relu6(β) and ∂x, ∂γ are rounding noise: y and ∂β only)
          const onePerChannel = shape.slice(0, -1).every((v) => v === 1);
          fusedOut.slice(0, 4).forEach((t, i) => {
            if (onePerChannel && (i === 1 || i === 2)) return;
            expect(relErr(t.v, (ref[i] as Host).v), `${names[i]} vs cpu`).toBeLessThanOrEqual(1e-5);
          });
        });
        tf.dispose([mm, mv, x, g, b, dy]);
      });
    },
  );

  /** Inference-mode batch norm with the moving statistics mm, mv by tfjs ops (the ReLU capped at `cap` of it: 6, ∞, or 0 for none). */
  const inferRef = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, mm: tf.Tensor, mv: tf.Tensor, eps: number, cap: number) => {
    const y = tf.add(tf.mul(tf.div(tf.sub(x, mm), tf.sqrt(tf.add(mv, eps))), g), b);
    return reluOf(y, cap);
  };

  // shapes as above; with ReLU6 the data reach both clamps (γ, β shifted)
  it.each(
    [
      [3, 9, 9, 6],
      [3, 20, 25, 5],
      [1, 1, 1, 7],
      [10, 3],
      [2, 7, 9, 31],
      [2, 10, 10, 40],
    ].flatMap((shape) => [
      [shape, 0],
      [shape, 6],
      [shape, Number.POSITIVE_INFINITY],
    ]) as [number[], number][],
  )('inference-mode batch norm (moving statistics) by one kernel each way matches tfjs on cpu within 1e-5: %j, fused ReLU cap %s (0: none)', async (shape, cap) => {
    const relu6 = cap > 0;
    const c = shape[shape.length - 1] as number;
    const eps = 1e-3;
    const inputs = tf.tidy(() => [
      tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 41), 3), 1.5),
      relu6 ? tf.randomNormal([c], 3, 2, 'float32', 42) : tf.randomNormal([c], 1, 0.3, 'float32', 42),
      relu6 ? tf.randomNormal([c], 2, 1.5, 'float32', 43) : tf.randomNormal([c], 0, 0.3, 'float32', 43),
      tf.randomNormal([c], 1, 1, 'float32', 44),
      tf.randomUniform([c], 0.5, 9, 'float32', 45),
      tf.randomNormal(shape, 0, 1, 'float32', 46),
    ]);
    const ref = withGradientMode('stock', () =>
      tf.tidy(() => {
        const [x, g, b, mm, mv, dy] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => inferRef(xx, gg, bb, mm, mv, eps, cap);
        const gr = tf.grads((a, bb, cc) => tf.sum(tf.mul(f(a as tf.Tensor, bb as tf.Tensor, cc as tf.Tensor), dy)))([x, g, b]);
        return [f(x, g, b), ...gr].map(host);
      }),
    );
    const hs = inputs.map(host);
    tf.dispose(inputs);
    await onWasm(async () => {
      const [x, g, b, mm, mv, dy] = hs.map(dev) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      expect(simdBatchNormUsable(x, g, b, mm, mv)).toBe(true);
      await expectNoLeak(() => {
        const got = tf.tidy(() => {
          let out: tf.Tensor | undefined;
          const grads = tf.grads((xx, gg, bb) => {
            out = tf.keep(simdBatchNormInfer(xx as tf.Tensor, gg as tf.Tensor, bb as tf.Tensor, mm, mv, eps, cap));
            return tf.sum(tf.mul(out, dy));
          })([x, g, b]);
          // no gradient recorded: the kernel alone, the same y
          const plain = simdBatchNormInfer(x, g, b, mm, mv, eps, cap);
          const result = [out as tf.Tensor, ...grads, plain].map(host);
          (out as tf.Tensor).dispose();
          return result;
        });
        if (relu6) {
          const y = Array.from((got[0] as Host).v);
          const top = cap === 6 ? y.filter((v) => v === 6).length : y.filter((v) => v > 6).length;
          expect(y.filter((v) => v === 0).length + top, 'outputs on a clamp').toBeGreaterThan(0);
          if (y.length > 100) expect(Math.min(y.filter((v) => v === 0).length, top)).toBeGreaterThan(0);
        }
        const names = ['y', '∂x', '∂γ', '∂β', 'y without a tape'];
        got.forEach((t, i) => {
          const want = ref[i === 4 ? 0 : i] as Host;
          expect(t.s, names[i]).toEqual(want.s);
          expect(relErr(t.v, want.v), names[i]).toBeLessThanOrEqual(1e-5);
        });
      });
      tf.dispose([x, g, b, mm, mv, dy]);
    });
  });

  it.each([
    [[3, 9, 9, 6], 'no scale'],
    [[2, 7, 9, 31], 'no scale'],
    [[2, 7, 9, 31], 'no center'],
    [[4, 5], 'neither'],
  ] as [number[], string][])(
    'inference-mode batch norm without γ or β (Keras scale/center false) by the kernels matches tfjs on cpu within 1e-5: %j, %s, ReLU6, ReLU fused and not',
    async (shape, which) => {
      const c = shape[shape.length - 1] as number;
      const eps = 1e-3;
      const hasG = which === 'no center';
      const hasB = which === 'no scale';
      const inputs = tf.tidy(() => [
        tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 61), 3), 2),
        tf.randomNormal([c], 1.5, 1, 'float32', 62),
        tf.randomNormal([c], 1, 1, 'float32', 63),
        tf.randomNormal([c], 1, 1, 'float32', 64),
        tf.randomUniform([c], 0.2, 2, 'float32', 65),
        tf.randomNormal(shape, 0, 1, 'float32', 66),
      ]);
      const caps = [0, 6, Number.POSITIVE_INFINITY];
      const refs = caps.map((cap) =>
        withGradientMode('stock', () =>
          tf.tidy(() => {
            const [x, g, b, mm, mv, dy] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
            const f = (xx: tf.Tensor, p: tf.Tensor) => inferRef(xx, hasG ? p : tf.onesLike(g), hasB ? p : tf.zerosLike(b), mm, mv, eps, cap);
            const param = hasG ? g : b;
            // 'neither': x alone is differentiated
            const gr = tf.grads((a, pp) => tf.sum(tf.mul(f(a as tf.Tensor, (pp ?? param) as tf.Tensor), dy)))(which === 'neither' ? [x] : [x, param]);
            return [f(x, param), ...gr].map(host);
          }),
        ),
      );
      const hs = inputs.map(host);
      tf.dispose(inputs);
      await onWasm(async () => {
        const all = hs.map(dev);
        const [x, g, b, mm, mv, dy] = all as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const param = hasG ? g : b;
        await expectNoLeak(() => {
          caps.forEach((cap, k) => {
            const got = tf.tidy(() => {
              let out: tf.Tensor | undefined;
              const run = (xx: tf.Tensor, pp: tf.Tensor) => simdBatchNormInfer(xx, hasG ? pp : undefined, hasB ? pp : undefined, mm, mv, eps, cap);
              const grads = tf.grads((xx, pp) => {
                out = tf.keep(run(xx as tf.Tensor, (pp ?? param) as tf.Tensor));
                return tf.sum(tf.mul(out, dy));
              })(which === 'neither' ? [x] : [x, param]);
              const result = [out as tf.Tensor, ...grads].map(host);
              (out as tf.Tensor).dispose();
              return result;
            });
            const names = ['y', '∂x', hasG ? '∂γ' : '∂β'];
            expect(got.length).toBe(which === 'neither' ? 2 : 3);
            got.forEach((t, i) => {
              expect(relErr(t.v, ((refs[k] as Host[])[i] as Host).v), `${names[i]} (${capName(cap)})`).toBeLessThanOrEqual(1e-5);
            });
          });
        });
        tf.dispose(all);
      });
    },
  );

  it.each([[[3, 5, 7, 13]], [[4, 6]], [[2, 10, 10, 40]], [[1, 1, 1, 7]], [[5, 3, 2, 9]]])(
    "an inference-mode batch norm's per-example Σ g² and Σ |g| of γ and β by one kernel equal a per-example loop of tfjs's autodiff on cpu within 1e-5: %j",
    async (shape) => {
      const c = shape[shape.length - 1] as number;
      const n = shape[0] as number;
      const eps = 1e-3;
      const inputs = tf.tidy(() => [
        tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 51), 2), 0.5),
        tf.randomNormal([c], 1, 0.3, 'float32', 52),
        tf.randomNormal([c], 0, 0.3, 'float32', 53),
        tf.randomNormal([c], 0.5, 1, 'float32', 54),
        tf.randomUniform([c], 0.5, 4, 'float32', 55),
        tf.randomNormal(shape, 0, 1, 'float32', 56),
      ]);
      // per example: the gradient of Σ y·δ over γ and β, squared or made absolute, summed over the
      // examples; y the batch norm's output, or (relu6) the output of the ReLU6 after it
      // per-example weights on the squares (the exact Fisher's p(k|x_n)), none of them 1
      const weightOf = (e: number) => 0.25 + 0.5 * e + (e >= 1 ? 0.5 : 0);
      const refOf = (cap: number) =>
        withGradientMode('stock', () =>
          tf.tidy(() => {
            const [x, g, b, mm, mv, dy] = inputs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
            const sq = [tf.zeros([c]), tf.zeros([c])];
            const ab = [tf.zeros([c]), tf.zeros([c])];
            const sw = [tf.zeros([c]), tf.zeros([c])];
            for (let e = 0; e < n; e++) {
              const xe = tf.slice(x, e, 1);
              const de = tf.slice(dy, e, 1);
              const gr = tf.grads((gg, bb) => tf.sum(tf.mul(inferRef(xe, gg as tf.Tensor, bb as tf.Tensor, mm, mv, eps, cap), de)))([g, b]);
              for (let i = 0; i < 2; i++) {
                sq[i] = tf.add(sq[i] as tf.Tensor, tf.square(gr[i] as tf.Tensor));
                ab[i] = tf.add(ab[i] as tf.Tensor, tf.abs(gr[i] as tf.Tensor));
                sw[i] = tf.add(sw[i] as tf.Tensor, tf.mul(tf.square(gr[i] as tf.Tensor), weightOf(e)));
              }
            }
            return [tf.stack(sq), tf.stack(ab), tf.stack(sw)].map(host);
          }),
        );
      const ref = refOf(0);
      const refRelu6 = refOf(6);
      const refRelu = refOf(Number.POSITIVE_INFINITY);
      const hs = inputs.map(host);
      tf.dispose(inputs);
      await onWasm(async () => {
        const all = hs.map(dev);
        const [x, g, b, mm, mv, dy] = all as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        await expectNoLeak(() => {
          (['square', 'abs'] as const).forEach((stat, i) => {
            const got = batchNormExampleSums(x, dy, mm, mv, eps, stat) as tf.Tensor;
            expect(got.shape).toEqual([2, c]);
            expect(relErr(got, (ref[i] as Host).v), stat).toBeLessThanOrEqual(1e-5);
            const viaRelu6 = batchNormExampleSums(x, dy, mm, mv, eps, stat, { cap: 6, gamma: g, beta: b }) as tf.Tensor;
            expect(relErr(viaRelu6, (refRelu6[i] as Host).v), `${stat}, dy at the ReLU6's output`).toBeLessThanOrEqual(1e-5);
            // without a cap: ReLU6's, as before caps were given
            const legacy = batchNormExampleSums(x, dy, mm, mv, eps, stat, { gamma: g, beta: b }) as tf.Tensor;
            expect(Array.from(legacy.dataSync()), `${stat}: no cap is ReLU6's`).toEqual(Array.from(viaRelu6.dataSync()));
            legacy.dispose();
            expect(() => batchNormExampleSums(x, dy, mm, mv, eps, stat, { cap: 0, gamma: g, beta: b }), 'cap 0').toThrow(/relu\.cap must be > 0/);
            const viaRelu = batchNormExampleSums(x, dy, mm, mv, eps, stat, { cap: Number.POSITIVE_INFINITY, gamma: g, beta: b }) as tf.Tensor;
            expect(relErr(viaRelu, (refRelu[i] as Host).v), `${stat}, dy at the ReLU's output`).toBeLessThanOrEqual(1e-5);
            // the mask matters here: the two differ
            expect(relErr(viaRelu6, (ref[i] as Host).v), `${stat}: with and without the mask`).toBeGreaterThan(1e-2);
            expect(relErr(viaRelu, (ref[i] as Host).v), `${stat}: with and without the ReLU's mask`).toBeGreaterThan(1e-2);
            tf.dispose([got, viaRelu6, viaRelu]);
          });
        });
        // the same sums asked of the batch norm's backward kernel (the importances' one pass): to the bit
        // those of batchNormExampleSums, ∂x to the bit that of the backward without them, ∂γ and ∂β the
        // same within rounding (summed example by example)
        await expectNoLeak(() => {
          for (const cap of [0, 6, Number.POSITIVE_INFINITY]) {
            const relu6 = capName(cap);
            const grads = (sums?: BatchNormSumsRequest) =>
              tf.grads((xx, gg, bb) => tf.sum(tf.mul(simdBatchNormInfer(xx as tf.Tensor, gg, bb, mm, mv, eps, cap, sums), dy)))([x, g, b]);
            const delivered: Partial<Record<'square' | 'abs', tf.Tensor2D>>[] = [];
            const fused = grads({ stats: ['square', 'abs'], deliver: (s) => delivered.push(s) });
            const plain = grads();
            expect(delivered.length, `${relu6}: delivered once`).toBe(1);
            const affine = cap > 0 ? { cap, gamma: g, beta: b } : undefined;
            for (const stat of ['square', 'abs'] as const) {
              const apart = batchNormExampleSums(x, dy, mm, mv, eps, stat, affine) as tf.Tensor;
              const got = delivered[0]?.[stat] as tf.Tensor;
              expect(Array.from(got.dataSync()), `${relu6}, ${stat}: the sums, bit for bit`).toEqual(Array.from(apart.dataSync()));
              tf.dispose([apart, got]);
            }
            expect(Array.from((fused[0] as tf.Tensor).dataSync()), `${relu6}: ∂x, bit for bit`).toEqual(Array.from((plain[0] as tf.Tensor).dataSync()));
            for (const i of [1, 2]) expect(relErr(fused[i] as tf.Tensor, (plain[i] as tf.Tensor).dataSync()), `${relu6}: ∂γ/∂β ${i}`).toBeLessThanOrEqual(1e-6);
            tf.dispose([...fused, ...plain]);
            // one statistic asked for: only it; the per-example kernels off: nothing delivered
            const one: Partial<Record<'square' | 'abs', tf.Tensor2D>>[] = [];
            tf.dispose(grads({ stats: ['abs'], deliver: (s) => one.push(s) }));
            expect(Object.keys(one[0] ?? {}), `${relu6}: abs only`).toEqual(['abs']);
            tf.dispose(Object.values(one[0] ?? {}));
            setSimdPerExampleSums(false);
            const none: unknown[] = [];
            try {
              tf.dispose(grads({ stats: ['square'], deliver: (s) => none.push(s) }));
            } finally {
              setSimdPerExampleSums(true);
            }
            expect(none.length, `${relu6}: nothing delivered with the per-example kernels off`).toBe(0);
            // weighted squares: Σ_n w_n·g_n² as the per-example loop on cpu weights them; |g| unweighted
            const w = tf.tensor1d(Array.from({ length: n }, (_, e) => weightOf(e)));
            const weighted: Partial<Record<'square' | 'abs', tf.Tensor2D>>[] = [];
            tf.dispose(grads({ stats: ['square', 'abs'], weights: w, deliver: (s) => weighted.push(s) }));
            const want = cap === 6 ? refRelu6 : cap > 0 ? refRelu : ref;
            expect(relErr(weighted[0]?.square as tf.Tensor, (want[2] as Host).v), `${relu6}: Σ w·g²`).toBeLessThanOrEqual(1e-5);
            expect(relErr(weighted[0]?.square as tf.Tensor, (want[0] as Host).v), `${relu6}: weighted against unweighted`).toBeGreaterThan(1e-2);
            expect(relErr(weighted[0]?.abs as tf.Tensor, (want[1] as Host).v), `${relu6}: Σ |g| with weights given`).toBeLessThanOrEqual(1e-5);
            // weights of the wrong length: a clear error naming them, before anything runs
            const bad = tf.ones([n + 1]) as tf.Tensor1D;
            expect(() => simdBatchNormInfer(x, g, b, mm, mv, eps, cap, { stats: ['square'], weights: bad, deliver: () => undefined }), `${relu6}: wrong weights`).toThrow(
              /weights must have shape \[\d+\]/,
            );
            tf.dispose([w, bad, ...Object.values(weighted[0] ?? {})]);
          }
        });
        // not this kernel's case: shapes that do not fit, and 'composed'
        const wrong = tf.ones([c + 1]);
        expect(batchNormExampleSums(x, dy, wrong, mv, eps, 'square')).toBeUndefined();
        expect(withConvFormulation('composed', () => batchNormExampleSums(x, dy, mm, mv, eps, 'square'))).toBeUndefined();
        tf.dispose([...all, wrong]);
      });
    },
  );

  it('the inference-mode and per-example kernels write nothing but their outputs and scratch in the memory they import, both variants, and compute what a hand computation does', () => {
    // P = 70 rows (a 64-row block and a partial one) of C = 13 channels (chunks of 8, 4 and 1), 3 examples for the sums
    const [p, c, n] = [70, 13, 3];
    const r = new Rng(5);
    const rnd = (len: number, lo: number, hi: number) => Float32Array.from({ length: len }, () => lo + (hi - lo) * r.next());
    const x = rnd(n * p * c, -4, 4);
    const dy = rnd(n * p * c, -1, 1);
    const [g, b, mm] = [rnd(c, 0.5, 2), rnd(c, 0, 3), rnd(c, -1, 1)];
    const mv = rnd(c, 0.2, 2);
    const eps = 1e-3;
    const rstd = Array.from(mv, (v) => 1 / Math.sqrt(v + eps));
    for (const shared of [false, true]) {
      const { call, heap } = rawSimdModule(shared);
      // float indices 8 mod 16 bytes apart, as tfjs-wasm's heap places tensors
      const at = { x: 1001, dy: 5001, g: 9001, b: 9101, mm: 9201, mv: 9301, y: 10001, stats: 14001, dx: 14101, dg: 18101, db: 18201, scratch: 18301, out: 18501 };
      heap.set(x.subarray(0, p * c), at.x);
      heap.set(dy.subarray(0, p * c), at.dy);
      for (const [k, v] of [
        ['g', g],
        ['b', b],
        ['mm', mm],
        ['mv', mv],
      ] as const)
        heap.set(v, at[k]);
      // act 0 (no ReLU), or the ReLU capped at 6 (ReLU6) or +∞ (ReLU) fused in
      const acts = [
        [0, 0],
        [1, 6],
        [1, Number.POSITIVE_INFINITY],
      ] as const;
      for (const [act, cap] of acts) {
        const what = `${shared ? 'shared' : 'plain'}, ReLU ${act} cap ${cap}`;
        let before = heap.slice();
        call('bn_infer_forward', at.x * 4, at.g * 4, at.b * 4, at.mm * 4, at.mv * 4, at.y * 4, at.stats * 4, p, c, eps, act, cap);
        expectWritesOnly(
          heap,
          before,
          [
            [at.y, p * c],
            [at.stats, 2 * c],
          ],
          `${what}: bn_infer_forward`,
        );
        const relu6 = (v: number) => (act ? Math.min(Math.max(v, 0), cap) : v);
        const want = Array.from({ length: p * c }, (_, i) =>
          relu6(((x[i] as number) - (mm[i % c] as number)) * (rstd[i % c] as number) * (g[i % c] as number) + (b[i % c] as number)),
        );
        expect(relErr(heap.subarray(at.y, at.y + p * c), want), `${what}: y`).toBeLessThanOrEqual(1e-5);
        before = heap.slice();
        call('bn_infer_backward', at.x * 4, at.dy * 4, at.g * 4, at.b * 4, at.stats * 4, at.dx * 4, at.dg * 4, at.db * 4, p, c, act, cap);
        expectWritesOnly(
          heap,
          before,
          [
            [at.dx, p * c],
            [at.dg, c],
            [at.db, c],
          ],
          `${what}: bn_infer_backward`,
        );
        // ∂x = δ·γ·r, δ = dy where the pre-activation is in (0, cap] under the ReLU
        const pre = (i: number) => ((x[i] as number) - (mm[i % c] as number)) * (rstd[i % c] as number) * (g[i % c] as number) + (b[i % c] as number);
        const delta = (i: number) => (!act || (pre(i) > 0 && pre(i) <= cap) ? (dy[i] as number) : 0);
        const wantDx = Array.from({ length: p * c }, (_, i) => delta(i) * (g[i % c] as number) * (rstd[i % c] as number));
        expect(relErr(heap.subarray(at.dx, at.dx + p * c), wantDx), `${what}: ∂x`).toBeLessThanOrEqual(1e-5);
        const wantDb = Array.from({ length: c }, (_, k) => Array.from({ length: p }, (_, q) => delta(q * c + k)).reduce((s, v) => s + v, 0));
        expect(relErr(heap.subarray(at.db, at.db + c), wantDb), `${what}: ∂β`).toBeLessThanOrEqual(1e-5);
      }
      // the per-example sums over the 3 examples
      const big = { x: 30001, dy: 40001 };
      // by hand, per example e: [Σ_q δ·x̂ for each channel, then Σ_q δ for each channel] (δ = dy through the
      // ReLU6 mask when act), and how many values the mask cut
      const handSums = (act: number, cap: number) => {
        let masked = 0;
        const sums = Array.from({ length: n }, (_, e) => {
          const row = new Array(2 * c).fill(0);
          for (let k = 0; k < c; k++)
            for (let q = 0; q < p; q++) {
              const i = (e * p + q) * c + k;
              const xhat = ((x[i] as number) - (mm[k] as number)) * (rstd[k] as number);
              const pre = xhat * (g[k] as number) + (b[k] as number);
              const d = !act || (pre > 0 && pre <= cap) ? (dy[i] as number) : 0;
              if (act && d === 0) masked++;
              row[k] += d * xhat;
              row[c + k] += d;
            }
          return row;
        });
        return { sums, masked };
      };
      heap.set(x, big.x);
      heap.set(dy, big.dy);
      // (act 1: dy at the output of the ReLU6 fused into the batch norm, through its mask)
      for (const [act, cap] of acts)
        for (const square of [1, 0]) {
          const before = heap.slice();
          call('bn_example_sums', big.x * 4, big.dy * 4, at.mm * 4, at.mv * 4, at.g * 4, at.b * 4, eps, at.scratch * 4, at.out * 4, n, p, c, square, act, cap);
          expectWritesOnly(
            heap,
            before,
            [
              [at.scratch, 3 * c],
              [at.out, 2 * c],
            ],
            `${shared ? 'shared' : 'plain'}: bn_example_sums`,
          );
          const stat = (v: number) => (square ? v * v : Math.abs(v));
          const { sums, masked } = handSums(act, cap);
          const want = new Array(2 * c).fill(0);
          sums.forEach((row) => row.forEach((v, j) => (want[j] += stat(v))));
          // the mask must cut some values, or the ReLU case would test nothing
          if (act) expect(masked, 'values the ReLU mask cuts').toBeGreaterThan(n * p * c * 0.1);
          expect(relErr(heap.subarray(at.out, at.out + 2 * c), want), `bn_example_sums, square ${square}, ReLU ${act} cap ${cap}`).toBeLessThanOrEqual(1e-5);
        }
      // the two caps cut different values (the mask's bound is cap's, not a constant 6)
      expect(handSums(1, 6).masked, 'ReLU6 cuts more than ReLU').toBeGreaterThan(handSums(1, Number.POSITIVE_INFINITY).masked);
      // the backward with the per-example sums in its pass: ∂x over the 3 examples, ∂γ, ∂β, and both sums
      // the same to the bit as bn_example_sums', writing nothing else but its scratch
      const fusedAt = { sq: 18601, ab: 18701, scratch: 18801, wts: 18901 };
      for (const [act, cap] of acts) {
        const apart = [1, 0].map((square) => {
          call('bn_example_sums', big.x * 4, big.dy * 4, at.mm * 4, at.mv * 4, at.g * 4, at.b * 4, eps, at.scratch * 4, at.out * 4, n, p, c, square, act, cap);
          return Array.from(heap.subarray(at.out, at.out + 2 * c));
        });
        // bn_infer_backward_sums with its sums at sq and ab and weights at wts (0: none), and the regions it may write
        const fusedCall = (sq: number, ab: number, wts: number) => {
          const before = heap.slice();
          call(
            'bn_infer_backward_sums',
            big.x * 4,
            big.dy * 4,
            at.g * 4,
            at.b * 4,
            at.stats * 4,
            at.dx * 4,
            at.dg * 4,
            at.db * 4,
            fusedAt.scratch * 4,
            sq * 4,
            ab * 4,
            wts * 4,
            n,
            p,
            c,
            act,
            cap,
          );
          const outputs: [number, number][] = [
            [at.dx, n * p * c],
            [at.dg, c],
            [at.db, c],
            [fusedAt.scratch, 2 * c],
          ];
          if (sq) outputs.push([sq, 2 * c]);
          if (ab) outputs.push([ab, 2 * c]);
          expectWritesOnly(heap, before, outputs, `${shared ? 'shared' : 'plain'}: bn_infer_backward_sums (sq ${sq}, ab ${ab}, weights ${wts}), ReLU ${act} cap ${cap}`);
        };
        fusedCall(fusedAt.sq, fusedAt.ab, 0);
        expect(Array.from(heap.subarray(fusedAt.sq, fusedAt.sq + 2 * c)), `bn_infer_backward_sums Σ g², ReLU ${act} cap ${cap}`).toEqual(apart[0]);
        expect(Array.from(heap.subarray(fusedAt.ab, fusedAt.ab + 2 * c)), `bn_infer_backward_sums Σ |g|, ReLU ${act} cap ${cap}`).toEqual(apart[1]);
        const pre = (i: number) => ((x[i] as number) - (mm[i % c] as number)) * (rstd[i % c] as number) * (g[i % c] as number) + (b[i % c] as number);
        const delta = (i: number) => (!act || (pre(i) > 0 && pre(i) <= cap) ? (dy[i] as number) : 0);
        const wantDx = Array.from({ length: n * p * c }, (_, i) => delta(i) * (g[i % c] as number) * (rstd[i % c] as number));
        expect(relErr(heap.subarray(at.dx, at.dx + n * p * c), wantDx), `bn_infer_backward_sums ∂x, ReLU ${act} cap ${cap}`).toBeLessThanOrEqual(1e-5);
        const wantDb = Array.from({ length: c }, (_, k) => Array.from({ length: n * p }, (_, q) => delta(q * c + k)).reduce((t, v) => t + v, 0));
        expect(relErr(heap.subarray(at.db, at.db + c), wantDb), `bn_infer_backward_sums ∂β, ReLU ${act} cap ${cap}`).toBeLessThanOrEqual(1e-5);
        // one statistic: the other pointer 0, nothing written there
        fusedCall(0, fusedAt.ab, 0);
        // per-example weights on the squares (the exact Fisher's p(k|x_n)): Σ_n w_n·g_n², the absolute values unweighted
        const wts = [0.2, 1.5, 0.7];
        heap.set(wts, fusedAt.wts);
        fusedCall(fusedAt.sq, fusedAt.ab, fusedAt.wts);
        const wantSq = new Array(2 * c).fill(0);
        handSums(act, cap).sums.forEach((row, e) => row.forEach((v, j) => (wantSq[j] += (wts[e] as number) * v * v)));
        expect(relErr(heap.subarray(fusedAt.sq, fusedAt.sq + 2 * c), wantSq), `bn_infer_backward_sums Σ w·g², ReLU ${act} cap ${cap}`).toBeLessThanOrEqual(1e-5);
        // not the unweighted sums: the weights are not all 1
        expect(relErr(heap.subarray(fusedAt.sq, fusedAt.sq + 2 * c), apart[0] as number[]), `weighted against unweighted, ReLU ${act} cap ${cap}`).toBeGreaterThan(1e-2);
        expect(Array.from(heap.subarray(fusedAt.ab, fusedAt.ab + 2 * c)), `bn_infer_backward_sums Σ |g| with weights given, ReLU ${act} cap ${cap}`).toEqual(apart[1]);
      }
    }
  });

  it("batch norm's statistics merged block by block match tfjs's two passes on cpu within 1e-5 where the mean is 20σ from 0 and drifts along the rows", async () => {
    const shape = [4, 16, 16, 12];
    const eps = 1e-3;
    // x = 20 + row / 512 + N(0, 1): each block of 64 rows has its own mean (the pairwise update's d ≠ 0)
    const inputs = tf.tidy(() => [
      tf.add(tf.add(tf.randomNormal(shape, 0, 1, 'float32', 31), 20), tf.reshape(tf.div(tf.range(0, 1024), 512), [4, 16, 16, 1])),
      tf.randomNormal([12], 1, 0.3, 'float32', 32),
      tf.randomNormal([12], 0, 0.3, 'float32', 33),
      tf.randomNormal(shape, 0, 1, 'float32', 34),
    ]);
    const ref = reference(inputs[0] as tf.Tensor, inputs[1] as tf.Tensor, inputs[2] as tf.Tensor, inputs[3] as tf.Tensor, eps);
    const hs = inputs.map(host);
    tf.dispose(inputs);
    await onWasm(async () => {
      const [x, g, b] = hs.map(dev) as [tf.Tensor, tf.Tensor, tf.Tensor];
      const [mm, mv] = [tf.zeros([12]), tf.zeros([12])];
      await expectNoLeak(() => {
        const got = tf.tidy(() => {
          // momentum 0: the moving statistics are the batch's μ and σ²
          const f = simdBatchNormTrain(x, g, b, mm, mv, eps, 0);
          const r = [f.y, f.movingMean as tf.Tensor, f.movingVariance as tf.Tensor].map(host);
          tf.dispose([f.movingMean as tf.Tensor, f.movingVariance as tf.Tensor]);
          return r;
        });
        ['y', 'μ', 'σ²'].forEach((name, i) => expect(relErr((got[i] as Host).v, (ref[i] as Host).v), name).toBeLessThanOrEqual(1e-5));
      });
      tf.dispose([x, g, b, mm, mv]);
    });
  });

  it("ReLU6's gradient by the kernel is tfjs's stock one on cpu exactly (both sides of 0 and 6, exactly 0 and 6, sizes not multiples of 4)", async () => {
    const x = tf.concat([tf.mul(tf.randomNormal([201], 0, 1, 'float32', 4), 5), tf.tensor1d([0, 6, -0, 6.0000005, 5.9999995, -7])]);
    const dy = tf.randomNormal(x.shape, 0, 1, 'float32', 5);
    const ref = withGradientMode('stock', () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu6(a), dy)))(x));
    const [hx, hdy, hr] = [host(x), host(dy), host(ref)];
    tf.dispose([x, dy, ref]);
    await onWasm(async () => {
      const [xw, dyw] = [dev(hx), dev(hdy)];
      await expectNoLeak(() => {
        const direct = simdRelu6Grad(xw, dyw);
        const viaGrad = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu6(a), dyw)))(xw);
        expect(relErr(direct.dataSync(), hr.v)).toBe(0);
        expect(relErr(viaGrad.dataSync(), hr.v)).toBe(0);
        tf.dispose([direct, viaGrad]);
      });
      tf.dispose([xw, dyw]);
    });
  });

  it("ClipByValue's gradient by the kernel is tfjs's stock one on cpu exactly (both sides of and exactly at the bounds, NaN, sizes not multiples of 4)", async () => {
    const x = tf.concat([tf.mul(tf.randomNormal([201], 0, 1, 'float32', 6), 4), tf.tensor1d([-1.5, 2.5, -1.5000001, 2.5000002, Number.NaN, -0, 0])]);
    const dy = tf.randomNormal(x.shape, 0, 1, 'float32', 7);
    const ref = withGradientMode('stock', () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(a, -1.5, 2.5), dy)))(x));
    const [hx, hdy, hr] = [host(x), host(dy), host(ref)];
    tf.dispose([x, dy, ref]);
    await onWasm(async () => {
      const [xw, dyw] = [dev(hx), dev(hdy)];
      await expectNoLeak(() => {
        const direct = simdClipGrad(xw, dyw, -1.5, 2.5);
        const viaGrad = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(a, -1.5, 2.5), dyw)))(xw);
        expect(Array.from(direct.dataSync())).toEqual(Array.from(hr.v));
        expect(Array.from(viaGrad.dataSync())).toEqual(Array.from(hr.v));
        tf.dispose([direct, viaGrad]);
      });
      tf.dispose([xw, dyw]);
    });
  });

  it("ReLU6 on wasm by the kernel ('auto') and by the stock one ('composed') are tfjs's on cpu exactly (the kernel keeps NaN too)", async () => {
    const x = tf.concat([tf.mul(tf.randomNormal([203], 0, 1, 'float32', 4), 5), tf.tensor1d([0, 6, -0, Number.NaN, -7, 7, Number.POSITIVE_INFINITY])]);
    const r = tf.relu6(x);
    const [hx, ref] = [host(x), host(r)];
    tf.dispose([x, r]);
    await onWasm(async () => {
      const xw = dev(hx);
      await expectNoLeak(() => {
        for (const f of ['auto', 'composed'] as const) {
          const y = withConvFormulation(f, () => tf.relu6(xw));
          // the stock wasm kernel (a scalar clamp) loses NaN: compared where x is a number
          const keep = (v: ArrayLike<number>) => Array.from(v).filter((_, i) => f === 'auto' || !Number.isNaN(hx.v[i] as number));
          expect(keep(y.dataSync()), f).toEqual(keep(ref.v));
          y.dispose();
        }
      });
      xw.dispose();
    });
  });

  it("are used under 'auto' on wasm only: not under 'composed' (the before), not on cpu", async () => {
    const x = tf.ones([2, 3]);
    expect(normSimdUsable(x)).toBe(false);
    x.dispose();
    await onWasm(() => {
      const xw = tf.ones([2, 3]);
      expect(normSimdUsable(xw)).toBe(true);
      expect(withConvFormulation('composed', () => normSimdUsable(xw))).toBe(false);
      expect(withConvFormulation('im2col', () => normSimdUsable(xw))).toBe(false);
      const xi = tf.cast(xw, 'int32');
      expect(normSimdUsable(xi)).toBe(false);
      tf.dispose([xw, xi]);
    });
  });

  it('a sequential model runs batch norm + ReLU6 fused in training and in inference (apart when a capture asks for the batch norm): the same step and predictions either way', async () => {
    await onWasm(async () => {
      const make = () => sequential([conv2d(6, 3, { useBias: false }), batchNorm({ momentum: 0.7 }), activation('relu6'), flatten(), dense(3)], { inputShape: [6, 6, 2], seed: 3 });
      const x = tf.randomNormal([4, 6, 6, 2], 0, 1, 'float32', 30);
      const count = (p: { kernels: { name: string }[] }, name: string) => p.kernels.filter((k) => k.name === name).length;
      const run = async (fuse: boolean) => {
        const m = make();
        let got: Host[] = [];
        const p = await tf.profile(() => {
          got = withLayerFusion(fuse, () =>
            tf.tidy(() => {
              const vars = Object.values(m.params);
              const { grads } = tf.variableGrads(() => tf.mean(tf.square(m.apply(x, { training: true }))) as tf.Scalar, vars);
              return [...vars.map((v) => grads[v.name] as tf.Tensor), ...Object.values(m.state)].map(host);
            }),
          );
          return [];
        });
        // (tfjs reuses its profile object: counted before the next profile)
        // one kernel each way
        const fused = count(p, 'ForgetlessBatchNormReluTrain') + count(p, 'ForgetlessBatchNormReluTrainGrad');
        let predicted: Host | undefined;
        const q = await tf.profile(() => {
          predicted = withLayerFusion(fuse, () => tf.tidy(() => host(m.apply(x))));
          return [];
        });
        const inference = [count(q, 'ForgetlessBatchNormInfer'), count(q, 'Relu6')];
        // a capture takes the unfused path
        const r = await tf.profile(() => {
          tf.tidy(() => {
            m.apply(x, { training: true, capture: {} });
          });
          return [];
        });
        const captured = count(r, 'ForgetlessBatchNormReluTrain');
        m.dispose();
        return { got, fused, inference, captured, predicted: predicted as Host };
      };
      await expectNoLeak(async () => {
        const on = await run(true);
        const off = await run(false);
        expect([on.fused, off.fused, on.captured, off.captured]).toEqual([2, 0, 0, 0]);
        // inference: the batch norm's kernel with ReLU6 inside it, or then wasm's Relu6
        expect([on.inference, off.inference]).toEqual([
          [1, 0],
          [1, 1],
        ]);
        on.got.forEach((g, i) => expect(relErr(g.v, (off.got[i] as Host).v), `output ${i}`).toBeLessThanOrEqual(1e-6));
        expect(relErr(on.predicted.v, off.predicted.v), 'predictions').toBeLessThanOrEqual(1e-6);
      });
      x.dispose();
    });
  });

  it('a stock tfjs-layers MobileNet-style model imported into forgetless (batch norm, ReLU6, 1×1 and depthwise convs, a ZeroPadding2D before a strided one) takes one SGD step on wasm as on cpu, fused (batch norm + ReLU6, the padding into the conv) as run apart', async () => {
    const input = tfl.input({ shape: [12, 12, 3] });
    const conv = (filters: number, k: number, s: number, seed: number) =>
      tfl.layers.conv2d({ filters, kernelSize: k, strides: s, padding: 'same', useBias: false, kernelInitializer: 'glorotNormal', seed } as never);
    const bnRelu = (t: tfl.SymbolicTensor) =>
      tfl.layers.reLU({ maxValue: 6 }).apply(tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 }).apply(t)) as tfl.SymbolicTensor;
    let h = bnRelu(conv(10, 3, 2, 1).apply(input) as tfl.SymbolicTensor);
    const e = bnRelu(conv(30, 1, 1, 2).apply(h) as tfl.SymbolicTensor);
    const d = bnRelu(
      tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseInitializer: 'glorotNormal', seed: 3 } as never).apply(e) as tfl.SymbolicTensor,
    );
    const p = tfl.layers.batchNormalization().apply(conv(10, 1, 1, 4).apply(d)) as tfl.SymbolicTensor;
    h = tfl.layers.add().apply([h, p]) as tfl.SymbolicTensor;
    // Keras MobileNetV2's strided block: ZeroPadding2D (uneven) before a 'valid' stride-2 depthwise conv
    const padded = tfl.layers
      .zeroPadding2d({
        padding: [
          [0, 1],
          [0, 1],
        ],
      })
      .apply(h) as tfl.SymbolicTensor;
    h = bnRelu(
      tfl.layers
        .depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', useBias: false, depthwiseInitializer: 'glorotNormal', seed: 6 } as never)
        .apply(padded) as tfl.SymbolicTensor,
    );
    const out = tfl.layers.dense({ units: 5, kernelInitializer: 'glorotNormal', seed: 5 } as never).apply(tfl.layers.globalAveragePooling2d({}).apply(h)) as tfl.SymbolicTensor;
    const keras = tfl.model({ inputs: input, outputs: out });
    const artifacts = await artifactsOf(keras);
    keras.dispose();
    const xs = tf.tidy(() => host(tf.randomNormal([3, 12, 12, 3], 0, 1, 'float32', 11)));
    /** One SGD step (lr 0.5, training mode, mean squared output): the weights and moving statistics after it, and the kernels run. */
    const step = async () => {
      const loaded = await loadLayersModelFromArtifacts(artifacts);
      const m = loaded.model;
      let got: ({ name: string } & Host)[] = [];
      const profile = await tf.profile(() => {
        got = tf.tidy(() => {
          const x = dev(xs);
          const vars = Object.values(m.params);
          const { grads } = tf.variableGrads(() => tf.mean(tf.square(m.apply(x, { training: true, rng: new Rng(0) }))) as tf.Scalar, vars);
          for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name] as tf.Tensor, 0.5)));
          return [...vars, ...Object.values(m.state ?? {})].map((v) => ({ name: v.name, ...host(v) }));
        });
        return [];
      });
      loaded.dispose();
      return { got, kernels: profile.kernels.map((k) => k.name) };
    };
    const ref = (await withGradientMode('stock', step)).got;
    await onWasm(async () => {
      await expectNoLeak(async () => {
        // batch norm + ReLU6 fused, the convs before them apart (conv + batch norm as one op hides the batch norm kernels: `conv-bn.test.ts`)
        setConvBatchNormFusion(false);
        const fused = await step().finally(() => setConvBatchNormFusion(true));
        const apart = await withLayerFusion(false, step);
        // the three batch norms followed by a ReLU6 run fused (one kernel each way), the last one alone
        const count = (ks: string[], name: string) => ks.filter((k) => k === name).length;
        expect([count(fused.kernels, 'ForgetlessBatchNormReluTrain'), count(fused.kernels, 'ForgetlessBatchNormReluTrainGrad')]).toEqual([4, 4]);
        expect([count(fused.kernels, 'ForgetlessBatchNormTrain'), count(fused.kernels, 'Relu6')]).toEqual([1, 0]);
        expect([count(apart.kernels, 'ForgetlessBatchNormReluTrain'), count(apart.kernels, 'ForgetlessBatchNormTrain'), count(apart.kernels, 'Relu6')]).toEqual([0, 5, 4]);
        // the padding folded into the depthwise conv (explicit padding): one PadV2 fewer (the others pad inside the convolutions' gradients)
        expect(count(apart.kernels, 'PadV2') - count(fused.kernels, 'PadV2')).toBe(1);
        expect(fused.got.length).toBe(ref.length);
        fused.got.forEach((g, i) => {
          // fused and apart: the same float operations in the same order
          expect(relErr(g.v, (apart.got[i] as Host).v), `${g.name} fused vs apart`).toBeLessThanOrEqual(1e-6);
          // eleven layers of float32 rounding in different orders (each kernel alone is within 1e-5: the tests above and gemm-simd.test.ts)
          expect(relErr(g.v, (ref[i] as Host).v), g.name).toBeLessThanOrEqual(1e-4);
        });
      });
    });
  });
});
