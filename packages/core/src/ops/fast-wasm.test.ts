import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { BatchNorm, fusedTrainingBatchNorm } from '../layers/batch-norm.js';
import { paper2ConvNet } from '../presets.js';
import { Rng } from '../rng.js';
import { softmaxCrossEntropy } from '../loss.js';
import { type ConvFormulation, setConvFormulation, withConvFormulation } from './formulation.js';
import { type GradientMode, withGradientMode } from './gradients.js';
import { phaseView, stridePhases, strideView } from './windows.js';
import { onWasm } from './wasm.test-helpers.js';

type Host = { v: Float32Array; s: number[] };
const host = (t: tf.Tensor): Host => ({ v: t.dataSync().slice() as Float32Array, s: t.shape });
const dev = (h: Host) => tf.tensor(h.v, h.s);

describe("'auto' formulation: forgetless's wasm kernels, fused batch norm, element-wise gradients", () => {
  afterAll(async () => {
    setConvFormulation('auto');
    await tf.setBackend('cpu');
  });

  it.each([
    [1, 1],
    [2, 2],
    [2, 3],
    [3, 2],
  ])('stridePhases/phaseView equal strideView at every tap (strides %i×%i)', async (sh, sw) => {
    const x = tf.randomNormal([2, 11, 10, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    await expectNoLeak(() => {
      const phases = stridePhases(x, sh, sw);
      for (let top = 0; top < 4; top++) {
        for (let left = 0; left < 3; left++) {
          const outH = Math.floor((11 - 1 - top) / sh) + 1;
          const outW = Math.floor((10 - 1 - left) / sw) + 1;
          const a = phaseView(phases, top, left, sh, sw, outH, outW);
          const b = strideView(x, top, left, sh, sw, outH, outW);
          expect(a.shape).toEqual(b.shape);
          expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
          tf.dispose([a, b]);
        }
      }
      if (sh !== 1 || sw !== 1) tf.dispose(phases);
    });
    x.dispose();
  });

  it("Mean's and Sum's gradients (δ repeated by Concat, no ones tensor) are tfjs's stock ones bit for bit on cpu and wasm, over every axis set", async () => {
    type Case = { shape: number[]; axis: number | number[] | undefined; keep: boolean };
    const cases: Case[] = [
      { shape: [3, 5, 4, 7], axis: [1, 2], keep: false }, // a global average pool
      { shape: [3, 5, 4, 7], axis: [2, 1], keep: true },
      { shape: [3, 5, 4, 7], axis: 0, keep: false },
      { shape: [3, 5, 4, 7], axis: [-1], keep: true },
      { shape: [3, 5, 4, 7], axis: [0, 3], keep: false }, // not one run: stock
      { shape: [3, 5, 4, 7], axis: undefined, keep: false },
      { shape: [2, 10, 13, 3], axis: [1, 2], keep: false }, // 130 copies: by doubling
      { shape: [4097], axis: 0, keep: true },
    ];
    const inputs = cases.map((c, i) => tf.tidy(() => host(tf.randomNormal(c.shape, 0, 1, 'float32', 11 + i))));
    const reduce = (op: 'mean' | 'sum', a: tf.Tensor, axis: number | number[] | undefined, keep: boolean) => (op === 'mean' ? tf.mean(a, axis, keep) : tf.sum(a, axis, keep));
    const grads = (mode: GradientMode, op: 'mean' | 'sum') =>
      cases.map(({ axis, keep }, i) =>
        tf.tidy(() => {
          const x = dev(inputs[i] as Host);
          const probe = tf.randomNormal(reduce(op, x, axis, keep).shape, 0, 1, 'float32', 40 + i);
          return host(withGradientMode(mode, () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(reduce(op, a, axis, keep), probe)))(x)));
        }),
      );
    // cpu: forced with 'custom' (it is wasm's under 'auto'); wasm: as a step runs it
    const run = async (mode: GradientMode) => {
      for (const op of ['mean', 'sum'] as const) {
        let stock: Host[] = [];
        let own: Host[] = [];
        await expectNoLeak(() => {
          stock = grads('stock', op);
          own = grads(mode, op);
        });
        own.forEach((g, i) => {
          const what = `${op} ${JSON.stringify(cases[i])}`;
          expect(g.s, what).toEqual((inputs[i] as Host).s);
          expect(Array.from(g.v), what).toEqual(Array.from((stock[i] as Host).v));
        });
        // and they are the reductions' gradients: the probe (÷ size) everywhere, for the full reduction
        const all = own[5] as Host;
        const p = tf.tidy(() => tf.randomNormal([], 0, 1, 'float32', 45).dataSync()[0] as number);
        const want = op === 'mean' ? Math.fround(p / (3 * 5 * 4 * 7)) : p;
        expect(Array.from(all.v)).toEqual(new Array(all.v.length).fill(want));
      }
    };
    await run('custom');
    await onWasm(async () => {
      await run('auto');
      // no Multiply or Tile of x's size: Concat copies
      const x = tf.randomNormal([8, 3, 3, 64]);
      const prof = await tf.profile(() => tf.grad((a: tf.Tensor) => tf.sum(tf.mean(a, [1, 2])))(x));
      const big = prof.kernels.filter((k) => k.outputShapes.some((s) => s && tf.util.sizeFromShape(s as number[]) === x.size)).map((k) => k.name);
      expect(big).not.toContain('Multiply');
      expect(big).not.toContain('Tile');
      expect(big).toContain('Concat');
      x.dispose();
    });
  });

  it("Add's gradient on wasm hands δ on without Reshapes and equals tfjs's stock one bit for bit, through chains of Adds, Add(x, x) and broadcasting", async () => {
    const shapes = { a: [2, 3, 4], b: [2, 3, 4], c: [4] };
    const hs = Object.fromEntries(Object.entries(shapes).map(([k, sh], i) => [k, tf.tidy(() => host(tf.randomNormal(sh, 0, 1, 'float32', 60 + i)))])) as Record<string, Host>;
    // residual-style: a + b feeds two consumers, a reaches the loss three ways (one of them Add(a, a)), c broadcasts
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
      const s1 = tf.add(a, b);
      const s2 = tf.add(s1, a);
      const s3 = tf.add(tf.add(a, a), s2);
      return tf.sum(tf.add(tf.mul(tf.add(s3, c), s1), tf.mul(s2, 0.5)));
    };
    const grads = (mode: GradientMode) =>
      tf.tidy(() =>
        withGradientMode(mode, () =>
          tf
            .grads(f)([dev(hs.a as Host), dev(hs.b as Host), dev(hs.c as Host)])
            .map(host),
        ),
      );
    const cpu = grads('stock');
    await onWasm(async () => {
      let own: Host[] = [];
      let stock: Host[] = [];
      await expectNoLeak(() => {
        own = grads('auto');
        stock = grads('stock');
      });
      own.forEach((g, i) => {
        expect(Array.from(g.v), `input ${i}`).toEqual(Array.from((stock[i] as Host).v));
        expect(relErr(g.v, (cpu[i] as Host).v), `input ${i} against cpu`).toBeLessThanOrEqual(1e-6);
      });
      const [a, b] = [dev(hs.a as Host), dev(hs.b as Host)];
      // the Add alone, from a given δ: tfjs's gradient reshapes δ to each input's shape, forgetless's makes no kernel call
      const dy = tf.onesLike(a);
      const calls = async (mode: GradientMode) =>
        (await tf.profile(() => withGradientMode(mode, () => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.add(x, y))([a, b], dy)))).kernels
          .map((k) => k.name)
          .filter((n) => n !== 'Identity'); // (the saved copies of a and b)
      expect(await calls('stock')).toEqual(['Add', 'Reshape', 'Reshape']);
      expect(await calls('auto')).toEqual(['Add']);
      dy.dispose();
      tf.dispose([a, b]);
    });
  });

  it('Sum, Mean (one run of adjacent axes short of the last as an average pooling, the others stock), Identity, Cast and LeakyRelu on wasm agree with cpu', async () => {
    const x = tf.randomNormal([4, 5, 6, 7], 0, 1, 'float32', 9);
    const xi = tf.tensor([3, -1, 4, 1, -5, 9, 2, -6, 5, 3, 5, -8], [3, 4], 'int32');
    type Op = { name: string; f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor };
    const ops: Op[] = [
      { name: 'sum [0,1,2]', f: (a) => tf.sum(a, [0, 1, 2]) },
      { name: 'sum [0,1] keepDims', f: (a) => tf.sum(a, [0, 1], true) },
      { name: 'sum [-4,-3]', f: (a) => tf.sum(a, [-4, -3]) },
      { name: 'sum 0', f: (a) => tf.sum(a, 0) },
      { name: 'sum [1,2] (middle axes)', f: (a) => tf.sum(a, [1, 2]) },
      { name: 'sum [0,2] (not one run: stock)', f: (a) => tf.sum(a, [0, 2]) },
      { name: 'sum [2,3] (to the last: stock)', f: (a) => tf.sum(a, [2, 3]) },
      { name: 'sum all', f: (a) => tf.sum(a) },
      { name: 'sum int32 [0]', f: (_, b) => tf.sum(b, 0) },
      { name: 'mean [0,1,2]', f: (a) => tf.mean(a, [0, 1, 2]) },
      { name: 'mean [0] keepDims', f: (a) => tf.mean(a, 0, true) },
      { name: 'mean [1,2] (middle axes: a global average pool)', f: (a) => tf.mean(a, [1, 2]) },
      { name: 'mean [1,2] keepDims', f: (a) => tf.mean(a, [1, 2], true) },
      { name: 'mean [1]', f: (a) => tf.mean(a, 1) },
      { name: 'mean int32 [0]', f: (_, b) => tf.mean(b, 0) },
      { name: 'clone', f: (a) => tf.clone(a) },
      { name: 'cast float32', f: (a) => tf.cast(a, 'float32') },
      { name: 'cast int32', f: (a) => tf.cast(a, 'int32') },
      { name: 'leakyRelu 0.2', f: (a) => tf.leakyRelu(a, 0.2) },
    ];
    const ref = ops.map((o) => tf.tidy(() => host(tf.cast(o.f(x, xi), 'float32'))));
    const hx = host(x);
    const hi = { v: Float32Array.from(xi.dataSync()), s: xi.shape };
    tf.dispose([x, xi]);
    await onWasm(async () => {
      const xw = dev(hx);
      const iw = tf.tensor(hi.v, hi.s, 'int32');
      await expectNoLeak(() => {
        ops.forEach((o, i) => {
          const y = o.f(xw, iw);
          const r = ref[i] as Host;
          expect(y.shape, o.name).toEqual(r.s);
          expect(relErr(Float32Array.from(y.dataSync() as Iterable<number>), r.v), o.name).toBeLessThanOrEqual(1e-6);
          y.dispose();
        });
      });
      // wide rows: tfjs-wasm's AvgPool corrupts the heap from 16384 channels on, so these pool split views (or fall back)
      for (const shape of [
        [10, 3, 6000],
        [9, 16411],
        [16, 143360],
      ]) {
        const w = tf.randomNormal(shape, 0, 1, 'float32', 2);
        const s = tf.sum(w, 0);
        const m = tf.mean(w, [0]);
        const ref = tf.tidy(() => tf.mul(tf.sum(tf.transpose(tf.reshape(w, [shape[0] as number, -1])), 1), 1));
        expect(relErr(tf.reshape(s, [-1]).dataSync(), ref.dataSync()), JSON.stringify(shape)).toBeLessThanOrEqual(1e-5);
        expect(relErr(tf.reshape(tf.mul(m, shape[0] as number), [-1]).dataSync(), ref.dataSync()), JSON.stringify(shape)).toBeLessThanOrEqual(1e-5);
        tf.dispose([w, s, m, ref]);
      }
      // a shared tensor outlives its source, and both free their memory
      const before = tf.memory().numBytes;
      const a = tf.add(xw, 1);
      const b = tf.clone(a);
      const c = tf.cast(b, 'float32');
      const expected = Array.from(a.dataSync());
      a.dispose();
      b.dispose();
      expect(Array.from(c.dataSync())).toEqual(expected);
      c.dispose();
      expect(tf.memory().numBytes).toBe(before);
      tf.dispose([xw, iw]);
    });
  });

  const elementwise: Array<{ name: string; f: (x: tf.Tensor) => tf.Tensor }> = [
    { name: 'leakyRelu 0.01', f: (x) => tf.leakyRelu(x, 0.01) },
    { name: 'leakyRelu 0.3', f: (x) => tf.leakyRelu(x, 0.3) },
    { name: 'relu6', f: (x) => tf.relu6(x) },
  ];

  it.each(elementwise)("$name: forgetless's gradient matches the stock one on cpu and on wasm", async ({ f }) => {
    // values on both sides of 0 and 6, and exactly 0 and 6
    const x = tf.concat([tf.mul(tf.randomNormal([200], 0, 1, 'float32', 4), 5), tf.tensor1d([0, 6, -0, 6.0000005, 5.9999995])]);
    const dy = tf.randomNormal(x.shape, 0, 1, 'float32', 5);
    const grad = (mode: GradientMode) => withGradientMode(mode, () => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), dy)))(x));
    const stock = grad('stock');
    await expectNoLeak(() => {
      const ours = grad('custom');
      expect(relErr(ours, stock)).toBe(0);
      ours.dispose();
    });
    const [hx, hdy, ref] = [host(x), host(dy), host(stock)];
    tf.dispose([x, dy, stock]);
    await onWasm(async () => {
      const [xw, dyw] = [dev(hx), dev(hdy)];
      await expectNoLeak(() => {
        const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), dyw)))(xw);
        expect(relErr(g.dataSync(), ref.v)).toBe(0);
        g.dispose();
      });
      tf.dispose([xw, dyw]);
    });
  });

  /** Output, moving statistics and gradients (x, γ, β) of a batch norm in training mode. */
  function bnRun(mode: GradientMode, x: tf.Tensor, dy: tf.Tensor, seed: number) {
    const layer = new BatchNorm({ momentum: 0.8, epsilon: 1e-3 });
    layer.build(x.shape.slice(1), new Rng(seed));
    const gamma = layer.params.gamma as tf.Variable;
    const beta = layer.params.beta as tf.Variable;
    tf.tidy(() => {
      gamma.assign(tf.randomNormal(gamma.shape, 1, 0.2, 'float32', seed));
      beta.assign(tf.randomNormal(beta.shape, 0, 0.2, 'float32', seed + 1));
    });
    const out = withGradientMode(mode, () =>
      tf.tidy(() => {
        let y: tf.Tensor | undefined;
        const g = tf.grads((xx, gg, bb) => {
          void gg;
          void bb;
          const out = layer.apply(xx as tf.Tensor, { training: true });
          y = tf.keep(tf.clone(out));
          return tf.sum(tf.mul(out, dy));
        })([x, gamma, beta]);
        return [...g, y as tf.Tensor, tf.clone(layer.state.moving_mean as tf.Variable), tf.clone(layer.state.moving_variance as tf.Variable)];
      }),
    );
    const result = out.map(host);
    tf.dispose(out);
    tf.dispose([...Object.values(layer.params), ...Object.values(layer.state)]);
    return result;
  }

  it('batch norm in training mode as one op (closed-form gradient) matches the stock autodiff on cpu and on wasm', async () => {
    for (const shape of [
      [4, 6, 5, 8],
      [16, 3],
      [2, 3, 3, 1],
    ]) {
      const x = tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 7), 3), 1.5);
      const dy = tf.randomNormal(shape, 0, 1, 'float32', 8);
      const stock = bnRun('stock', x, dy, 3);
      const names = ['∂x', '∂γ', '∂β', 'y', 'moving mean', 'moving variance'];
      await expectNoLeak(() => {
        const fused = bnRun('custom', x, dy, 3);
        fused.forEach((t, i) => expect(relErr(t.v, (stock[i] as Host).v), `${JSON.stringify(shape)} ${names[i]}`).toBeLessThanOrEqual(1e-5));
      });
      const [hx, hdy] = [host(x), host(dy)];
      tf.dispose([x, dy]);
      await onWasm(async () => {
        const [xw, dyw] = [dev(hx), dev(hdy)];
        await expectNoLeak(() => {
          const fused = withConvFormulation('auto', () => bnRun('auto', xw, dyw, 3));
          fused.forEach((t, i) => expect(relErr(t.v, (stock[i] as Host).v), `wasm ${JSON.stringify(shape)} ${names[i]}`).toBeLessThanOrEqual(1e-5));
        });
        tf.dispose([xw, dyw]);
      });
    }
  });

  it('fusedTrainingBatchNorm leaves no tensor behind outside a tidy (its μ and σ² are the caller’s to dispose)', async () => {
    const x = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 1);
    const g = tf.ones([5]);
    const b = tf.zeros([5]);
    await expectNoLeak(() => {
      const r = fusedTrainingBatchNorm(x, g, b, 1e-3, [0, 1]);
      tf.dispose([r.y, r.mean, r.variance]);
    });
    tf.dispose([x, g, b]);
  });

  it("paper 2's conv net: a step's gradients on wasm under every formulation agree with cpu's stock gradients", async () => {
    const model = paper2ConvNet({ width: 0.125, seed: 3 });
    const x = tf.randomUniform([6, 784], 0, 1, 'float32', 2);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 5], 'int32');
    const names = Object.keys(model.params);
    const grads = () =>
      tf.tidy(() => {
        const vars = Object.values(model.params);
        const { grads: g } = tf.variableGrads(() => softmaxCrossEntropy(model.logits(x, { training: true, rng: new Rng(0) }), y) as tf.Scalar, vars);
        return vars.map((v) => host(g[v.name] as tf.Tensor));
      });
    const state = () => Object.values(model.state ?? {}).map((v) => host(v as tf.Variable));
    const state0 = state();
    const ref = withGradientMode('stock', grads);
    const weights = Object.values(model.params).map(host);
    const [hx, hy] = [host(x), { v: Float32Array.from(y.dataSync()), s: y.shape }];
    tf.dispose([x, y]);
    model.dispose();
    await onWasm(async () => {
      const m = paper2ConvNet({ width: 0.125, seed: 3 });
      Object.values(m.params).forEach((v, i) => v.assign(dev(weights[i] as Host)));
      const xw = dev(hx);
      const yw = tf.tensor1d(hy.v, 'int32');
      for (const f of ['auto', 'im2col', 'forward-conv'] as ConvFormulation[]) {
        Object.values(m.state ?? {}).forEach((v, i) => (v as tf.Variable).assign(dev(state0[i] as Host)));
        const got = withConvFormulation(f, () =>
          tf.tidy(() => {
            const vars = Object.values(m.params);
            const { grads: g } = tf.variableGrads(() => softmaxCrossEntropy(m.logits(xw, { training: true, rng: new Rng(0) }), yw) as tf.Scalar, vars);
            return vars.map((v) => host(g[v.name] as tf.Tensor));
          }),
        );
        got.forEach((g, i) => {
          const r = ref[i] as Host;
          const name = names[i] as string;
          // a conv bias feeding a batch norm has a zero gradient (rounding noise): compared to its kernel's scale
          const scale = /^conv2d_\d+\/bias$/.test(name) ? Math.max(...Array.from((ref[i - 1] as Host).v, Math.abs)) : undefined;
          if (scale === undefined) expect(relErr(g.v, r.v), `${f} ${name}`).toBeLessThanOrEqual(1e-4);
          else expect(Math.max(...Array.from(g.v, (v, j) => Math.abs(v - (r.v[j] as number)))) / scale, `${f} ${name}`).toBeLessThanOrEqual(1e-4);
        });
      }
      tf.dispose([xw, yw]);
      m.dispose();
    });
  });
});
