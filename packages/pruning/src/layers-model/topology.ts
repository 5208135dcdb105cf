/**
 * The topology of a TensorFlow.js LayersModel (model.json's `modelTopology`): a `Sequential`, or a
 * functional `Model` whose graph is a chain (each layer fed by exactly one other, one input, one
 * output). Keras-converted files (`model_config` wrapper) and Keras 3 node records are read too.
 * Branching graphs and shared layers are errors naming the layer at fault.
 */

export interface KerasLayer {
  className: string;
  name: string;
  config: Record<string, unknown>;
}

export interface ParsedTopology {
  /** 'Sequential' or 'Model' (or 'Functional'). */
  className: string;
  /** The layers in the order data flows through them (InputLayer first when present). */
  chain: KerasLayer[];
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function layerOf(raw: unknown, source: string, index: number): KerasLayer & { inbound: unknown } {
  if (!isObject(raw) || typeof raw.class_name !== 'string') throw new Error(`${source}: layer #${index} of the topology has no class_name`);
  const config = isObject(raw.config) ? raw.config : {};
  const name = typeof raw.name === 'string' ? raw.name : typeof config.name === 'string' ? config.name : undefined;
  if (!name) throw new Error(`${source}: layer #${index} (class ${raw.class_name}) has no name`);
  return { className: raw.class_name, name, config, inbound: raw.inbound_nodes };
}

/** Names of the layers feeding one node, from the Keras 2 / tfjs form [[name, node, tensor, kwargs], ...] or the Keras 3 form { args: [...] }. */
function inboundNames(node: unknown): string[] {
  if (Array.isArray(node)) return node.filter((e) => Array.isArray(e) && typeof e[0] === 'string').map((e) => e[0] as string);
  if (isObject(node)) {
    const names: string[] = [];
    const visit = (x: unknown) => {
      if (Array.isArray(x)) x.forEach(visit);
      else if (isObject(x)) {
        const hist = isObject(x.config) ? x.config.keras_history : undefined;
        if (Array.isArray(hist) && typeof hist[0] === 'string') names.push(hist[0]);
        else Object.values(x).forEach(visit);
      }
    };
    visit(node.args);
    return names;
  }
  return [];
}

/** The model config inside `modelTopology` (tfjs: the topology itself; Keras conversions: `model_config`). */
function modelConfig(topology: unknown, source: string): Record<string, unknown> {
  if (!isObject(topology)) throw new Error(`${source}: modelTopology is missing or not an object (is this a LayersModel model.json?)`);
  const inner = isObject(topology.model_config) ? topology.model_config : topology;
  if (typeof inner.class_name !== 'string') throw new Error(`${source}: modelTopology has no class_name (a graph model from tfjs-converter is not a LayersModel)`);
  return inner;
}

export function parseTopology(topology: unknown, source: string): ParsedTopology {
  const mc = modelConfig(topology, source);
  const className = mc.class_name as string;
  const cfg = mc.config;
  const rawLayers = Array.isArray(cfg) ? cfg : isObject(cfg) && Array.isArray(cfg.layers) ? cfg.layers : undefined;
  if (!rawLayers) throw new Error(`${source}: the ${className} topology has no layers list`);
  const layers = rawLayers.map((l, i) => layerOf(l, source, i));
  if (className === 'Sequential') return { className, chain: layers.map(({ inbound: _i, ...l }) => l) };
  if (className !== 'Model' && className !== 'Functional') throw new Error(`${source}: unsupported model class '${className}' (expected Sequential or a functional Model)`);

  // functional: follow the single path from the input layer to the output layer
  const byName = new Map(layers.map((l) => [l.name, l]));
  const feeds = new Map<string, string[]>(); // layer → layers it feeds
  const fedBy = new Map<string, string>();
  for (const l of layers) {
    const nodes = Array.isArray(l.inbound) ? l.inbound : [];
    if (nodes.length > 1) throw new Error(`${source}: layer '${l.name}' (class ${l.className}) is called ${nodes.length} times (shared layers are not supported)`);
    const ins = nodes.length ? inboundNames(nodes[0]) : [];
    if (ins.length > 1) throw new Error(`${source}: layer '${l.name}' (class ${l.className}) has ${ins.length} inputs (${ins.join(', ')}); only chains of layers are supported`);
    for (const from of ins) {
      if (!byName.has(from)) throw new Error(`${source}: layer '${l.name}' is fed by unknown layer '${from}'`);
      fedBy.set(l.name, from);
      feeds.set(from, [...(feeds.get(from) ?? []), l.name]);
    }
  }
  const ends = (key: string) => {
    const list = isObject(cfg) && Array.isArray(cfg[key]) ? (cfg[key] as unknown[]) : [];
    // [[name, 0, 0], ...] or, with one tensor, [name, 0, 0]
    return (typeof list[0] === 'string' ? [list] : list).map((e) => (Array.isArray(e) ? e[0] : undefined)).filter((n): n is string => typeof n === 'string');
  };
  const inputs = ends('input_layers');
  const outputs = ends('output_layers');
  if (inputs.length !== 1 || outputs.length !== 1) {
    throw new Error(`${source}: the model has ${inputs.length} inputs and ${outputs.length} outputs; only one of each is supported`);
  }
  const chain: KerasLayer[] = [];
  let at: string | undefined = inputs[0];
  const seen = new Set<string>();
  while (at !== undefined) {
    const l = byName.get(at);
    if (!l) throw new Error(`${source}: the input/output names unknown layer '${at}'`);
    if (seen.has(at)) throw new Error(`${source}: layer '${at}' closes a cycle`);
    seen.add(at);
    const { inbound: _i, ...layer } = l;
    chain.push(layer);
    if (at === outputs[0]) break;
    const next: string[] = feeds.get(at) ?? [];
    if (next.length !== 1) {
      const detail = next.length === 0 ? 'feeds no layer before the output is reached' : `feeds ${next.length} layers (${next.join(', ')}): a branching graph`;
      throw new Error(`${source}: layer '${at}' (class ${l.className}) ${detail}; only chains of layers are supported`);
    }
    at = next[0];
  }
  const unused = layers.filter((l) => !seen.has(l.name));
  if (unused.length) {
    const u = unused[0] as KerasLayer;
    throw new Error(`${source}: layer '${u.name}' (class ${u.className}) is not on the path from input to output; only chains of layers are supported`);
  }
  return { className, chain };
}
