import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { compareLayer, tfjsLayer } from './compare.test-helpers.js';
import type { Shape } from './layer.js';
import { Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract } from './merge.js';

const rng = new Rng(0);

/** Inputs aligned at their last axis and broadcast to one shape by adding zeros. */
function broadcast(xs: tf.Tensor[]): tf.Tensor[] {
  const rank = Math.max(...xs.map((x) => x.rank));
  const aligned = xs.map((x) => tf.reshape(x, [x.shape[0] as number, ...Array<number>(rank - x.rank).fill(1), ...x.shape.slice(1)]));
  const zeros = tf.zeros(aligned[0]?.shape.map((_, i) => Math.max(...aligned.map((x) => x.shape[i] as number))) as number[]);
  return aligned.map((x) => tf.add(x, zeros));
}

const elementwise = [
  ['add', () => new Add(), () => tfl.layers.add({})],
  ['multiply', () => new Multiply(), () => tfl.layers.multiply({})],
  ['average', () => new Average(), () => tfl.layers.average({})],
  ['maximum', () => new Maximum(), () => tfl.layers.maximum({})],
  ['minimum', () => new Minimum(), () => tfl.layers.minimum({})],
] as const;

describe('elementwise merges', () => {
  const cases: { shapes: number[][]; symbolic?: Shape[][] }[] = [
    {
      shapes: [
        [4, 3],
        [4, 3],
      ],
      symbolic: [
        [
          [null, 3],
          [null, 3],
        ],
        [
          [4, 3],
          [null, 3],
        ],
      ],
    },
    {
      shapes: [
        [3, 4, 2],
        [3, 4, 2],
        [3, 4, 2],
      ],
    },
    // Keras broadcasting: size-1 dims, and lower-rank inputs aligned at the last axis
    {
      shapes: [
        [3, 1, 2],
        [3, 4, 2],
      ],
      symbolic: [
        [
          [null, 1, 2],
          [3, 4, 2],
        ],
      ],
    },
    {
      shapes: [
        [4, 2],
        [3, 4, 2],
      ],
    },
  ];
  for (const [kind, ours, theirs] of elementwise) {
    it.each(cases)(`${kind} equals tfjs-layers: %o`, async (c) => {
      const ref = tfjsLayer(theirs());
      // tfjs 4.22's Maximum/Minimum gradients ignore broadcasting: the reference gets inputs broadcast by Add
      const broadcastFirst = (kind === 'maximum' || kind === 'minimum') && c.shapes.some((s) => String(s) !== String(c.shapes[0]));
      const run = broadcastFirst ? (xs: tf.Tensor[]) => ref.run(broadcast(xs)) : ref.run;
      await compareLayer({ ours: ours(), ref: { ...ref, run }, shapes: c.shapes, ...(c.symbolic ? { symbolic: c.symbolic } : {}) });
    });
  }

  it('subtract equals x₁ − x₂ and takes exactly two inputs', async () => {
    const ref = { run: (xs: tf.Tensor[]) => tf.sub(xs[0] as tf.Tensor, xs[1] as tf.Tensor), shape: (s: Shape[]) => [...(s[0] as Shape)] };
    await compareLayer({
      ours: new Subtract(),
      ref,
      shapes: [
        [4, 3],
        [4, 3],
      ],
      symbolic: [
        [
          [null, 3],
          [null, 3],
        ],
      ],
    });
    expect(() => new Subtract().build([[3], [3], [3]], rng)).toThrow(/subtract: subtract needs 2 inputs, got 3 \(shapes \[3\], \[3\], \[3\]\)/);
  });

  it('reject mismatched shapes naming the layer and the shapes', () => {
    const add = new Add();
    add.name = 'add_3';
    expect(() =>
      add.build(
        [
          [4, 3],
          [4, 5],
        ],
        rng,
      ),
    ).toThrow(/^add_3: cannot add inputs of shapes \[4, 3\], \[4, 5\]/);
    expect(() =>
      new Multiply().build(
        [
          [null, 3],
          [2, 4],
        ],
        rng,
      ),
    ).toThrow(/multiply: cannot multiply inputs of shapes \[any, 3\], \[2, 4\]/);
    expect(() => new Maximum().build([[3]], rng)).toThrow(/needs at least 2 inputs, got 1/);
  });
});

