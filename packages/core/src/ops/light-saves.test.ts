import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import '../gradients.js';
import { trainStep } from '../train/step.js';
import { setLightSaves, withLightSaves } from './light-saves.js';
import { netStepSetup, trainSteps } from './mobilenet-style.test-helpers.js';
import { onWasm } from './wasm.test-helpers.js';

/** Three Adam steps; the losses, every parameter after them, and the engine's clones in a fourth step. */
async function train(light: boolean): Promise<{ losses: number[]; params: Float32Array[]; clones: number; leaked: number }> {
  setLightSaves(light);
  try {
    const { model, x, y, ctx } = netStepSetup(tf.train.adam(0.01));
    const before = tf.memory().numTensors;
    const losses = await trainSteps(ctx, x, y, 3);
    // a fourth step counting the engine's own clones (an Identity kernel and a tape node each)
    const proto = Object.getPrototypeOf(tf.engine()) as { clone: (this: unknown, t: tf.Tensor) => tf.Tensor };
    const clone = proto.clone;
    let clones = 0;
    proto.clone = function (this: unknown, t: tf.Tensor) {
      clones++;
      return clone.call(this, t);
    };
    try {
      trainStep({ x, y }, ctx, []).dispose();
    } finally {
      proto.clone = clone;
    }
    // the optimizer's moments (two per parameter) are all the steps may leave
    const leaked = tf.memory().numTensors - before - 2 * Object.keys(model.params).length;
    const params = Object.values(model.params).map((p) => p.dataSync().slice() as Float32Array);
    tf.dispose([x, y]);
    ctx.optimizer.dispose();
    model.dispose();
    return { losses, params, clones, leaked };
  } finally {
    setLightSaves(true);
  }
}

const bitwise = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

describe('withLightSaves: tensors saved for the backward pass share memory instead of being cloned', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`trainStep on ${backend}: the same losses and parameters to the bit as tfjs's clones, no engine clone, no leak`, async () => {
      const run = async () => {
        const stock = await train(false);
        const light = await train(true);
        expect(light.losses).toEqual(stock.losses);
        expect(light.params.length).toBe(stock.params.length);
        light.params.forEach((p, i) => expect(bitwise(p, stock.params[i] as Float32Array)).toBe(true));
        // the stock step saves each conv's input and filter, the batch norms' inputs, … through Identity
        expect(stock.clones).toBeGreaterThan(10);
        expect(light.clones).toBe(0);
        expect(stock.leaked).toBe(0);
        expect(light.leaked).toBe(0);
      };
      if (backend === 'wasm') await onWasm(run);
      else await run();
    });
  }

  it('second-order gradients inside it are those outside it (the engine clones as tfjs does two gradients deep)', () => {
    const x = tf.tensor1d([0.3, -1.2, 2.5, 0.7]);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.sin(t), tf.mul(t, t)));
    const second = () => tf.grad((t: tf.Tensor) => tf.sum(tf.grad(f)(t)))(x);
    const outside = second();
    const inside = withLightSaves(second);
    expect(bitwise(inside.dataSync() as Float32Array, outside.dataSync() as Float32Array)).toBe(true);
    // d²/dt² of sin(t)·t², by hand: (2 − t²)·sin t + 4t·cos t
    const hand = Array.from(x.dataSync(), (t) => (2 - t * t) * Math.sin(t) + 4 * t * Math.cos(t));
    Array.from(outside.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(hand[i] as number, 4));
    tf.dispose([x, outside, inside]);
  });

  it("restores the engine's own clone afterwards, also when fn throws, and nests", () => {
    const engine = tf.engine() as unknown as { clone: unknown };
    const proto = Object.getPrototypeOf(engine).clone;
    expect(Object.hasOwn(engine, 'clone')).toBe(false);
    const nested = withLightSaves(() => withLightSaves(() => engine.clone !== proto) && engine.clone !== proto);
    expect(nested).toBe(true);
    expect(Object.hasOwn(engine, 'clone')).toBe(false);
    expect(() =>
      withLightSaves(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(engine.clone).toBe(proto);
    expect(Object.hasOwn(engine, 'clone')).toBe(false);
  });
});
