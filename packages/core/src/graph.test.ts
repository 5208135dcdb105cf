import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import './gradients.js';
import { GraphModel } from './graph.js';
import { activation, conv2d, dense, flatten } from './layers/index.js';
import type { LayerCapture, MergeLayer, Shape } from './layers/layer.js';
import { Sequential } from './model.js';
import { ArraySource } from './data.js';
import { trainContinual } from './train/continual.js';

/** A hand-written sum of two inputs, standing in for the merge layers. */
function sum(name: string): MergeLayer {
  return {
    kind: 'add',
    name,
    merge: true,
    params: {},
    state: {},
    build: (shapes: readonly Shape[]) => [...(shapes[0] as Shape)],
    apply: (xs) => tf.add(xs[0] as tf.Tensor, xs[1] as tf.Tensor),
    config: () => ({ kind: 'add' }),
  };
}

/** x → a (relu) → b ; x → c ; out = (b + c) → head. */
function branchy(seed = 1): GraphModel {
  const a = dense(8, { activation: 'linear' });
  a.name = 'a';
  const act = activation('relu');
  act.name = 'a_relu';
  const b = dense(5);
  b.name = 'b';
  const c = dense(5);
  c.name = 'c';
  const head = dense(3);
  head.name = 'head';
  return new GraphModel({
    input: { name: 'x', shape: [6] },
    nodes: [
      { name: 'head', layer: head, inputs: ['add'] },
      { name: 'add', layer: sum('add'), inputs: ['b', 'c'] },
      { name: 'a', layer: a, inputs: ['x'] },
      { name: 'a_relu', layer: act, inputs: ['a'] },
      { name: 'b', layer: b, inputs: ['a_relu'] },
      { name: 'c', layer: c, inputs: ['x'] },
    ],
    output: 'head',
    seed,
  });
}

