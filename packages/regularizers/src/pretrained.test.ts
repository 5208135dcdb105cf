// Consolidating a model as it is (a pretrained model): `consolidate` runs the plugins' task end on
// the old data without a training step, so EWC anchors at the loaded weights with importances
// computed there, and fine-tuning on new data then keeps the old task better than plain training.
import * as tf from '@tensorflow/tfjs-core';
import { cloneParams, consolidate, disposeParams, evaluate, trainContinual } from '@forgetless/core';
import { fisherDiagonal } from '@forgetless/importances';
import { describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { smallModel, smallTasks } from '../test/fixtures.js';
import { ewc } from './ewc.js';
import { stabilizedEwc } from './stabilized.js';

const tasks = smallTasks(2);

describe('consolidating a pretrained model', () => {
  it('anchors at the weights as loaded, with the importances computed on the old data (no step taken)', async () => {
    const model = smallModel(2);
    const before = cloneParams(model.params);
    const task = tasks[0] as (typeof tasks)[number];
    const plugin = ewc({ lambda: 5, importance: { method: 'fisher', limit: 60 } });
    const tensorsBefore = tf.memory().numTensors;
    await consolidate(model, task, [plugin]);
    const term = plugin.terms[0] as NonNullable<(typeof plugin.terms)[0]>;
    for (const [n, v] of Object.entries(before)) {
      expect(relErr(model.params[n] as tf.Tensor, v), `${n} unchanged`).toBe(0);
      expect(relErr(term.anchor[n] as tf.Tensor, v), `${n} anchor`).toBe(0);
    }
    const fisher = await fisherDiagonal(model, task.validation ?? task.train, { limit: 60 });
    for (const n of Object.keys(fisher)) {
      expect(relErr(term.importance?.[n] as tf.Tensor, fisher[n] as tf.Tensor), n).toBeLessThan(1e-6);
      expect(tf.tidy(() => relErr(term.coefficient[n] as tf.Tensor, tf.mul(fisher[n] as tf.Tensor, 5)))).toBeLessThan(1e-6);
    }
    disposeParams(fisher);
    plugin.dispose();
    expect(tf.memory().numTensors, 'consolidate leaves nothing but the plugin state, which dispose frees').toBe(tensorsBefore);
    disposeParams(before);
    model.dispose();
  });

  it('fine-tuning with EWC after consolidate keeps the old task better than plain fine-tuning', async () => {
    const [a, b] = tasks as [(typeof tasks)[number], (typeof tasks)[number]];
    const pre = smallModel(3);
    const opt = tf.train.adam(0.01);
    await trainContinual(pre, [a], { optimizer: opt, iterations: 60, batchSize: 20, seed: 1 });
    opt.dispose();
    const weights = pre.getWeights();
    const oldAcc = (await evaluate(pre, a.test)).accuracy;
    const finetune = async (lambda: number | undefined) => {
      const m = smallModel(3);
      m.setWeights(weights);
      const plugins = lambda === undefined ? [] : [stabilizedEwc({ lambda, importance: { method: 'fisher', limit: 200 } })];
      if (plugins.length) await consolidate(m, a, plugins, { learningRate: 0.05 });
      const sgd = tf.train.sgd(0.05);
      await trainContinual(m, [b], { optimizer: sgd, iterations: 80, batchSize: 20, seed: 2, plugins, learningRate: 0.05 });
      sgd.dispose();
      const acc = (await evaluate(m, a.test)).accuracy;
      plugins.forEach((p) => p.dispose());
      m.dispose();
      return acc;
    };
    const plain = await finetune(undefined);
    const kept = await finetune(200);
    expect(oldAcc).toBeGreaterThan(0.5);
    expect(kept).toBeGreaterThan(plain);
    disposeParams(weights);
    pre.dispose();
  });
});
