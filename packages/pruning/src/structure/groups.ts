/**
 * Dependency groups for structural pruning (after Fang et al. 2023, "DepGraph: Towards Any
 * Structural Pruning", CVPR; Torch-Pruning's `dependency.py`): the parameter slices that must go
 * together when one unit or channel of a model is removed, found once from the model's graph, not
 * from rules per architecture.
 *
 * Every feature on the last axis of every tensor is labelled with a *channel*: the unit of the layer
 * that produced it. Producers (Dense, Conv1D/2D, Conv2DTranspose, SeparableConv2D's pointwise
 * filters) make new channels; channel-wise layers (BatchNormalization, DepthwiseConv2D, activations,
 * pooling, padding, dropout, global pooling, PReLU) pass them on and add their per-channel slices;
 * Add / Subtract / Multiply / Average / Maximum / Minimum tie the channels at equal positions
 * (union-find), Concatenate lays its inputs' channels side by side, Flatten and Reshape repeat a
 * channel at every spatial position, and a consumer (the next Dense or convolution) adds the input
 * rows that read each channel. A group is a set of tied channels with all their slices; removing it
 * deletes every slice and leaves every other feature's computation unchanged.
 *
 * Protected (never removed): the model output's channels, the model input's, channels that reach
 * a layer mixing its channels in another way (Softmax, LayerNormalization, Permute, a Reshape that
 * moves the channel axis, an unknown layer), channels of shared and of frozen layers.
 */
import type { GraphModel, Layer, MergeLayer, Sequential, Shape } from '@forgetless/core';
import { isMergeLayer } from '@forgetless/core';

/** One index of one axis of a parameter or state tensor (`conv2d_1/kernel`, axis 3, index 5). */
export interface ChannelSlice {
  param: string;
  axis: number;
  index: number;
}

export interface ChannelGroup {
  id: number;
  /** The layer units removed together (a producer's output channel, `{ layer: 'conv2d_1', index: 5 }`). */
  channels: { layer: string; index: number }[];
  /** Every parameter and state slice that goes with them (producers' filters and biases, BN vectors, consumers' input rows). */
  slices: ChannelSlice[];
  /** Why the group may not be removed, if it may not. */
  protectedBy?: string;
}

export interface DependencyGroups {
  groups: ChannelGroup[];
  /** Shape of every parameter and state tensor. */
  shapes: Record<string, number[]>;
  /** Trainable parameters (counted by `countParams`; the others are state). */
  trainable: string[];
  /** FLOPs per entry of a kernel: 2 · output positions it is applied at (1 for Dense); 0 for biases and normalisation. */
  flopsPerEntry: Record<string, number>;
  /** Output width of each producer layer. */
  widths: Record<string, number>;
  /** @internal per node: the group id of each last-axis feature (−1 protected), and the layers needing a new config. */
  readonly features: ReadonlyMap<string, Int32Array>;
  readonly nodes: readonly StructureNode[];
  readonly kind: 'sequential' | 'graph';
}

/** A node of the model as the analysis sees it (a Sequential is a chain). */
export interface StructureNode {
  name: string;
  layer: Layer | MergeLayer;
  inputs: string[];
}

const PRODUCERS = new Set(['dense', 'denseNd', 'conv2d', 'conv1d', 'conv2dTranspose', 'separableConv2d']);
const PASS = new Set([
  'activation',
  'dropout',
  'maxPool2d',
  'avgPool2d',
  'maxPool1d',
  'avgPool1d',
  'globalMaxPool',
  'globalAvgPool',
  'zeroPadding2d',
  'cropping2d',
  'upSampling2d',
  'gaussianNoise',
  'gaussianDropout',
  'spatialDropout',
  'alphaDropout',
]);
const TIES = new Set(['add', 'subtract', 'multiply', 'average', 'maximum', 'minimum']);

type AnyModel = GraphModel | Sequential;

