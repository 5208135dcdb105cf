import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import '../gradients.js';
import { Rng } from '../rng.js';
import { trainStep } from '../train/step.js';
import { adamUpdateInOne } from './adam-wasm.js';
import { setInPlaceUpdates } from './in-place.js';
import { sgdUpdateInOne } from './sgd-wasm.js';
import { batchNorm } from '../layers/index.js';
import { netStepSetup, trainSteps } from './mobilenet-style.test-helpers.js';
import { onWasm } from './wasm.test-helpers.js';

const same = (a: tf.Tensor | Float32Array, b: tf.Tensor | Float32Array) => {
  const [x, y] = [a instanceof Float32Array ? a : a.dataSync(), b instanceof Float32Array ? b : b.dataSync()];
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
};

type Run = { losses: number[]; params: Float32Array[]; state: Float32Array[]; moved: number; created: number; leaked: number };

/**
 * Three training steps of `net()` under `optimizer`; the losses, every parameter and moving statistic
 * after them, how many variables' buffers a fourth step replaced (in place: none), the tensors that
 * step created, and what the steps left beyond the optimizer's own slots.
 */
async function train(inPlace: boolean, optimizer: () => tf.Optimizer, slotsPerParam: number): Promise<Run> {
  setInPlaceUpdates(inPlace);
  const { model, x, y, ctx } = netStepSetup(optimizer());
  const before = tf.memory().numTensors;
  const losses = await trainSteps(ctx, x, y, 3);
  const vars = [...Object.values(model.params), ...Object.values(model.state)];
  const ids = vars.map((v) => v.dataId);
  const id0 = tf.scalar(0).id;
  trainStep({ x, y }, ctx, []).dispose();
  const created = tf.scalar(0).id - id0 - 1;
  const moved = vars.filter((v, i) => v.dataId !== ids[i]).length;
  const leaked = tf.memory().numTensors - before - slotsPerParam * Object.keys(model.params).length - 2 /* the two scalars */;
  const params = Object.values(model.params).map((p) => p.dataSync().slice() as Float32Array);
  const state = Object.values(model.state).map((p) => p.dataSync().slice() as Float32Array);
  tf.dispose([x, y]);
  ctx.optimizer.dispose();
  model.dispose();
  return { losses, params, state, moved, created, leaked };
}

afterEach(() => setInPlaceUpdates(true));

