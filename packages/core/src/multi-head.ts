/**
 * A multi-head classifier for task-incremental learning (van de Ven & Tolias 2019, "multi-headed"
 * output layer): a shared trunk and one output head per task, each head its own Dense layer with its
 * own variables (`<head>_task<k>/kernel`, `/bias`) over its task's classes only. A head is added when
 * its task arrives (`ensureHead`; trainContinual does it). The logits have one column per class of
 * every task (`numClasses`): head k's outputs fill its classes' columns, classes of no head yet read
 * 0. The task label selects the head: a task's mask (`Task.classes`, the head's classes) keeps
 * exactly its head's columns for the loss and the arg-max, so training task k gives every other
 * head a gradient of exactly zero (their columns get softmax probability 0 under the mask).
 *
 * With the same initial weights and SGD, it trains exactly like one shared head masked to each
 * task's classes (its columns are the heads' kernels side by side); the difference is that heads
 * are separate variables, added when needed, and that trainContinual resets the optimizer state of
 * the heads not being trained (Adam's moments), so those stay bitwise unchanged under any optimizer.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ForwardOptions, LayerShapes, Model } from './contract.js';
import type { Dense } from './layers/dense.js';
import { layerFromConfig } from './layers/index.js';
import type { Layer, LayerCapture, LayerConfig } from './layers/layer.js';
import { type ModelConfig, type Sequential, modelFromConfig } from './model.js';
import { type ParamMap, assignWeights, copyWeights } from './params.js';
import { Rng } from './rng.js';

export interface MultiHeadConfig {
  format: 'forgetless-multi-head';
  trunk: ModelConfig;
  /** The template of every head (a Dense layer's config; `units` is each task's class count). */
  head: LayerConfig;
  /** The base name of the heads (`dense_2`: heads `dense_2_task0`, ...). */
  headName: string;
  numClasses: number;
  seed: number;
  /** The heads that exist, by task index. */
  heads: { task: number; classes: number[] }[];
}

interface Head {
  task: number;
  classes: number[];
  layer: Dense;
}

export class MultiHead implements Model {
  readonly trunk: Sequential;
  readonly inputShape: number[];
  readonly outputShape: number[];
  readonly numClasses: number;
  readonly seed: number;
  /** The trunk's parameters, then each head's in the order the heads were added. */
  readonly params: ParamMap<tf.Variable>;
  readonly state: ParamMap<tf.Variable>;
  private readonly heads: Head[] = [];
  private readonly template: LayerConfig;
  private readonly headName: string;
  private readonly features: number;
  private disposed = false;

  constructor(trunk: Sequential, options: { head: LayerConfig; headName: string; numClasses: number; seed?: number }) {
    if (trunk.outputShape.length !== 1) throw new Error(`multiHead: the trunk must output flat features, got [${trunk.outputShape}]`);
    if (!Number.isInteger(options.numClasses) || options.numClasses < 1) throw new Error(`multiHead: numClasses must be a positive integer, got ${options.numClasses}`);
    if (options.head.kind !== 'dense') throw new Error(`multiHead: the head template must be a dense layer config, got '${options.head.kind}'`);
    this.trunk = trunk;
    this.inputShape = [...trunk.inputShape];
    this.features = trunk.outputShape[0] as number;
    this.numClasses = options.numClasses;
    this.outputShape = [options.numClasses];
    this.seed = options.seed ?? trunk.seed;
    this.template = { ...options.head };
    this.headName = options.headName;
    this.params = { ...trunk.params };
    this.state = { ...trunk.state };
  }

  /** The heads that exist: task index and classes, in the order they were added. */
  get headTasks(): { task: number; classes: readonly number[] }[] {
    return this.heads.map((h) => ({ task: h.task, classes: [...h.classes] }));
  }

  /** The parameter names of task `task`'s head (empty if it has none). */
  headParams(task: number): string[] {
    const h = this.heads.find((x) => x.task === task);
    return h ? Object.keys(h.layer.params).map((local) => `${h.layer.name}/${local}`) : [];
  }

  /**
   * Adds task `task`'s head over `classes` unless it exists (then its classes must be the same).
   * Its initial weights depend only on the model's seed and `task`, never on when it is added.
   * Returns true when a head was added.
   */
  ensureHead(task: number, classes: readonly number[] | undefined): boolean {
    this.assertLive();
    if (!Number.isInteger(task) || task < 0) throw new Error(`multiHead: task index must be a whole number ≥ 0, got ${task}`);
    if (!classes || classes.length === 0) {
      throw new Error(`multiHead: task ${task} has no classes (Task.classes); a multi-head model needs the task label, i.e. the task-incremental scenario`);
    }
    const have = this.heads.find((h) => h.task === task);
    if (have) {
      if (have.classes.length !== classes.length || have.classes.some((c, i) => c !== classes[i])) {
        throw new Error(`multiHead: task ${task}'s head is over classes [${have.classes}], the task now has [${classes}]`);
      }
      return false;
    }
    for (const c of classes) {
      if (!Number.isInteger(c) || c < 0 || c >= this.numClasses) throw new Error(`multiHead: task ${task} has class ${c}, outside 0..${this.numClasses - 1}`);
      const other = this.heads.find((h) => h.classes.includes(c));
      if (other) throw new Error(`multiHead: class ${c} of task ${task} already belongs to task ${other.task}'s head; heads' classes must be disjoint`);
    }
    const layer = layerFromConfig({ ...this.template, units: classes.length }) as Dense;
    layer.name = `${this.headName}_task${task}`;
    layer.build([this.features], new Rng(this.seed).fork(layer.name));
    this.heads.push({ task, classes: [...classes], layer });
    for (const [local, v] of Object.entries(layer.params)) this.params[`${layer.name}/${local}`] = v;
    return true;
  }