describe('Concatenate', () => {
  const cases: { axis?: number; shapes: number[][]; symbolic?: Shape[][] }[] = [
    {
      shapes: [
        [4, 3],
        [4, 5],
      ],
      symbolic: [
        [
          [null, 3],
          [null, 5],
        ],
        [
          [4, null],
          [4, 5],
        ],
      ],
    },
    {
      axis: 1,
      shapes: [
        [2, 3, 2],
        [4, 3, 2],
        [1, 3, 2],
      ],
      symbolic: [
        [
          [null, 3, 2],
          [4, 3, 2],
          [1, 3, 2],
        ],
      ],
    },
    {
      axis: -2,
      shapes: [
        [3, 2, 5],
        [3, 4, 5],
      ],
    },
    {
      axis: 3,
      shapes: [
        [3, 2, 1],
        [3, 2, 4],
      ],
      symbolic: [
        [
          [null, null, 1],
          [null, null, 4],
        ],
      ],
    },
  ];
  it.each(cases)('equals tfjs-layers: %o', async (c) => {
    const ours = new Concatenate(c.axis === undefined ? {} : { axis: c.axis });
    const ref = tfjsLayer(tfl.layers.concatenate(c.axis === undefined ? {} : { axis: c.axis }));
    // tfjs-layers concatenates along the last axis for every negative axis; Keras (and forgetless) along rank + axis
    if (c.axis !== undefined && c.axis < -1) ref.run = (xs) => tf.concat(xs, c.axis);
    await compareLayer({ ours, ref, shapes: c.shapes, ...(c.symbolic ? { symbolic: c.symbolic } : {}) });
  });

  it('takes known dims where others are unknown, and rejects mismatches naming the shapes', () => {
    expect(
      new Concatenate().build(
        [
          [null, 3],
          [4, 5],
        ],
        rng,
      ),
    ).toEqual([4, 8]);
    const cat = new Concatenate({ axis: 1 });
    cat.name = 'cat';
    expect(() =>
      cat.build(
        [
          [2, 3],
          [2, 4],
        ],
        rng,
      ),
    ).toThrow(/^cat: cannot concatenate inputs of shapes \[2, 3\], \[2, 4\] along axis 1: they differ at axis 2/);
    expect(() => cat.build([[2, 3], [2]], rng)).toThrow(/different ranks, shapes \[2, 3\], \[2\]/);
    expect(() =>
      new Concatenate({ axis: 3 }).build(
        [
          [2, 3],
          [2, 3],
        ],
        rng,
      ),
    ).toThrow(/axis 3 is out of range for per-example rank 2/);
    expect(() => new Concatenate({ axis: 0 })).toThrow(/0 is the batch axis/);
  });
});

describe('in a graph model with unknown spatial dims', () => {
  it('builds shapes with nulls and runs inputs of two sizes', async () => {
    const { GraphModel } = await import('../graph.js');
    const { GlobalPool } = await import('./pooling.js');
    const { Pool2d } = await import('./simple.js');
    const { Cropping2d, UpSampling2d, ZeroPadding2d } = await import('./shape.js');
    const model = new GraphModel({
      input: { name: 'x', shape: [null, null, 3] },
      nodes: [
        { name: 'pad', layer: new ZeroPadding2d({ padding: 1 }), inputs: ['x'] },
        { name: 'max', layer: new Pool2d('maxPool2d', { poolSize: [2, 1], stride: [2, 1] }), inputs: ['pad'] },
        { name: 'avg', layer: new Pool2d('avgPool2d', { poolSize: [2, 1], stride: [2, 1] }), inputs: ['pad'] },
        { name: 'sum', layer: new Add(), inputs: ['max', 'avg'] },
        { name: 'up', layer: new UpSampling2d({ size: [2, 1] }), inputs: ['sum'] },
        {
          name: 'crop',
          layer: new Cropping2d({
            cropping: [
              [1, 1],
              [1, 1],
            ],
          }),
          inputs: ['up'],
        },
        { name: 'cat', layer: new Concatenate(), inputs: ['crop', 'x'] },
        { name: 'gap', layer: new GlobalPool('globalAvgPool'), inputs: ['cat'] },
      ],
      output: 'gap',
    });
    expect(model.nodeShapes.get('sum')).toEqual([null, null, 3]);
    expect(model.nodeShapes.get('cat')).toEqual([null, null, 6]);
    expect(model.outputShape).toEqual([6]);
    const before = tf.memory().numTensors;
    for (const hw of [
      [4, 6],
      [6, 5],
    ]) {
      const y = tf.tidy(() => model.logits(tf.ones([2, ...(hw as number[]), 3])));
      expect(y.shape).toEqual([2, 6]);
      y.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