describe('updates in place on wasm (in-place.ts)', () => {
  for (const [name, make, slots] of [
    ['SGD', () => tf.train.sgd(0.05), 0],
    ['Adam', () => tf.train.adam(0.01), 2],
  ] as const) {
    it(`${name} training steps of a MobileNet-style net: the same losses, parameters and moving statistics to the bit, no buffer replaced, fewer tensors, no leak`, async () => {
      await onWasm(async () => {
        const off = await train(false, make, slots);
        const on = await train(true, make, slots);
        expect(on.losses).toEqual(off.losses);
        expect(on.losses.every(Number.isFinite)).toBe(true);
        on.params.forEach((p, i) => expect(same(p, off.params[i] as Float32Array), `parameter ${i}`).toBe(true));
        on.state.forEach((p, i) => expect(same(p, off.state[i] as Float32Array), `moving statistic ${i}`).toBe(true));
        // with the option off every parameter and moving statistic gets a new buffer each step; on, none does
        expect(off.moved).toBe(off.params.length + off.state.length);
        expect(on.moved).toBe(0);
        // one tensor fewer per updated value (and Adam's moments): 10 parameters ×(1 or 3) and 6 moving statistics
        expect(off.created - on.created).toBe(off.params.length * (1 + slots) + off.state.length);
        expect(on.leaked).toBe(0);
        expect(off.leaked).toBe(0);
      });
    });
  }

  it('never writes a buffer another tensor shares: a clone or a reshape of a variable keeps its value, and the variable gets the update as tfjs gives it', async () => {
    await onWasm(() => {
      const shapes = [[3, 3, 4, 8], [8], [5, 7]] as const;
      const init = shapes.map((s, i) => tf.randomNormal([...s], 0, 1, 'float32', 40 + i));
      const grads = shapes.map((s, i) => tf.randomNormal([...s], 0, 3, 'float32', 50 + i));
      for (const opt of ['sgd', 'adam'] as const) {
        // a copy of its own each (a clone would share init's buffer), gone once the variable holds it
        const own = (t: tf.Tensor) => tf.tidy(() => tf.variable(tf.mul(t, 1)));
        const mine = init.map(own);
        const theirs = init.map(own);
        const make = () => (opt === 'sgd' ? tf.train.sgd(0.0123) : tf.train.adam(0.0037));
        const [a, b] = [make(), make()];
        const apply = (o: tf.Optimizer, vars: tf.Variable[]) => o.applyGradients(Object.fromEntries(vars.map((v, i) => [v.name, grads[i] as tf.Tensor])));
        // Adam's first step (tfjs's own) creates the moments
        if (opt === 'adam') {
          apply(a, mine);
          apply(b, theirs);
        }
        const held = [tf.clone(mine[0] as tf.Variable), tf.reshape(mine[1] as tf.Variable, [2, 4])];
        const heldBefore = held.map((t) => t.dataSync().slice() as Float32Array);
        const ids = mine.map((v) => v.dataId);
        const one = opt === 'sgd' ? sgdUpdateInOne : adamUpdateInOne;
        expect(one(a, mine, grads)).toBe(true);
        apply(b, theirs);
        mine.forEach((v, i) => expect(same(v, theirs[i] as tf.Variable), `${opt} variable ${i}`).toBe(true));
        held.forEach((t, i) => expect(same(t, heldBefore[i] as Float32Array), `${opt} held ${i}`).toBe(true));
        // the shared ones got new buffers, the third was updated in its own
        expect(mine.map((v, i) => v.dataId === ids[i])).toEqual([false, false, true]);
        // a variable listed twice (tfjs updates it twice in turn) is left to the optimizer's own step
        const v2 = own(init[2] as tf.Tensor);
        const o2 = make();
        expect(one(o2, [v2, v2], [grads[2] as tf.Tensor, grads[2] as tf.Tensor])).toBe(false);
        o2.dispose();
        expect(same(v2, init[2] as tf.Tensor)).toBe(true);
        v2.dispose();
        tf.dispose([...held, ...mine, ...theirs]);
        a.dispose();
        b.dispose();
      }
      tf.dispose([...init, ...grads]);
    });
  });

  it("a batch norm's moving statistics are written in place only when no other tensor holds them", async () => {
    await onWasm(() => {
      const run = (inPlace: boolean, hold: boolean) => {
        setInPlaceUpdates(inPlace);
        const bn = batchNorm({ momentum: 0.7 });
        bn.build([6, 6, 5], new Rng(1));
        const x = tf.randomNormal([3, 6, 6, 5], 2, 3, 'float32', 9);
        const mm = bn.state.moving_mean as tf.Variable;
        const mv = bn.state.moving_variance as tf.Variable;
        const held = hold ? tf.clone(mm) : undefined;
        const id = mm.dataId;
        for (let s = 0; s < 2; s++) tf.tidy(() => bn.apply(x, { training: true }));
        const out = { mean: mm.dataSync().slice() as Float32Array, variance: mv.dataSync().slice() as Float32Array, kept: mm.dataId === id, held: held?.dataSync().slice() };
        tf.dispose([x, ...(held ? [held] : [])]);
        for (const v of [...Object.values(bn.params), mm, mv]) v.dispose();
        return out;
      };
      const off = run(false, false);
      const on = run(true, false);
      const shared = run(true, true);
      expect(same(on.mean, off.mean) && same(on.variance, off.variance)).toBe(true);
      expect(same(shared.mean, off.mean) && same(shared.variance, off.variance)).toBe(true);
      expect([off.kept, on.kept, shared.kept]).toEqual([false, true, false]);
      // the clone holds the initial moving mean (zeros), not the updated one
      expect(Array.from(shared.held as Float32Array)).toEqual([0, 0, 0, 0, 0]);
      // and the statistics did move (momentum 0.7, inputs of mean 2)
      expect(Math.min(...on.mean)).toBeGreaterThan(0.5);
    });
  });
});