  get layers(): Layer[] {
    return [...this.trunk.layers, ...this.heads.map((h) => h.layer)];
  }

  get parametricLayers(): Layer[] {
    return this.layers.filter((l) => Object.keys(l.params).length > 0);
  }

  /** The trunk's layers, then every head on the trunk's features; head k's outputs go to its classes' columns. */
  logits(x: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.assertLive();
    const ctx = {
      training: options.training ?? false,
      ...(options.rng ? { rng: options.rng } : {}),
      ...(options.capture ? { capture: options.capture } : {}),
      ...(options.taps ? { taps: options.taps } : {}),
      ...(options.exampleSums ? { exampleSums: options.exampleSums } : {}),
    };
    let h = this.trunk.reshapeInput(x);
    let open: string | undefined;
    for (const layer of this.trunk.layers) {
      h = layer.apply(h, ctx);
      if (!options.capture) continue;
      if (Object.keys(layer.params).length > 0) open = layer.name;
      else if (layer.kind === 'activation' && open) (options.capture[open] as LayerCapture).output = h;
      else open = undefined;
    }
    const n = h.shape[0] as number;
    const zs = this.heads.map((head) => {
      const z = head.layer.apply(h, ctx);
      const c = options.capture?.[head.layer.name];
      if (c) c.output = tf.softmax(z);
      return z;
    });
    // column c of the logits: its head's output, or the appended zero column for a class of no head
    const index = new Int32Array(this.numClasses).fill(this.heads.reduce((a, hd) => a + hd.classes.length, 0));
    let offset = 0;
    for (const head of this.heads) {
      head.classes.forEach((c, k) => {
        index[c] = offset + k;
      });
      offset += head.classes.length;
    }
    return tf.gather(tf.concat([...zs, tf.zeros([n, 1])], 1), tf.tensor1d(index, 'int32'), 1);
  }

  apply(x: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return this.logits(x, options);
  }

  predict(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.softmax(this.logits(x)));
  }

  layerShapes(_exampleShape?: readonly number[]): Record<string, LayerShapes> {
    const out: Record<string, LayerShapes> = { ...this.trunk.shapes };
    for (const h of this.heads) out[h.layer.name] = { input: [this.features], output: [h.classes.length] };
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

  /** Enough to rebuild the model with its heads (`multiHeadFromConfig`); the weights go with `getWeights`. */
  config(): MultiHeadConfig {
    return {
      format: 'forgetless-multi-head',
      trunk: this.trunk.config(),
      head: { ...this.template },
      headName: this.headName,
      numClasses: this.numClasses,
      seed: this.seed,
      heads: this.heads.map((h) => ({ task: h.task, classes: [...h.classes] })),
    };
  }

  summary(): string {
    const heads = this.heads.map((h) => `${h.layer.name.padEnd(14)} [${h.classes.length}] classes [${h.classes}]`.padEnd(34));
    return [this.trunk.summary().split('\n').slice(0, -1).join('\n'), ...heads, `total parameters: ${this.countParams()}`].join('\n');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.trunk.dispose();
    for (const h of this.heads) for (const v of Object.values(h.layer.params)) v.dispose();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('model: this model has been disposed');
  }
}

/**
 * A multi-head model from a `Sequential` classifier: its layers before the last Dense are the trunk
 * (rebuilt from the same config and seed, so they start from the same weights), the last Dense is
 * the template of every head, and `numClasses` (default its width) the number of classes over all
 * tasks. No head exists yet. `model` is not changed (dispose it if it is not needed).
 */
export function multiHead(model: Sequential, options: { numClasses?: number } = {}): MultiHead {
  const config = model.config();
  let at = -1;
  config.layers.forEach((l, i) => {
    if (l.kind === 'dense') at = i;
  });
  if (at <= 0) throw new Error('multiHead: the model needs a Dense head after at least one trunk layer');
  const rest = config.layers.slice(at + 1);
  if (rest.length > 0) throw new Error(`multiHead: the head must be the model's last layer (it is followed by '${rest[0]?.kind}'); its logits are the heads' outputs`);
  const head = config.layers[at] as LayerConfig & { units: number; activation?: { name?: string } };
  if (head.activation?.name && head.activation.name !== 'linear') throw new Error(`multiHead: the head must output logits (linear), got activation '${head.activation.name}'`);
  const trunk = modelFromConfig({ ...config, layers: config.layers.slice(0, at) });
  const headName = (model.layers[at] as Layer).name;
  return new MultiHead(trunk, { head, headName, numClasses: options.numClasses ?? head.units, seed: config.seed });
}

/** Rebuilds a multi-head model with its heads from `config()` (weights freshly initialised: set them with `setWeights`). */
export function multiHeadFromConfig(config: MultiHeadConfig): MultiHead {
  if (config?.format !== 'forgetless-multi-head') throw new Error("multiHeadFromConfig: not a forgetless multi-head config (format 'forgetless-multi-head')");
  const model = new MultiHead(modelFromConfig(config.trunk), { head: config.head, headName: config.headName, numClasses: config.numClasses, seed: config.seed });
  for (const h of config.heads) model.ensureHead(h.task, h.classes);
  return model;
}

export function isMultiHead(model: Model): model is MultiHead {
  return model instanceof MultiHead;
}
