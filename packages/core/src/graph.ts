/**
 * A graph model: a DAG of layers behind one `logits`/`apply`, as tfjs-layers' `Container` runs a
 * functional model. Layers may take several inputs (`MergeLayer`: Add, Concatenate, ...), a layer's
 * output may feed several layers (fan-out), and one layer may be called at several nodes (shared
 * weights). A chain is a graph too; imported Keras/tfjs-layers models are graphs.
 *
 * Parameters are named `<layer>/<weight>` with the layer's own name. Layers can be frozen (their
 * weights move from `params` to `state`, so nothing trains them and no importance is computed for
 * them; they run in inference mode, so a frozen batch normalisation keeps its moving statistics).
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ForwardOptions, type LayerShapes, type Model, exampleShapeProblem } from './contract.js';
import { type BatchNorm, type FusableConv, batchNormAfterConv, fusedReluCap } from './layers/batch-norm.js';
import { Conv2d } from './layers/conv2d.js';
import { DepthwiseConv2d } from './layers/depthwise-conv2d.js';
import { type ApplyContext, type Layer, type LayerCapture, type MergeLayer, type Shape, isMergeLayer } from './layers/layer.js';
import { ZeroPadding2d } from './layers/shape.js';
import { type ParamMap, assignWeights, copyWeights } from './params.js';
import { Rng } from './rng.js';

/** One call of a layer: its output is named `name`; `inputs` name the model input or earlier nodes. */
export interface GraphNode {
  readonly name: string;
  readonly layer: Layer | MergeLayer;
  readonly inputs: readonly string[];
}

export interface GraphModelOptions {
  /** The model's input: a name nodes refer to, and its per-example shape (`null`: any size). */
  input: { name: string; shape: Shape };
  /** The nodes, in any order; they are sorted topologically. */
  nodes: readonly GraphNode[];
  /** The node whose output is the model's output (logits, for a classifier). */
  output: string;
  /**
   * The model's own output is `softmax(logits)` (a Keras classifier ending in a softmax, which
   * the graph leaves out so that losses and importances see logits). Default false.
   */
  outputSoftmax?: boolean;
  /** Seed of the layers' initializers (default 0). */
  seed?: number;
  /** Names of layers whose weights do not train. */
  frozen?: Iterable<string>;
}

const shapeText = (s: Shape) => `[${s.map((d) => d ?? 'any').join(', ')}]`;

export class GraphModel implements Model {
  /** Nodes in execution (topological) order. */
  readonly nodes: readonly GraphNode[];
  readonly inputName: string;
  readonly inputShape: Shape;
  readonly outputName: string;
  readonly outputShape: Shape;
  readonly outputSoftmax: boolean;
  readonly seed: number;
  /** Every distinct layer once, in execution order. */
  readonly layers: readonly Layer[];
  readonly sharedLayers: ReadonlySet<string>;
  /** Per-example output shape of every node, and of the input. */
  readonly nodeShapes: ReadonlyMap<string, Shape>;
  private readonly mergeLayers: readonly MergeLayer[];
  private readonly consumers: ReadonlyMap<string, readonly string[]>;
  /** Batch norm node → the ReLU6 or ReLU node that is its output's only consumer, and its cap (run as one kernel where it can). */
  private readonly reluAfter = new Map<string, { name: string; cap: number }>();
  /** Conv or depthwise conv node → the batch norm node that is its output's only consumer (run as one op in training where it can: `ops/conv-bn.ts`). */
  private readonly bnAfter = new Map<string, { name: string; layer: BatchNorm }>();
  /** ZeroPadding2D node → the 'valid' depthwise conv or conv node that is its only consumer (the pad folded into the conv where it can). */
  private readonly padInto = new Map<string, { name: string; layer: DepthwiseConv2d | Conv2d }>();
  private readonly frozenLayers = new Set<string>();
  private paramCache: ParamMap<tf.Variable> | undefined;
  private stateCache: ParamMap<tf.Variable> | undefined;
  private readonly dynamicShapes = new Map<string, Record<string, LayerShapes>>();
  private disposed = false;

