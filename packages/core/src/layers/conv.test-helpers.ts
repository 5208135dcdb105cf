// Test helper for the convolution layers: a forgetless layer against tfjs-layers' layer with the
// same weights and against a direct tfjs-core computation: output shapes (also with unknown spatial
// dims), outputs, gradients of a scalar loss with respect to the input and every weight (forgetless's
// gradients vs tfjs's stock ones on cpu, and vs tfjs-layers' layer), then on wasm: the same gradients,
// and a few SGD steps that lower the loss. Every computation is checked for leaked tensors.
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { type GradientMode, withGradientMode } from '../ops/gradients.js';
import { Rng } from '../rng.js';
import type { Layer, Shape } from './layer.js';

export interface ConvCase {
  /** A fresh forgetless layer. */
  make: () => Layer;
  /** A fresh tfjs-layers layer of the same configuration (its weights are copied to ours). */
  ref?: () => tfl.layers.Layer;
  /** The layer's function from its weights (by local name), with tfjs-core ops with stock gradients. */
  direct?: (x: tf.Tensor, w: Record<string, tf.Tensor>) => tf.Tensor;
  /** Per-example input shape. */
  shape: number[];
  /** Per-example input shapes with unknown dims, and the expected output shapes (default tfjs-layers'). */
  symbolic?: [Shape, Shape?][];
  /** tfjs has a stock gradient for this geometry (not for dilated convolutions). Default true. */
  stock?: boolean;
  /** Compare gradients with tfjs-layers' layer too (default true; its fused dilated conv2d has none). */
  refGradients?: boolean;
  seed?: number;
}

const dispose = (l: Layer) => tf.dispose(Object.values(l.params));

/** tfjs-layers' weights by local name (`conv1d_3/kernel` → `kernel`). */
function refWeights(r: tfl.layers.Layer): Record<string, tf.Variable> {
  return Object.fromEntries(r.weights.map((w) => [w.originalName.split('/').pop() as string, w.read() as tf.Variable]));
}

/** Loss ⟨layer(x), dy⟩ and its gradients with respect to x and the variables, in that order. */
function grads(mode: GradientMode, f: (x: tf.Tensor) => tf.Tensor, x: tf.Variable, vars: tf.Variable[], dy: tf.Tensor): Float32Array[] {
  return withGradientMode(mode, () =>
    tf.tidy(() => {
      const { grads: g } = tf.variableGrads(() => tf.sum(tf.mul(f(x), dy)) as tf.Scalar, [x, ...vars]);
      return [x, ...vars].map((v) => (g[v.name] as tf.Tensor).dataSync() as Float32Array);
    }),
  );
}

