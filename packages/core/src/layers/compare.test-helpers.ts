// Test helper: a forgetless layer against a reference (tfjs-layers' own layer, or a tfjs op) on the
// same inputs: shapes from build, outputs, gradients (cpu, and forgetless's on wasm), tensor leaks.
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';
import { expectNoLeak, relErr } from '../../../../test/helpers.js';
import '../gradients.js';
import { withGradientMode } from '../ops/gradients.js';
import { Rng } from '../rng.js';
import { type Layer, type MergeLayer, type Shape, isMergeLayer } from './layer.js';

export interface Reference {
  /** The reference output for batched inputs. */
  run: (xs: tf.Tensor[]) => tf.Tensor;
  /** The reference per-example output shape for per-example input shapes (nulls allowed). */
  shape?: (shapes: Shape[]) => Shape;
}

/** tfjs-layers' layer as a reference (its `apply` on concrete tensors, its `computeOutputShape`). */
export function tfjsLayer(l: tfl.layers.Layer): Reference {
  return {
    run: (xs) => l.apply(xs.length === 1 ? (xs[0] as tf.Tensor) : xs) as tf.Tensor,
    shape: (shapes) => {
      const batched = shapes.map((s) => [null, ...s]);
      const out = l.computeOutputShape(batched.length === 1 ? (batched[0] as (number | null)[]) : batched) as (number | null)[];
      return out.slice(1);
    },
  };
}

export interface CompareCase {
  ours: Layer | MergeLayer;
  ref: Reference;
  /** Per-example input shapes. */
  shapes: number[][];
  /** Per-example input shapes with unknown dims, whose output shapes are compared too. */
  symbolic?: Shape[][];
  /** Inputs pass through relu first (ties at 0 for max pooling). */
  relu?: boolean;
  /** Also run forgetless's gradient on wasm against cpu's stock one (default true). */
  wasm?: boolean;
  seed?: number;
  /**
   * The reference gradient: tfjs's stock one through `ref.run` (default), or, for a reference linear
   * in its one input whose stock gradient fails, ∂⟨f(x), dy⟩/∂x[n, p] = ⟨f(e_p), dy[n]⟩ from its
   * forward pass on the basis vectors e_p.
   */
  refGrad?: 'stock' | 'basis';
}

const build = (l: Layer | MergeLayer, shapes: Shape[]) => (isMergeLayer(l) ? l.build(shapes, new Rng(0)) : l.build(shapes[0] as Shape, new Rng(0)));
const call = (l: Layer | MergeLayer, xs: tf.Tensor[]) => (isMergeLayer(l) ? l.apply(xs, { training: false }) : l.apply(xs[0] as tf.Tensor, { training: false }));

/** ∂⟨f(xs), dy⟩/∂xs as flat arrays, on the active backend. */
function grads(f: (xs: tf.Tensor[]) => tf.Tensor, xs: Float32Array[], shapes: number[][], dy: Float32Array, relu: boolean): Float32Array[] {
  return tf.tidy(() => {
    const ts = xs.map((x, i) => tf.tensor(x, [2, ...(shapes[i] as number[])]));
    const g = tf.grads((...args: tf.Tensor[]) => {
      const y = f(relu ? args.map((a) => tf.relu(a)) : args);
      return tf.sum(tf.mul(y, tf.tensor(dy, y.shape)));
    })(ts);
    return g.map((t) => t.dataSync() as Float32Array);
  });
}

function basisGrads(f: (xs: tf.Tensor[]) => tf.Tensor, shape: number[], dy: Float32Array): Float32Array[] {
  return tf.tidy(() => {
    const p = shape.reduce((a, b) => a * b, 1);
    const fe = f([tf.reshape(tf.eye(p), [p, ...shape])]); // [P, ...out]
    const d = tf.reshape(tf.tensor(dy), [2, -1]);
    return [tf.matMul(d, tf.reshape(fe, [p, -1]), false, true).dataSync() as Float32Array];
  });
}

export async function compareLayer(c: CompareCase): Promise<void> {
  const { ours, ref, shapes } = c;
  const relu = c.relu ?? false;
  for (const sym of c.symbolic ?? []) {
    if (ref.shape) expect(build(ours, sym), `output shape for ${JSON.stringify(sym)}`).toEqual(ref.shape(sym));
  }
  const outShape = build(ours, shapes);
  if (ref.shape) expect(outShape).toEqual(ref.shape(shapes));

  const seed = c.seed ?? 1;
  const xs = tf.tidy(() => shapes.map((s, i) => tf.randomNormal([2, ...s], 0, 1, 'float32', seed + i).dataSync() as Float32Array));
  const dy = tf.tidy(() => tf.randomNormal([2, ...(outShape as number[])], 0, 1, 'float32', seed + 100).dataSync() as Float32Array);

  await expectNoLeak(async () => {
    tf.tidy(() => {
      const ts = xs.map((x, i) => tf.tensor(x, [2, ...(shapes[i] as number[])]));
      const inputs = relu ? ts.map((t) => tf.relu(t)) : ts;
      const y = call(ours, inputs);
      const want = ref.run(inputs);
      expect(y.shape).toEqual(want.shape);
      expect(y.shape.slice(1)).toEqual(outShape);
      expect(relErr(y, want), 'output').toBeLessThanOrEqual(1e-6);
    });
    const stock = c.refGrad === 'basis' ? basisGrads(ref.run, shapes[0] as number[], dy) : withGradientMode('stock', () => grads(ref.run, xs, shapes, dy, relu));
    const custom = withGradientMode('custom', () => grads((ts) => call(ours, ts), xs, shapes, dy, relu));
    stock.forEach((g, i) => expect(relErr(custom[i] as Float32Array, g), `gradient of input ${i} on cpu`).toBeLessThanOrEqual(1e-6));
    if (c.wasm === false) return;
    await tf.setBackend('wasm');
    try {
      const onWasm = grads((ts) => call(ours, ts), xs, shapes, dy, relu);
      stock.forEach((g, i) => expect(relErr(onWasm[i] as Float32Array, g), `gradient of input ${i} on wasm`).toBeLessThanOrEqual(1e-5));
    } finally {
      await tf.setBackend('cpu');
    }
  });
}