/** The model's nodes, input and shapes (a Sequential as a chain). */
export function structureView(model: AnyModel): {
  kind: 'sequential' | 'graph';
  input: string;
  inputShape: Shape;
  nodes: StructureNode[];
  output: string;
  shapes: Map<string, Shape>;
  frozen: Set<string>;
} {
  if ('nodes' in model) {
    return {
      kind: 'graph',
      input: model.inputName,
      inputShape: model.inputShape,
      nodes: model.nodes.map((n) => ({ name: n.name, layer: n.layer, inputs: [...n.inputs] })),
      output: model.outputName,
      shapes: new Map(model.nodeShapes),
      frozen: new Set(model.frozen),
    };
  }
  const input = ':input';
  const shapes = new Map<string, Shape>([[input, model.inputShape]]);
  const nodes = model.layers.map((layer, i) => {
    shapes.set(layer.name, (model.shapes[layer.name] as { output: number[] }).output);
    return { name: layer.name, layer, inputs: [i === 0 ? input : (model.layers[i - 1] as Layer).name] };
  });
  return { kind: 'sequential', input, inputShape: model.inputShape, nodes, output: (model.layers.at(-1) as Layer).name, shapes, frozen: new Set() };
}

class UnionFind {
  parent: number[] = [];
  /** Per root: the component may not be removed. */
  locked: boolean[] = [];
  add(locked = false): number {
    this.parent.push(this.parent.length);
    this.locked.push(locked);
    return this.parent.length - 1;
  }
  find(a: number): number {
    let r = a;
    while (this.parent[r] !== r) r = this.parent[r] as number;
    let x = a;
    while (this.parent[x] !== r) {
      const next = this.parent[x] as number;
      this.parent[x] = r;
      x = next;
    }
    return r;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    this.parent[rb] = ra;
    this.locked[ra] = (this.locked[ra] as boolean) || (this.locked[rb] as boolean);
  }
  lock(a: number): void {
    this.locked[this.find(a)] = true;
  }
}

const known = (s: Shape) => s.map((d) => d ?? 1) as number[];
const positions = (s: Shape) =>
  known(s)
    .slice(0, -1)
    .reduce((a, b) => a * b, 1);