describe('GraphModel', () => {
  it('runs a DAG in topological order and equals the same computation written out', async () => {
    const m = branchy();
    expect(m.nodes.map((n) => n.name)).toEqual(['a', 'c', 'a_relu', 'b', 'add', 'head']);
    expect(Object.keys(m.params)).toEqual(['a/kernel', 'a/bias', 'c/kernel', 'c/bias', 'b/kernel', 'b/bias', 'head/kernel', 'head/bias']);
    const x = tf.randomNormal([4, 6], 0, 1, 'float32', 3);
    await expectNoLeak(() => {
      const got = tf.tidy(() => m.logits(x));
      const want = tf.tidy(() => {
        const p = m.params;
        const lin = (h: tf.Tensor, n: string) => tf.add(tf.matMul(h as tf.Tensor2D, p[`${n}/kernel`] as tf.Tensor2D), p[`${n}/bias`] as tf.Tensor);
        return lin(tf.add(lin(tf.relu(lin(x, 'a')), 'b'), lin(x, 'c')), 'head');
      });
      expect(relErr(got, want)).toBeLessThan(1e-6);
      tf.dispose([got, want]);
    });
    x.dispose();
    m.dispose();
  });

  it('captures input, pre-activation and output (through activation layers; probabilities at the head)', () => {
    const m = branchy();
    const x = tf.randomNormal([2, 6], 0, 1, 'float32', 4);
    tf.tidy(() => {
      const capture: Record<string, LayerCapture> = {};
      const z = m.logits(x, { capture });
      const a = capture.a as LayerCapture;
      expect(relErr(a.output, tf.relu(a.preActivation))).toBe(0);
      expect(capture.c?.input).toBe(m.reshapeInput(x));
      expect(relErr((capture.head as LayerCapture).output, tf.softmax(z))).toBeLessThan(1e-7);
    });
    x.dispose();
    m.dispose();
  });

  it('a chain graph equals the Sequential with the same weights', () => {
    const seq = new Sequential([conv2d(3, 3, { padding: 'same', activation: 'relu' }), flatten(), dense(4)], { inputShape: [5, 5, 2], seed: 2 });
    const c = conv2d(3, 3, { padding: 'same', activation: 'relu' });
    c.name = 'conv2d_0';
    const f = flatten();
    f.name = 'flatten_0';
    const d = dense(4);
    d.name = 'dense_0';
    const g = new GraphModel({
      input: { name: 'in', shape: [5, 5, 2] },
      nodes: [
        { name: 'c', layer: c, inputs: ['in'] },
        { name: 'f', layer: f, inputs: ['c'] },
        { name: 'd', layer: d, inputs: ['f'] },
      ],
      output: 'd',
    });
    const w = seq.getWeights();
    g.setWeights(w);
    const x = tf.randomNormal([3, 50], 0, 1, 'float32', 5);
    const a = seq.logits(x);
    const b = g.logits(x);
    expect(relErr(b, a)).toBeLessThan(1e-6);
    tf.dispose([x, a, b, ...Object.values(w)]);
    seq.dispose();
    g.dispose();
  });

  it('reports every graph problem in one error', () => {
    const d1 = dense(2);
    d1.name = 'd1';
    const d2 = dense(2);
    d2.name = 'd2';
    expect(
      () =>
        new GraphModel({
          input: { name: 'x', shape: [3] },
          nodes: [
            { name: 'd1', layer: d1, inputs: ['nope'] },
            { name: 'd2', layer: d2, inputs: ['gone'] },
          ],
          output: 'out',
        }),
    ).toThrow(/3 problems[\s\S]*'nope'[\s\S]*'gone'[\s\S]*'out'/);
    const d3 = dense(2);
    d3.name = 'd3';
    expect(
      () =>
        new GraphModel({
          input: { name: 'x', shape: [3] },
          nodes: [
            { name: 'd3', layer: d3, inputs: ['d3b'] },
            { name: 'd3b', layer: dense(2), inputs: ['d3'] },
          ],
          output: 'd3',
        }),
    ).toThrow(/cycle/);
  });

  it('shares a layer called twice, and autodiff sums its gradient over both calls', () => {
    const shared = dense(4);
    shared.name = 'shared';
    const m = new GraphModel({
      input: { name: 'x', shape: [4] },
      nodes: [
        { name: 'shared', layer: shared, inputs: ['x'] },
        { name: 'shared#1', layer: shared, inputs: ['shared'] },
      ],
      output: 'shared#1',
    });
    expect([...m.sharedLayers]).toEqual(['shared']);
    expect(Object.keys(m.params)).toEqual(['shared/kernel', 'shared/bias']);
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 6);
    const W = m.params['shared/kernel'] as tf.Variable;
    const bias = m.params['shared/bias'] as tf.Variable;
    const g = tf.tidy(() => tf.grad((w: tf.Tensor) => tf.sum(tf.add(tf.matMul(tf.add(tf.matMul(x, w as tf.Tensor2D), bias), w as tf.Tensor2D), bias)))(W));
    const { grads } = tf.variableGrads(() => tf.sum(m.logits(x)) as tf.Scalar, [W]);
    expect(relErr(grads[W.name] as tf.Tensor, g)).toBeLessThan(1e-5);
    tf.dispose([x, g, ...Object.values(grads)]);
    m.dispose();
  });

  it('accepts inputs of any spatial size when declared null, with per-input layer shapes', () => {
    const c = conv2d(2, 3, { padding: 'same' });
    c.name = 'conv';
    const c2 = conv2d(1, 3, { stride: 2 });
    c2.name = 'conv2';
    const m = new GraphModel({
      input: { name: 'img', shape: [null, null, 3] },
      nodes: [
        { name: 'conv', layer: c, inputs: ['img'] },
        { name: 'conv2', layer: c2, inputs: ['conv'] },
      ],
      output: 'conv2',
    });
    expect(m.outputShape).toEqual([null, null, 1]);
    expect(m.layerShapes([9, 7, 3]).conv2).toEqual({ input: [9, 7, 2], output: [4, 3, 1] });
    const y = tf.tidy(() => m.logits(tf.zeros([2, 11, 6, 3])));
    expect(y.shape).toEqual([2, 5, 2, 1]);
    y.dispose();
    expect(() => m.layerShapes()).toThrow(/any size/);
    expect(() => m.logits(tf.zeros([1, 8, 8, 1]))).toThrow(/\[8,8,1\] but the model takes \[any,any,3\]/);
    m.dispose();
  });

  it('frozen layers keep their weights through training and leave params', async () => {
    const m = branchy(3);
    m.setTrainable(['a', 'c*'], false);
    expect(Object.keys(m.params)).toEqual(['b/kernel', 'b/bias', 'head/kernel', 'head/bias']);
    expect(Object.keys(m.state)).toContain('a/kernel');
    expect(() => m.setTrainable(['zzz'], false)).toThrow(/no layer is named 'zzz'/);
    expect(m.setTrainable(['add'], false), 'a parameter-free merge layer has nothing to freeze').toEqual([]);
    const before = tf.clone(m.state['a/kernel'] as tf.Tensor);
    const headBefore = tf.clone(m.params['head/kernel'] as tf.Tensor);
    const n = 64;
    const x = Float32Array.from({ length: n * 6 }, (_, i) => Math.sin(i));
    const y = Int32Array.from({ length: n }, (_, i) => i % 3);
    const src = new ArraySource({ x, y, exampleShape: [6], numClasses: 3 });
    const opt = tf.train.sgd(0.1);
    await expectNoLeak(() => trainContinual(m, [{ name: 't', train: src, test: src }], { optimizer: opt, batchSize: 16 }));
    expect(relErr(m.state['a/kernel'] as tf.Tensor, before)).toBe(0);
    expect(relErr(m.params['head/kernel'] as tf.Tensor, headBefore)).toBeGreaterThan(0);
    opt.dispose();
    tf.dispose([before, headBefore]);
    m.dispose();
  });
});