  constructor(options: GraphModelOptions) {
    const { input, output } = options;
    if (!input || typeof input.name !== 'string' || !Array.isArray(input.shape) || input.shape.length === 0) {
      throw new Error('graphModel: input needs a name and a per-example shape');
    }
    if (input.shape.some((d) => d !== null && (!Number.isInteger(d) || d < 1))) {
      throw new Error(`graphModel: input shape ${shapeText(input.shape)} must hold positive integers or null`);
    }
    this.inputName = input.name;
    this.inputShape = [...input.shape];
    this.outputName = output;
    this.outputSoftmax = options.outputSoftmax ?? false;
    this.seed = options.seed ?? 0;
    this.nodes = sortNodes(options.nodes, input.name, output);
    const consumers = new Map<string, string[]>();
    for (const n of this.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n.name]);
    this.consumers = consumers;
    const byName = new Map(this.nodes.map((n) => [n.name, n]));
    for (const n of this.nodes) {
      const users = consumers.get(n.name) ?? [];
      const next = users.length === 1 ? byName.get(users[0] as string) : undefined;
      const cap = n.name !== output && next && next.inputs.length === 1 ? fusedReluCap(n.layer, next.layer) : undefined;
      if (cap !== undefined && next) this.reluAfter.set(n.name, { name: next.name, cap });
      const bn = n.name !== output && next && next.inputs.length === 1 ? batchNormAfterConv(n.layer, next.layer) : undefined;
      if (bn && next) this.bnAfter.set(n.name, { name: next.name, layer: bn });
      if (
        n.name !== output &&
        next &&
        n.layer instanceof ZeroPadding2d &&
        (next.layer instanceof DepthwiseConv2d || next.layer instanceof Conv2d) &&
        next.layer.padding === 'valid'
      )
        this.padInto.set(n.name, { name: next.name, layer: next.layer });
    }