export async function checkConvLayer(c: ConvCase): Promise<void> {
  const rng = () => new Rng(c.seed ?? 1);
  for (const [sym, expected] of c.symbolic ?? []) {
    const l = c.make();
    const want = expected ?? (c.ref!().computeOutputShape([null, ...sym]) as (number | null)[]).slice(1);
    expect(l.build(sym, rng()), `output shape for [${sym}]`).toEqual(want);
    dispose(l);
  }
  const ours = c.make();
  const outShape = ours.build(c.shape, rng()) as number[];
  const seed = c.seed ?? 1;
  const x = tf.variable(tf.randomNormal([2, ...c.shape], 0, 1, 'float32', seed));
  const dy = tf.randomNormal([2, ...outShape], 0, 1, 'float32', seed + 1);
  const ref = c.ref?.();
  const names = Object.keys(ours.params);
  const vars = names.map((k) => ours.params[k] as tf.Variable);
  // random weights (a nonzero bias), the same in tfjs-layers' layer
  names.forEach((k, i) => tf.tidy(() => ours.params[k]?.assign(tf.randomNormal(ours.params[k]?.shape as number[], 0, 0.3, 'float32', seed + 10 + i))));
  let refVars: tf.Variable[] = [];
  if (ref) {
    tf.dispose(ref.apply(x) as tf.Tensor); // builds it
    const rw = refWeights(ref);
    expect(Object.keys(rw).sort()).toEqual([...names].sort());
    refVars = names.map((k) => rw[k] as tf.Variable);
    refVars.forEach((v, i) => v.assign(vars[i] as tf.Variable));
  }
  const run = (t: tf.Tensor) => ours.apply(t, { training: false });

  let stock: Float32Array[] = [];
  await expectNoLeak(() => {
    tf.tidy(() => {
      const y = run(x);
      expect(y.shape).toEqual([2, ...outShape]);
      if (ref) expect(relErr(y, ref.apply(x) as tf.Tensor), 'output vs tfjs-layers').toBeLessThanOrEqual(1e-5);
      if (c.direct) expect(relErr(y, c.direct(x, ours.params)), 'output vs direct').toBeLessThanOrEqual(1e-5);
    });
    const references: [string, Float32Array[]][] = [];
    if (c.stock !== false) references.push(['stock', grads('stock', run, x, vars, dy)]);
    if (ref && c.refGradients !== false) references.push(['tfjs-layers', grads('stock', (t) => ref.apply(t) as tf.Tensor, x, refVars, dy)]);
    if (c.direct) references.push(['direct', grads('stock', (t) => (c.direct as NonNullable<ConvCase['direct']>)(t, ours.params), x, vars, dy)]);
    const custom = grads('custom', run, x, vars, dy);
    stock = (references[0] as [string, Float32Array[]])[1];
    for (const [what, r] of references) {
      custom.forEach((g, i) => expect(relErr(g, r[i] as Float32Array), `gradient ${i} (${['x', ...names][i]}): custom vs ${what} on cpu`).toBeLessThanOrEqual(1e-5));
    }
  });

  const host = [x, dy, ...vars].map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
  tf.dispose([x, dy]);
  dispose(ours);
  ref?.dispose();
  await tf.setBackend('wasm');
  try {
    const l = c.make();
    l.build(c.shape, rng());
    const [xh, dyh, ...wh] = host;
    names.forEach((k, i) => tf.tidy(() => l.params[k]?.assign(tf.tensor(wh[i]?.v as Float32Array, wh[i]?.s))));
    const xw = tf.variable(tf.tensor(xh?.v as Float32Array, xh?.s));
    const dyw = tf.tensor(dyh?.v as Float32Array, dyh?.s);
    const lvars = names.map((k) => l.params[k] as tf.Variable);
    const fw = (t: tf.Tensor) => l.apply(t, { training: false });
    await expectNoLeak(() => {
      const onWasm = grads('auto', fw, xw, lvars, dyw);
      onWasm.forEach((g, i) => expect(relErr(g, stock[i] as Float32Array), `gradient ${i} (${['x', ...names][i]}) on wasm`).toBeLessThanOrEqual(1e-5));
    });
    // a few SGD steps lower ‖y − target‖²
    const target = tf.tidy(() => tf.mul(dyw, 0.5));
    const opt = tf.train.sgd(0.02);
    const losses: number[] = [];
    await expectNoLeak(() => {
      for (let step = 0; step < 5; step++) {
        const loss = opt.minimize(() => tf.mean(tf.square(tf.sub(fw(xw), target))) as tf.Scalar, true, lvars) as tf.Scalar;
        losses.push(loss.dataSync()[0] as number);
        loss.dispose();
      }
    });
    expect(losses[4]).toBeLessThan(losses[0] as number);
    opt.dispose();
    tf.dispose([xw, dyw, target]);
    dispose(l);
  } finally {
    await tf.setBackend('cpu');
  }
}

/** Wd[a·dh, b·dw] = W[a, b], zeros elsewhere (dims 0, 1), by selection matrices: stock gradients. */
export function dilateKernel(w: tf.Tensor, [dh, dw]: readonly [number, number]): tf.Tensor4D {
  const [kh, kw, c, m] = w.shape as [number, number, number, number];
  const sel = (k: number, d: number) => tf.transpose(tf.cast(tf.oneHot(tf.range(0, (k - 1) * d + 1, d, 'int32'), (k - 1) * d + 1), 'float32')) as tf.Tensor2D;
  const [eh, ew] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const rows = tf.matMul(sel(kh, dh), tf.reshape(w, [kh, kw * c * m]) as tf.Tensor2D);
  const t = tf.reshape(tf.transpose(tf.reshape(rows, [eh, kw, c * m]), [1, 0, 2]), [kw, eh * c * m]) as tf.Tensor2D;
  return tf.transpose(tf.reshape(tf.matMul(sel(kw, dw), t), [ew, eh, c, m]), [1, 0, 2, 3]) as tf.Tensor4D;
}