/** The dependency groups of a model's units and channels (see the module comment). */
export function dependencyGroups(model: AnyModel): DependencyGroups {
  const view = structureView(model);
  const uf = new UnionFind();
  const reasons = new Map<number, string>();
  const atomSlices: ChannelSlice[][] = [];
  const atomChannel: ({ layer: string; index: number } | undefined)[] = [];
  const feats = new Map<string, Int32Array>();
  const shapes: Record<string, number[]> = {};
  const flopsPerEntry: Record<string, number> = {};
  const widths: Record<string, number> = {};
  const trainable = Object.keys(model.params);

  const protect = (atoms: ArrayLike<number>, why: string) => {
    for (let i = 0; i < atoms.length; i++) {
      const a = atoms[i] as number;
      if (!reasons.has(a)) reasons.set(a, why);
      uf.lock(a);
    }
  };
  // features of no layer's channel (the model input, a channel-mixing layer's output): one locked atom each
  const fixed = (n: number, why: string) => {
    const f = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      f[i] = uf.add(true);
      atomSlices.push([]);
      atomChannel.push(undefined);
      reasons.set(f[i] as number, why);
    }
    return f;
  };
  const slice = (atom: number, param: string, axis: number, index: number) => atomSlices[atom]?.push({ param, axis, index });
  const lastDim = (name: string): number => {
    const s = view.shapes.get(name) as Shape;
    const c = s[s.length - 1];
    if (c === null || c === undefined) throw new Error(`dependencyGroups: tensor '${name}' has an unknown last axis [${s.map((d) => d ?? 'any')}]`);
    return c;
  };
  feats.set(view.input, fixed(lastDim(view.input), 'the model input'));
  for (const [name, v] of Object.entries({ ...model.params, ...model.state })) shapes[name] = [...v.shape];
  const seen = new Set<string>();

  for (const node of view.nodes) {
    const l = node.layer;
    const ins = node.inputs.map((i) => feats.get(i) as Int32Array);
    const outShape = view.shapes.get(node.name) as Shape;
    const width = lastDim(node.name);
    const shared = seen.has(l.name);
    seen.add(l.name);
    const frozen = view.frozen.has(l.name);
    const p = (local: string) => `${l.name}/${local}`;
    const x = ins[0] as Int32Array;
    let out: Int32Array;
    if (isMergeLayer(l)) {
      if (TIES.has(l.kind) && ins.every((f) => f.length === width)) {
        for (let i = 0; i < width; i++) for (const f of ins.slice(1)) uf.union(x[i] as number, f[i] as number);
        out = x;
      } else if (l.kind === 'concatenate' && lastAxis(l, outShape.length)) {
        out = new Int32Array(width);
        let off = 0;
        for (const f of ins) {
          out.set(f, off);
          off += f.length;
        }
      } else {
        for (const f of ins) protect(f, `merge '${l.name}' (${l.kind}) ties its inputs' channels in a way not followed`);
        out = fixed(width, `merge '${l.name}' (${l.kind}) ties its inputs' channels in a way not followed`);
      }
    } else if (PRODUCERS.has(l.kind)) {
      const sep = l.kind === 'separableConv2d';
      const kernel = sep ? 'pointwise_kernel' : 'kernel';
      const k = shapes[p(kernel)] as number[];
      // consumer side: the input rows that read each input channel
      if (sep) {
        const m = (shapes[p('depthwise_kernel')] as number[])[3] as number;
        x.forEach((a, c) => {
          slice(a, p('depthwise_kernel'), 2, c);
          for (let j = 0; j < m; j++) slice(a, p('pointwise_kernel'), 2, c * m + j);
        });
      } else {
        const inAxis = l.kind === 'conv2dTranspose' ? 3 : k.length - 2;
        x.forEach((a, c) => slice(a, p(kernel), inAxis, c));
      }
      if (shared || frozen) protect(x, `layer '${l.name}' is ${shared ? 'shared' : 'frozen'}`);
      if (shared) {
        out = feats.get(firstCall(view.nodes, l, node)) as Int32Array;
      } else {
        out = new Int32Array(width);
        const outAxis = l.kind === 'conv2dTranspose' ? 2 : k.length - 1;
        for (let o = 0; o < width; o++) {
          const a = uf.add();
          atomSlices.push([]);
          atomChannel.push({ layer: l.name, index: o });
          slice(a, p(kernel), outAxis, o);
          if (shapes[p('bias')]) slice(a, p('bias'), 0, o);
          out[o] = a;
        }
        widths[l.name] = width;
        if (frozen) protect(out, `layer '${l.name}' is frozen`);
      }
      const at = l.kind === 'conv2dTranspose' ? positions(view.shapes.get(node.inputs[0] as string) as Shape) : positions(outShape);
      flopsPerEntry[p(kernel)] = 2 * at;
      if (sep) flopsPerEntry[p('depthwise_kernel')] = 2 * at;
    } else if (l.kind === 'depthwiseConv2d') {
      const m = (shapes[p('depthwise_kernel')] as number[])[3] as number;
      out = new Int32Array(width);
      x.forEach((a, c) => {
        slice(a, p('depthwise_kernel'), 2, c);
        for (let j = 0; j < m; j++) {
          if (shapes[p('bias')]) slice(a, p('bias'), 0, c * m + j);
          out[c * m + j] = a;
        }
      });
      if (shared || frozen) protect(x, `layer '${l.name}' is ${shared ? 'shared' : 'frozen'}`);
      flopsPerEntry[p('depthwise_kernel')] = 2 * positions(outShape);
    } else if (l.kind === 'batchNorm' || l.kind === 'prelu') {
      out = x;
      const rank = outShape.length;
      const bnLast = l.kind !== 'batchNorm' || (l as { resolvedAxis?: number }).resolvedAxis === rank;
      if (!bnLast) protect(x, `batch normalisation '${l.name}' normalises another axis`);
      for (const local of [...Object.keys(l.params), ...Object.keys(l.state)]) {
        const s = shapes[p(local)] as number[];
        const axis = s.length - 1;
        if (s[axis] === width) x.forEach((a, c) => slice(a, p(local), axis, c));
        else if (l.kind === 'batchNorm') protect(x, `batch normalisation '${l.name}' has a vector not of the channels`);
      }
      if (shared || frozen) protect(x, `layer '${l.name}' is ${shared ? 'shared' : 'frozen'}`);
    } else if (PASS.has(l.kind) && x.length === width) {
      out = x;
    } else if (l.kind === 'flatten' || (l.kind === 'reshape' && reshapeKeepsChannels(view.shapes.get(node.inputs[0] as string) as Shape, outShape))) {
      const c = x.length;
      out = new Int32Array(width);
      for (let i = 0; i < width; i++) out[i] = x[i % c] as number;
    } else {
      protect(x, `layer '${l.name}' (${l.kind}) mixes channels`);
      out = fixed(width, `the output of '${l.name}' (${l.kind})`);
    }
    feats.set(node.name, out);
  }
  protect(feats.get(view.output) as Int32Array, 'the model output');

  // components → groups
  const byRoot = new Map<number, ChannelGroup>();
  const groups: ChannelGroup[] = [];
  for (let a = 0; a < uf.parent.length; a++) {
    const r = uf.find(a);
    let g = byRoot.get(r);
    if (!g) {
      g = { id: groups.length, channels: [], slices: [] };
      byRoot.set(r, g);
      groups.push(g);
    }
    const ch = atomChannel[a];
    if (ch) g.channels.push(ch);
    g.slices.push(...(atomSlices[a] as ChannelSlice[]));
    if (uf.locked[r] && !g.protectedBy) g.protectedBy = 'protected';
  }
  // the reason: the first recorded for any atom of the group
  for (const [a, why] of reasons) {
    const g = byRoot.get(uf.find(a));
    if (g && (g.protectedBy === undefined || g.protectedBy === 'protected')) g.protectedBy = why;
  }
  const features = new Map<string, Int32Array>();
  for (const [name, f] of feats)
    features.set(
      name,
      f.map((a) => (byRoot.get(uf.find(a)) as ChannelGroup).id),
    );
  return { groups, shapes, trainable, flopsPerEntry, widths, features, nodes: view.nodes, kind: view.kind };
}

