/**
 * The per-example autograd loop: one forward and one backward pass per example. It is the
 * reference every fast path is tested against, and the fallback for layers without a fast path.
 * Cost: n backward passes per batch, against one for `perExampleSums`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Model, type ParamMap, ensureOwnGradients, withLightSaves } from '@forgetless/core';
import { forwardLogits } from './logits.js';
import type { ExampleObjective, ParamSums, SumsRequest } from './per-example.js';

/** Same contract as `perExampleSums`; `params` restricts the sums to some parameters (default all). */
export function loopSums(model: Model, x: tf.Tensor, objective: ExampleObjective, request: SumsRequest, options: { params?: readonly string[] } = {}): ParamSums {
  if (!request.square && !request.abs) throw new Error('loopSums: ask for square and/or abs sums');
  ensureOwnGradients();
  const names = options.params ?? Object.keys(model.params);
  const vars = names.map((name) => {
    const v = model.params[name];
    if (!v) throw new Error(`loopSums: '${name}' is not a parameter of the model`);
    return v;
  });
  const n = x.shape[0] as number;
  const w = request.weights?.dataSync();
  if (w && w.length !== n) throw new Error(`loopSums: weights must have shape [${n}], got [${request.weights?.shape}]`);
  const zeros = () => Object.fromEntries(names.map((name, i) => [name, tf.zerosLike(vars[i] as tf.Variable)])) as ParamMap;
  let square = request.square ? zeros() : undefined;
  let abs = request.abs ? zeros() : undefined;
  for (let i = 0; i < n; i++) {
    const next = tf.tidy(() => {
      const xi = tf.slice(x, i, 1);
      const { value, grads } = withLightSaves(() => tf.variableGrads(() => tf.sum(objective(forwardLogits(model, xi), { begin: i, size: 1 })) as tf.Scalar, vars));
      value.dispose();
      const sq: ParamMap = {};
      const ab: ParamMap = {};
      names.forEach((name, j) => {
        const v = vars[j] as tf.Variable;
        const g = grads[v.name] ?? tf.zerosLike(v);
        if (square) sq[name] = tf.add(square[name] as tf.Tensor, w ? tf.mul(tf.square(g), w[i] as number) : tf.square(g));
        if (abs) ab[name] = tf.add(abs[name] as tf.Tensor, tf.abs(g));
      });
      return { sq, ab };
    });
    if (square) {
      tf.dispose(Object.values(square));
      square = next.sq;
    }
    if (abs) {
      tf.dispose(Object.values(abs));
      abs = next.ab;
    }
  }
  return { ...(square ? { square } : {}), ...(abs ? { abs } : {}) };
}
