/**
 * Parameter maps: the one name → tensor type for parameters, importances, anchors, masks and
 * gradients everywhere in forgetless. Names are the model's parameter names (`dense_0/kernel`).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Parameter name → tensor. Iteration order is the model's parameter order. */
export type ParamMap<T extends tf.Tensor = tf.Tensor> = Record<string, T>;

/** Applies `fn` to every entry; returns a new map (same names, same order). */
export function mapParams<T extends tf.Tensor, U extends tf.Tensor>(map: ParamMap<T>, fn: (value: T, name: string) => U): ParamMap<U> {
  const out: ParamMap<U> = {};
  for (const name of Object.keys(map)) out[name] = fn(map[name] as T, name);
  return out;
}

/**
 * Combines two maps entry by entry. Throws, naming the parameter, if a name is missing from `b` or
 * the shapes disagree.
 */
export function zipParams<U extends tf.Tensor>(a: ParamMap, b: ParamMap, fn: (x: tf.Tensor, y: tf.Tensor, name: string) => U, what = 'zipParams'): ParamMap<U> {
  for (const name of Object.keys(a)) {
    const y = b[name];
    if (y === undefined) throw new Error(`${what}: parameter '${name}' is missing from the second map`);
    assertSameShape(a[name] as tf.Tensor, y, name, what);
  }
  const out: ParamMap<U> = {};
  for (const name of Object.keys(a)) out[name] = fn(a[name] as tf.Tensor, b[name] as tf.Tensor, name);
  return out;
}

/** a + b, per parameter. */
export function addParams(a: ParamMap, b: ParamMap): ParamMap {
  return zipParams(a, b, (x, y) => tf.add(x, y), 'addParams');
}

/** s · a, per parameter. */
export function scaleParams(a: ParamMap, s: number): ParamMap {
  return mapParams(a, (x) => tf.mul(x, s));
}

/** Copies of every tensor (e.g. to snapshot variables as an anchor θ*). */
export function cloneParams(a: ParamMap): ParamMap {
  return mapParams(a, (x) => tf.clone(x));
}

/** A map of tensors shaped like `like`, filled with `value`. */
export function fillParams(like: ParamMap, value: number): ParamMap {
  return mapParams(like, (x) => tf.fill(x.shape, value, 'float32'));
}

/** Disposes every tensor of the map (variables included). */
export function disposeParams(map: ParamMap | undefined): void {
  if (!map) return;
  for (const t of Object.values(map)) t.dispose();
}

/** Marks every tensor of the map to survive the enclosing `tf.tidy`. */
export function keepParams<T extends ParamMap>(map: T): T {
  for (const t of Object.values(map)) tf.keep(t);
  return map;
}

/** Number of scalar entries over all parameters. */
export function countParams(map: ParamMap): number {
  let n = 0;
  for (const t of Object.values(map)) n += t.size;
  return n;
}

/** Sum of Σ over every entry of every parameter, as a scalar tensor. */
export function sumParams(map: ParamMap): tf.Scalar {
  return tf.tidy(() => tf.addN(Object.values(map).map((t) => tf.sum(t))) as tf.Scalar);
}

/** Throws a clear error naming the parameter when two tensors' shapes differ. */
export function assertSameShape(a: tf.Tensor, b: tf.Tensor, name: string, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what}: parameter '${name}' has shape [${b.shape}] but [${a.shape}] was expected`);
  }
}

/**
 * Checks that every value is finite; throws naming the first parameter that is not. One value is read
 * back for the whole map: Σ 0·v over every float value is 0 when all are finite and NaN otherwise
 * (0·±Infinity and 0·NaN are NaN; no sum of zeros overflows); only then is each parameter checked,
 * to name the first.
 */
export async function assertFinite(map: ParamMap, what: string): Promise<void> {
  const floats = Object.values(map).filter((t) => t.dtype === 'float32');
  if (floats.length === 0) return;
  const probe = tf.tidy(() => tf.addN(floats.map((t) => tf.sum(tf.mul(t, tf.scalar(0))))));
  const sum = (await probe.data())[0];
  probe.dispose();
  if (sum === 0) return;
  for (const [name, t] of Object.entries(map)) {
    const bad = tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(t))));
    const flag = (await bad.data())[0];
    bad.dispose();
    if (flag) throw new Error(`${what}: parameter '${name}' contains NaN or Infinity`);
  }
}

/** Copies of a model's parameters and (unless `state: false`) its state: `Model.getWeights`. */
export function copyWeights(params: ParamMap<tf.Variable>, state: ParamMap<tf.Variable>, options: { state?: boolean } = {}): ParamMap {
  const out: ParamMap = {};
  for (const [n, v] of Object.entries(params)) out[n] = tf.clone(v);
  if (options.state !== false) for (const [n, v] of Object.entries(state)) out[n] = tf.clone(v);
  return out;
}

/** Assigns `weights` to a model's parameters and state, names and shapes checked: `Model.setWeights`. */
export function assignWeights(params: ParamMap<tf.Variable>, state: ParamMap<tf.Variable>, weights: ParamMap, options: { allowMissing?: boolean } = {}): void {
  const all: ParamMap<tf.Variable> = { ...params, ...state };
  for (const name of Object.keys(weights)) {
    if (!all[name]) throw new Error(`setWeights: '${name}' is not a parameter of this model`);
  }
  for (const [name, v] of Object.entries(all)) {
    const w = weights[name];
    if (!w) {
      if (options.allowMissing || state[name]) continue;
      throw new Error(`setWeights: parameter '${name}' is missing`);
    }
    assertSameShape(v, w, name, 'setWeights');
    v.assign(w);
  }
}
