/**
 * Removing dependency groups: every slice of every removed group is cut out of its tensor, and the
 * model is rebuilt with the smaller layers (Dense `units`, convolutions' `filters`, a Reshape's
 * target), so it is smaller on disk and faster, not only sparser. The rest of the model computes
 * exactly what it computed before on the features that remain.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphModel, type Layer, type MergeLayer, Sequential } from '@forgetless/core';
import type { ChannelGroup, DependencyGroups } from './groups.js';

/** Per tensor and axis: the old indices removed. */
export function removedIndices(deps: DependencyGroups, removed: Iterable<number>): Map<string, Map<number, Set<number>>> {
  const out = new Map<string, Map<number, Set<number>>>();
  for (const id of removed) {
    const g = deps.groups[id] as ChannelGroup | undefined;
    if (!g) throw new Error(`removeGroups: no group ${id} (the model has ${deps.groups.length})`);
    if (g.protectedBy) throw new Error(`removeGroups: group ${id} is protected (${g.protectedBy})`);
    for (const s of g.slices) {
      const axes = out.get(s.param) ?? new Map<number, Set<number>>();
      const set = axes.get(s.axis) ?? new Set<number>();
      set.add(s.index);
      axes.set(s.axis, set);
      out.set(s.param, axes);
    }
  }
  return out;
}

/** `values` of `shape` with the indices `gone` (per axis) cut out; returns the new values and shape. */
export function sliceTensor(values: Float32Array, shape: readonly number[], gone: ReadonlyMap<number, ReadonlySet<number>>): { values: Float32Array; shape: number[] } {
  const maps = shape.map((d, axis) => {
    const set = gone.get(axis);
    const m = new Int32Array(d);
    let k = 0;
    for (let i = 0; i < d; i++) m[i] = set?.has(i) ? -1 : k++;
    return { m, size: k };
  });
  const newShape = maps.map((x) => x.size);
  const out = new Float32Array(newShape.reduce((a, b) => a * b, 1));
  const rank = shape.length;
  const strides = new Array<number>(rank).fill(1);
  for (let a = rank - 2; a >= 0; a--) strides[a] = (strides[a + 1] as number) * (newShape[a + 1] as number);
  const coord = new Array<number>(rank).fill(0);
  for (let i = 0; i < values.length; i++) {
    let at = 0;
    let keep = true;
    for (let a = 0; a < rank; a++) {
      const j = (maps[a] as { m: Int32Array }).m[coord[a] as number] as number;
      if (j < 0) {
        keep = false;
        break;
      }
      at += j * (strides[a] as number);
    }
    if (keep) out[at] = values[i] as number;
    for (let a = rank - 1; a >= 0; a--) {
      coord[a] = (coord[a] as number) + 1;
      if ((coord[a] as number) < (shape[a] as number)) break;
      coord[a] = 0;
    }
  }
  return { values: out, shape: newShape };
}

/** New widths of the resized layers: producers' channels kept, and Reshape targets. */
export function resizedLayers(deps: DependencyGroups, removed: Iterable<number>): Map<string, { width?: number; targetShape?: number[] }> {
  const ids = new Set(removed);
  const lost = new Map<string, number>();
  for (const id of ids) for (const c of (deps.groups[id] as ChannelGroup).channels) lost.set(c.layer, (lost.get(c.layer) ?? 0) + 1);
  const out = new Map<string, { width?: number; targetShape?: number[] }>();
  for (const [layer, n] of lost) out.set(layer, { width: (deps.widths[layer] as number) - n });
  const kept = (f: Int32Array) => f.reduce((n, g) => n + (g >= 0 && ids.has(g) ? 0 : 1), 0);
  for (const node of deps.nodes) {
    if (node.layer.kind !== 'reshape') continue;
    const target = (node.layer as unknown as { targetShape: number[] }).targetShape;
    const f = deps.features.get(node.name) as Int32Array;
    const fin = deps.features.get(node.inputs[0] as string) as Int32Array;
    if (kept(f) === f.length) continue;
    out.set(node.layer.name, { targetShape: target.length === 1 ? [kept(f)] : [...target.slice(0, -1), kept(fin)] });
  }
  return out;
}

/**
 * A fresh, unbuilt copy of a layer (own variables, none shared with the original), with a new
 * output width (Dense units, convolution filters) or Reshape target when given.
 */
export function copyLayer<L extends Layer | MergeLayer>(layer: L, change?: { width?: number; targetShape?: number[] }): L {
  const copy = Object.assign(Object.create(Object.getPrototypeOf(layer)), layer, { params: {}, state: {} }) as L & Record<string, unknown>;
  if (change?.width !== undefined) {
    const o = copy.options as Record<string, unknown> | undefined;
    if (o && typeof o === 'object') {
      const next = { ...o };
      for (const k of ['units', 'filters']) if (typeof next[k] === 'number') next[k] = change.width;
      copy.options = next;
    }
    for (const k of ['units', 'filters']) if (typeof copy[k] === 'number') copy[k] = change.width;
  }
  if (change?.targetShape) copy.targetShape = [...change.targetShape];
  return copy;
}

/**
 * The model without the `removed` groups (ids of `dependencyGroups(model)`): a new model of the same
 * class, its tensors sliced. `model` is left unchanged; the caller owns both.
 */
export async function removeGroups<M extends GraphModel | Sequential>(model: M, deps: DependencyGroups, removed: Iterable<number>): Promise<M> {
  const ids = [...removed];
  const gone = removedIndices(deps, ids);
  const changes = resizedLayers(deps, ids);
  const copies = new Map<Layer | MergeLayer, Layer | MergeLayer>();
  const copyOf = (l: Layer | MergeLayer) => {
    let c = copies.get(l);
    if (!c) {
      c = copyLayer(l, changes.get(l.name));
      copies.set(l, c);
    }
    return c;
  };
  let next: GraphModel | Sequential;
  if (model instanceof Sequential) {
    next = new Sequential(
      model.layers.map((l) => copyOf(l) as Layer),
      { inputShape: model.inputShape, seed: model.seed },
    );
  } else {
    const g = model as GraphModel;
    next = new GraphModel({
      input: { name: g.inputName, shape: g.inputShape },
      nodes: g.nodes.map((n) => ({ name: n.name, layer: copyOf(n.layer), inputs: n.inputs })),
      output: g.outputName,
      outputSoftmax: g.outputSoftmax,
      seed: g.seed,
      frozen: g.frozen,
    });
  }
  try {
    const all = { ...model.params, ...model.state };
    const weights: Record<string, tf.Tensor> = {};
    try {
      for (const [name, v] of Object.entries(all)) {
        const axes = gone.get(name);
        if (!axes) {
          weights[name] = v;
          continue;
        }
        const s = sliceTensor((await v.data()) as Float32Array, v.shape, axes);
        weights[name] = tf.tensor(s.values, s.shape, 'float32');
      }
      next.setWeights(weights);
    } finally {
      for (const [name, t] of Object.entries(weights)) if (t !== all[name]) t.dispose();
    }
  } catch (e) {
    next.dispose();
    throw e;
  }
  return next as M;
}
