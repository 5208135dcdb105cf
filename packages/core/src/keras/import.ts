/**
 * A Keras / tfjs-layers topology → a forgetless `GraphModel`, layer by layer through the converter
 * registry (`registry.ts`), and the binding of every forgetless weight to its Keras weight. Every
 * unsupported layer, unsupported option and graph problem of a model is reported in one error.
 *
 * A classifier that ends in a softmax (fused into its last Dense/Conv, or a Softmax/Activation
 * layer) becomes a graph whose `logits` leave the softmax out and whose `apply`/`predict` put it
 * back (`outputSoftmax`), so losses and importances see logits and predictions equal Keras's.
 * Layers with `trainable: false` are frozen.
 */
import { GraphModel, type GraphNode } from '../graph.js';
import type { ActivationSpec } from '../layers/activation.js';
import type { Layer, MergeLayer } from '../layers/layer.js';
import { kerasActivation } from './activations.js';
import './layers/index.js';
import { type ConvertContext, type ConvertedLayer, kerasLayerConverter, supportedKerasLayers } from './registry.js';
import { type KerasGraph, parseKerasTopology } from './topology.js';

/** A Keras layer and the forgetless layer it became: forgetless local weight → Keras local weight. */
export interface LayerBinding {
  keras: string;
  className: string;
  /** The forgetless layer's name (the Keras name), absent for identities (InputLayer, ...). */
  core?: string;
  weights: Record<string, string>;
}

export interface ImportedGraph {
  model: GraphModel;
  bindings: LayerBinding[];
  /** The Keras model ends in a softmax that `model.logits` leaves out. */
  outputSoftmax: boolean;
  graph: KerasGraph;
}

const RECURRENT = new Set(['LSTM', 'GRU', 'SimpleRNN', 'Bidirectional', 'TimeDistributed', 'ConvLSTM2D', 'RNN', 'StackedRNNCells', 'LSTMCell', 'GRUCell', 'SimpleRNNCell']);

export interface ImportOptions {
  /** Keep a final Softmax layer in the graph (set internally when its axis turns out not to be the last). */
  keepOutputSoftmax?: boolean;
  /** Layer names (or prefixes ending in `*`) to freeze, besides those with `trainable: false`. */
  freeze?: readonly string[];
  /** Seed of the initialisers run before weights are loaded (default 0). */
  seed?: number;
}

/** Builds the graph model of a topology (weights freshly initialised; `load.ts` fills them in). */
export function importKerasTopology(topology: unknown, source: string, options: ImportOptions = {}): ImportedGraph {
  const graph = parseKerasTopology(topology, source);
  const problems: string[] = [];
  const converted = new Map<string, ConvertedLayer>();
  let outputSoftmax = false;
  const outputLayer = graph.nodes.find((n) => n.name === graph.output)?.layer.name;
  for (const l of graph.layers) {
    const convert = kerasLayerConverter(l.className);
    if (!convert) {
      const why = RECURRENT.has(l.className) ? 'recurrent layers are not supported yet' : `supported: ${supportedKerasLayers().join(', ')}`;
      problems.push(`layer '${l.name}' (class ${l.className}) is not supported (${why})`);
      continue;
    }
    const isOutput = l.name === outputLayer;
    const ctx: ConvertContext = {
      source,
      isOutput,
      activation(value: unknown): ActivationSpec {
        const spec = kerasActivation(value);
        if (isOutput && spec.name === 'softmax') {
          outputSoftmax = true;
          return { name: 'linear' };
        }
        return spec;
      },
    };
    try {
      let c = convert(l, ctx);
      if (isOutput && !options.keepOutputSoftmax && c.layer?.kind === 'softmax' && maybeLastAxis(c.layer)) {
        outputSoftmax = true;
        c = { layer: undefined, weights: {} };
      }
      if (c.layer) c.layer.name = l.name;
      converted.set(l.name, c);
    } catch (e) {
      problems.push(`layer '${l.name}' (class ${l.className}): ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new Error(`${source}: ${problems.length} problem${problems.length > 1 ? 's' : ''} importing the model:\n  - ${problems.join('\n  - ')}`);

  // identities pass their input on; every other call becomes a graph node
  const alias = new Map<string, string>();
  const follow = (t: string) => {
    let at = t;
    while (alias.has(at)) at = alias.get(at) as string;
    return at;
  };
  const nodes: GraphNode[] = [];
  for (const n of graph.nodes) {
    const c = converted.get(n.layer.name) as ConvertedLayer;
    if (!c.layer) {
      if (n.inputs.length !== 1) throw new Error(`${source}: layer '${n.layer.name}' (class ${n.layer.className}) passes its input on but is called on ${n.inputs.length} tensors`);
      alias.set(n.name, n.inputs[0] as string);
      continue;
    }
    nodes.push({ name: n.name, layer: c.layer as Layer | MergeLayer, inputs: n.inputs.map(follow) });
  }
  const frozen = graph.layers.filter((l) => l.config.trainable === false && converted.get(l.name)?.layer).map((l) => l.name);
  let model: GraphModel;
  try {
    model = new GraphModel({
      input: graph.input,
      nodes,
      output: follow(graph.output),
      outputSoftmax,
      seed: options.seed ?? 0,
      frozen,
    });
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  const strippedAt = graph.nodes.find((n) => n.name === graph.output);
  const stripped = strippedAt && outputSoftmax && !converted.get(strippedAt.layer.name)?.layer;
  if (stripped && softmaxAxisOf(strippedAt.layer.config) === 1 && model.outputShape.length !== 1) {
    // axis 1 was not the last: keep the softmax as a layer
    model.dispose();
    return importKerasTopology(topology, source, { ...options, keepOutputSoftmax: true });
  }
  try {
    if (options.freeze?.length) model.setTrainable(options.freeze, false);
  } catch (e) {
    model.dispose();
    throw new Error(`${source}: freeze: ${(e as Error).message}`);
  }
  const bindings: LayerBinding[] = graph.layers.map((l) => {
    const c = converted.get(l.name) as ConvertedLayer;
    return { keras: l.name, className: l.className, ...(c.layer ? { core: l.name } : {}), weights: c.layer ? { ...c.weights } : {} };
  });
  return { model, bindings, outputSoftmax, graph };
}

/** −1, or 1 (tfjs-layers' saved default), which is the last axis of a classifier's [batch, classes] output. */
function softmaxAxis(layer: Layer | MergeLayer): unknown {
  const l = layer as { axis?: unknown; axes?: unknown };
  const a = l.axis ?? l.axes;
  return Array.isArray(a) && a.length === 1 ? a[0] : (a ?? -1);
}

function maybeLastAxis(layer: Layer | MergeLayer): boolean {
  const a = softmaxAxis(layer);
  return a === -1 || a === 1;
}

function softmaxAxisOf(config: Record<string, unknown>): unknown {
  const a = config.axis;
  return Array.isArray(a) && a.length === 1 ? a[0] : (a ?? -1);
}