    // build each layer at its first call; later calls must see the same input shape
    const rng = new Rng(this.seed);
    const shapes = new Map<string, Shape>([[input.name, this.inputShape]]);
    const built = new Map<Layer | MergeLayer, string>();
    const layers: Layer[] = [];
    const merges: MergeLayer[] = [];
    const shared = new Set<string>();
    const names = new Map<string, Layer | MergeLayer>();
    const problems: string[] = [];
    for (const node of this.nodes) {
      const l = node.layer;
      const other = names.get(l.name);
      if (other && other !== l) problems.push(`two different layers are named '${l.name}'`);
      names.set(l.name, l);
      const ins = node.inputs.map((i) => shapes.get(i) as Shape);
      if (ins.some((s) => s === undefined)) continue; // an earlier failure
      const first = built.get(l);
      try {
        if (first === undefined) {
          const out = isMergeLayer(l) ? l.build(ins, rng.fork(l.name)) : l.build(single(node, ins), rng.fork(l.name));
          built.set(l, node.name);
          if (isMergeLayer(l)) merges.push(l);
          else layers.push(l);
          shapes.set(node.name, out);
        } else {
          shared.add(l.name);
          if (isMergeLayer(l)) shapes.set(node.name, l.build(ins, rng.fork(l.name)));
          else {
            const firstNode = this.nodes.find((n) => n.name === first) as GraphNode;
            const before = shapes.get(firstNode.inputs[0] as string) as Shape;
            const now = single(node, ins);
            if (shapeText(before) !== shapeText(now)) {
              throw new Error(`is shared, and called on inputs of shape ${shapeText(before)} and ${shapeText(now)}; a shared layer needs one input shape`);
            }
            shapes.set(node.name, shapes.get(first) as Shape);
          }
        }
      } catch (e) {
        const msg = (e as Error).message;
        problems.push(msg.startsWith(`${l.name}:`) ? `layer ${msg}` : `layer '${l.name}' (${l.kind}): ${msg}`);
      }
    }
    if (problems.length) {
      for (const l of layers) disposeLayer(l);
      throw new Error(`graphModel: ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n  - ${problems.join('\n  - ')}`);
    }
    this.layers = layers;
    this.mergeLayers = merges;
    this.sharedLayers = shared;
    this.nodeShapes = shapes;
    this.outputShape = shapes.get(output) as Shape;
    for (const f of options.frozen ?? []) this.setTrainable([f], false);
  }

  get params(): ParamMap<tf.Variable> {
    if (!this.paramCache) this.collect();
    return this.paramCache as ParamMap<tf.Variable>;
  }

  get state(): ParamMap<tf.Variable> {
    if (!this.stateCache) this.collect();
    return this.stateCache as ParamMap<tf.Variable>;
  }

  /** Layers with trainable parameters, in execution order. */
  get parametricLayers(): Layer[] {
    return this.layers.filter((l) => !this.frozenLayers.has(l.name) && Object.keys(l.params).length > 0);
  }

  get numClasses(): number {
    return (this.outputShape[this.outputShape.length - 1] ?? 0) as number;
  }

  /** Names of the frozen layers. */
  get frozen(): readonly string[] {
    return this.layers.filter((l) => this.frozenLayers.has(l.name)).map((l) => l.name);
  }

  /**
   * Freezes (`trainable` false) or unfreezes layers by name; a name ending in `*` is a prefix.
   * Throws naming any name that matches no layer. Returns the layers changed.
   */
  setTrainable(names: Iterable<string>, trainable: boolean): string[] {
    const changed: string[] = [];
    for (const pattern of names) {
      const match = (n: string) => (pattern.endsWith('*') ? n.startsWith(pattern.slice(0, -1)) : n === pattern);
      const hits = this.layers.filter((l) => match(l.name));
      // parameter-free merge layers have nothing to freeze (Keras files mark them trainable: false too)
      if (hits.length === 0 && this.mergeLayers.some((l) => match(l.name))) continue;
      if (hits.length === 0) throw new Error(`graphModel: no layer is named '${pattern}' (layers: ${this.layers.map((l) => l.name).join(', ')})`);
      for (const l of hits) {
        if (trainable ? this.frozenLayers.delete(l.name) : !this.frozenLayers.has(l.name) && this.frozenLayers.add(l.name)) changed.push(l.name);
      }
    }
    this.paramCache = undefined;
    this.stateCache = undefined;
    return changed;
  }

  private collect(): void {
    const params: ParamMap<tf.Variable> = {};
    const state: ParamMap<tf.Variable> = {};
    for (const l of this.layers) {
      const frozen = this.frozenLayers.has(l.name);
      for (const [local, v] of Object.entries(l.params)) (frozen ? state : params)[`${l.name}/${local}`] = v;
      for (const [local, v] of Object.entries(l.state)) state[`${l.name}/${local}`] = v;
    }
    this.paramCache = params;
    this.stateCache = state;
  }

  /** Reshapes a batch to [batch, ...inputShape] when sizes agree; throws naming both shapes otherwise. */
  reshapeInput(x: tf.Tensor): tf.Tensor {
    const problem = exampleShapeProblem(this.inputShape, x.shape.slice(1));
    if (problem) throw new Error(`model input: ${problem}`);
    if (x.shape.length === this.inputShape.length + 1) return x;
    return tf.reshape(x, [x.shape[0] as number, ...(this.inputShape as number[])]);
  }

  logits(x: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    if (this.disposed) throw new Error('model: this model has been disposed');
    const ctx: ApplyContext = {
      training: options.training ?? false,
      ...(options.rng ? { rng: options.rng } : {}),
      ...(options.capture ? { capture: options.capture } : {}),
      ...(options.taps ? { taps: options.taps } : {}),
      ...(options.exampleSums ? { exampleSums: options.exampleSums } : {}),
      ...(options.capturePads ? { capturePads: true } : {}),
    };
    const inference: ApplyContext = { ...ctx, training: false };
    const capture = options.capture;
    const modelInput = this.reshapeInput(x);
    const values = new Map<string, tf.Tensor>([[this.inputName, modelInput]]);
    // tensor → parametric layer whose captured output it is (extended through activation layers)
    const open = new Map<tf.Tensor, string>();
    // ReLU6 and ReLU nodes already run inside their batch norm's kernel
    const done = new Set<string>();
    // depthwise conv or conv node → its unpadded input and the padding folded into it
    const padded = new Map<string, { x: tf.Tensor; pads: ZeroPadding2d['padding'] }>();
    for (const node of this.nodes) {
      if (done.has(node.name)) continue;
      const ins = node.inputs.map((i) => values.get(i) as tf.Tensor);
      const l = node.layer;
      // a frozen layer runs in inference mode, as Keras runs a non-trainable layer (batch norm keeps its statistics)
      const c = ctx.training && this.frozenLayers.has(l.name) ? inference : ctx;
      const conv = this.padInto.get(node.name);
      if (conv) {
        if (conv.layer.foldsPadding(ins[0] as tf.Tensor, c)) {
          padded.set(conv.name, { x: ins[0] as tf.Tensor, pads: (l as ZeroPadding2d).padding });
          continue;
        }
      }
      const fold = padded.get(node.name);
      const bn = this.bnAfter.get(node.name);
      if (bn && c === ctx && !this.frozenLayers.has(bn.layer.name)) {
        // conv + batch norm (+ ReLU6 or ReLU) as one op each way, unless the conv reads the model's input (whose gradient the op would compute)
        const x = fold ? fold.x : (ins[0] as tf.Tensor);
        const relu = this.reluAfter.get(bn.name);
        const y = x === modelInput ? undefined : bn.layer.applyAfterConv(l as unknown as FusableConv, x, fold?.pads, relu?.cap ?? 0, c);
        if (y) {
          values.set(relu?.name ?? bn.name, y);
          done.add(bn.name);
          if (relu) done.add(relu.name);
          continue;
        }
      }
      if (fold) {
        const y = (l as DepthwiseConv2d | Conv2d).applyPadded(fold.x, fold.pads, c);
        values.set(node.name, y);
        // (under `capturePads`) activation layers after it extend its capture, as after any layer
        if (capture?.[l.name]) open.set(y, l.name);
        continue;
      }
      const relu = this.reluAfter.get(node.name);
      if (relu) {
        const fused = (l as BatchNorm).applyWithRelu(ins[0] as tf.Tensor, relu.cap, c);
        if (fused) {
          // a capture (inference only) is taken after the ReLU: activation layers after it extend it as after the ReLU run apart
          values.set(relu.name, fused);
          done.add(relu.name);
          if (capture?.[l.name]) open.set(fused, l.name);
          continue;
        }
      }
      const y = isMergeLayer(l) ? l.apply(ins, c) : l.apply(ins[0] as tf.Tensor, c);
      values.set(node.name, y);
      if (!capture || isMergeLayer(l)) continue;
      if (Object.keys(l.params).length > 0 && capture[l.name]) open.set(y, l.name);
      else if (l.elementwise) {
        const from = node.inputs[0] as string;
        const p = open.get(ins[0] as tf.Tensor);
        if (p && (this.consumers.get(from)?.length ?? 0) === 1) {
          (capture[p] as LayerCapture).output = y;
          open.set(y, p);
        }
      }
    }
    const out = values.get(this.outputName) as tf.Tensor;
    if (capture) {
      const p = open.get(out);
      if (p && this.outputShape.length === 1) (capture[p] as LayerCapture).output = tf.softmax(out);
    }
    return out;
  }

  /** The model's output as its layers define it: softmax of the logits when `outputSoftmax`. */
  apply(x: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    const z = this.logits(x, options);
    return this.outputSoftmax ? tf.softmax(z) : z;
  }

  predict(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.apply(x));
  }

  layerShapes(exampleShape?: readonly number[]): Record<string, LayerShapes> {
    const ex = exampleShape ?? this.inputShape;
    if (ex.some((d) => d === null)) throw new Error(`layerShapes: the model's input shape ${shapeText(this.inputShape)} has dimensions of any size; pass the examples' shape`);
    const key = ex.join(',');
    const known = this.dynamicShapes.get(key);
    if (known) return known;
    const problem = exampleShapeProblem(this.inputShape, ex as number[]);
    if (problem) throw new Error(`layerShapes: ${problem}`);
    const out: Record<string, LayerShapes> = {};
    if (this.inputShape.every((d) => d !== null)) {
      for (const node of this.nodes) {
        if (isMergeLayer(node.layer) || out[node.layer.name]) continue;
        out[node.layer.name] = { input: [...(this.nodeShapes.get(node.inputs[0] as string) as number[])], output: [...(this.nodeShapes.get(node.name) as number[])] };
      }
    } else {
      // dims known only per input: one forward pass of a single example records the shapes
      tf.tidy(() => {
        const capture: Record<string, LayerCapture> = {};
        this.logits(tf.zeros([1, ...(ex as number[])]), { capture });
        for (const [name, c] of Object.entries(capture)) out[name] = { input: c.input.shape.slice(1), output: c.preActivation.shape.slice(1) };
      });
    }
    this.dynamicShapes.set(key, out);
    return out;
  }

  getWeights(options: { state?: boolean } = {}): ParamMap {
    return copyWeights(this.params, this.state, options);
  }

  setWeights(weights: ParamMap, options: { allowMissing?: boolean } = {}): void {
    assignWeights(this.params, this.state, weights, options);
  }

  countParams(): number {
    return Object.values(this.params).reduce((n, v) => n + v.size, 0);
  }

  /** One line per node: name, kind, inputs, output shape, parameter count. */
  summary(): string {
    const rows = this.nodes.map((n) => {
      const own = Object.values(n.layer.params).reduce((a, v) => a + v.size, 0);
      return `${n.name.padEnd(28)} ${n.layer.kind.padEnd(18)} ${shapeText(this.nodeShapes.get(n.name) as Shape).padEnd(20)} ${String(own).padStart(9)}  ← ${n.inputs.join(', ')}`;
    });
    const frozen = this.frozenLayers.size ? ` (${Object.values(this.state).length} frozen or state tensors)` : '';
    return [...rows, `trainable parameters: ${this.countParams()}${frozen}`].join('\n');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const l of this.layers) disposeLayer(l);
    for (const l of this.mergeLayers) disposeLayer(l);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