function firstCall(nodes: readonly StructureNode[], layer: Layer | MergeLayer, node: StructureNode): string {
  return (nodes.find((n) => n.layer === layer) ?? node).name;
}

function lastAxis(l: MergeLayer, rank: number): boolean {
  const axis = (l as { axis?: number }).axis ?? -1;
  return axis === -1 || axis === rank;
}

/** A Reshape to one axis, or one that keeps the last axis and only regroups the others. */
function reshapeKeepsChannels(input: Shape, output: Shape): boolean {
  if (input.some((d) => d === null) || output.some((d) => d === null)) return false;
  return output.length === 1 || output[output.length - 1] === input[input.length - 1];
}

/** The groups that may be removed. */
export function removableGroups(deps: DependencyGroups): ChannelGroup[] {
  return deps.groups.filter((g) => !g.protectedBy && g.channels.length > 0);
}

/**
 * A readable listing: one line per set of coupled layers (groups whose channels come from the same
 * producers), with the number of groups, the slices each carries and whether they are protected.
 */
export function formatGroups(deps: DependencyGroups): string {
  const sets = new Map<string, { layers: string; params: Set<string>; count: number; channels: number; protectedBy?: string }>();
  for (const g of deps.groups) {
    if (g.channels.length === 0) continue;
    const layers = [...new Set(g.channels.map((c) => c.layer))].join(' + ');
    const key = `${layers}|${g.protectedBy ?? ''}`;
    const s = sets.get(key) ?? { layers, params: new Set<string>(), count: 0, channels: 0, ...(g.protectedBy ? { protectedBy: g.protectedBy } : {}) };
    s.count++;
    s.channels += g.channels.length;
    for (const x of g.slices) s.params.add(x.param);
    sets.set(key, s);
  }
  const lines = [...sets.values()].map((s) => {
    const head = `${s.count} group${s.count > 1 ? 's' : ''} of ${s.channels / s.count} channel${s.channels / s.count > 1 ? 's' : ''}: ${s.layers}`;
    const tail = s.protectedBy ? `  [protected: ${s.protectedBy}]` : '';
    return `${head}${tail}\n    ${[...s.params].join(', ')}`;
  });
  const removable = removableGroups(deps).length;
  return [...lines, `${deps.groups.filter((g) => g.channels.length).length} groups, ${removable} removable`].join('\n');
}