function disposeLayer(l: Layer | MergeLayer): void {
  for (const v of Object.values(l.params)) v.dispose();
  for (const v of Object.values(l.state)) v.dispose();
}

function single(node: GraphNode, ins: Shape[]): Shape {
  if (ins.length !== 1) throw new Error(`takes one input but node '${node.name}' gives it ${ins.length}`);
  return ins[0] as Shape;
}

/** Kahn's algorithm; every problem (unknown input, duplicate name, cycle, unreachable output) in one error. */
function sortNodes(nodes: readonly GraphNode[], input: string, output: string): GraphNode[] {
  const problems: string[] = [];
  const byName = new Map<string, GraphNode>();
  for (const n of nodes) {
    if (n.name === input || byName.has(n.name)) problems.push(`node name '${n.name}' is used twice`);
    byName.set(n.name, n);
    if (!Array.isArray(n.inputs) || n.inputs.length === 0) problems.push(`node '${n.name}' has no inputs`);
    for (const i of n.inputs ?? []) if (i !== input && !nodes.some((m) => m.name === i)) problems.push(`node '${n.name}' takes unknown tensor '${i}'`);
  }
  if (!byName.has(output) && output !== input) problems.push(`the output '${output}' is not a node`);
  if (problems.length) throw new Error(`graphModel: ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n  - ${problems.join('\n  - ')}`);
  const done = new Set<string>([input]);
  const order: GraphNode[] = [];
  let rest = [...nodes];
  while (rest.length) {
    const ready = rest.filter((n) => n.inputs.every((i) => done.has(i)));
    if (ready.length === 0) throw new Error(`graphModel: the nodes ${rest.map((n) => `'${n.name}'`).join(', ')} form a cycle`);
    for (const n of ready) {
      order.push(n);
      done.add(n.name);
    }
    rest = rest.filter((n) => !done.has(n.name));
  }
  // keep only what the output needs
  const needed = new Set<string>([output]);
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i] as GraphNode;
    if (needed.has(n.name)) for (const x of n.inputs) needed.add(x);
  }
  return order.filter((n) => needed.has(n.name));
}

export function graphModel(options: GraphModelOptions): GraphModel {
  return new GraphModel(options);
}
