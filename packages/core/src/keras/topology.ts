/**
 * The topology of a Keras / TensorFlow.js LayersModel (model.json's `modelTopology`) as a flat graph
 * of layer calls: a `Sequential` is a chain; a functional `Model`/`Functional` is a DAG (merges,
 * fan-out, layers called at several nodes); models nested as layers are inlined. Keras-converted
 * files (`model_config` wrapper), tfjs-layers files and Keras 3 node records are read.
 *
 * Every problem found is collected (not thrown at the first): the importer reports them all at once.
 */
import type { KerasLayerConfig } from './registry.js';

/** One call of a layer. The tensor it produces is named `name` (`<layer>` for its first call, `<layer>#k` for call k). */
export interface KerasNode {
  name: string;
  layer: KerasLayerConfig;
  inputs: string[];
}

export interface KerasGraph {
  /** The model's input tensor name and per-example shape (`null` for unknown sizes). */
  input: { name: string; shape: (number | null)[] };
  /** Calls in file order (the importer sorts them). */
  nodes: KerasNode[];
  output: string;
  /** Every layer once (nested models' layers included, nested models themselves not). */
  layers: KerasLayerConfig[];
}

const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The model config inside `modelTopology` (tfjs: the topology itself; Keras conversions: `model_config`). */
export function modelConfigOf(topology: unknown, source: string): Record<string, unknown> {
  if (!isObject(topology)) throw new Error(`${source}: modelTopology is missing or not an object (is this a LayersModel model.json?)`);
  const inner = isObject(topology.model_config) ? topology.model_config : topology;
  if (typeof inner.class_name !== 'string') throw new Error(`${source}: modelTopology has no class_name (a graph model from tfjs-converter is not a LayersModel)`);
  return inner;
}

/** [layer, node, tensor] references of one inbound node: Keras 2 / tfjs lists, or Keras 3 `{ args }` records. */
function inboundRefs(node: unknown): [string, number, number][] {
  const refs: [string, number, number][] = [];
  if (Array.isArray(node)) {
    for (const e of node) if (Array.isArray(e) && typeof e[0] === 'string') refs.push([e[0], Number(e[1] ?? 0), Number(e[2] ?? 0)]);
    return refs;
  }
  if (isObject(node)) {
    const visit = (x: unknown) => {
      if (Array.isArray(x)) x.forEach(visit);
      else if (isObject(x)) {
        const hist = isObject(x.config) ? x.config.keras_history : undefined;
        if (Array.isArray(hist) && typeof hist[0] === 'string') refs.push([hist[0], Number(hist[1] ?? 0), Number(hist[2] ?? 0)]);
        else Object.values(x).forEach(visit);
      }
    };
    visit(node.args);
  }
  return refs;
}

function layerOf(raw: unknown, where: string, index: number, problems: string[]): (KerasLayerConfig & { inbound: unknown[]; raw: Record<string, unknown> }) | undefined {
  if (!isObject(raw) || typeof raw.class_name !== 'string') {
    problems.push(`${where}layer #${index} of the topology has no class_name`);
    return undefined;
  }
  const config = isObject(raw.config) ? raw.config : {};
  const name = typeof raw.name === 'string' ? raw.name : typeof config.name === 'string' ? config.name : undefined;
  if (!name) {
    problems.push(`${where}layer #${index} (class ${raw.class_name}) has no name`);
    return undefined;
  }
  return { className: raw.class_name, name, config, inbound: Array.isArray(raw.inbound_nodes) ? raw.inbound_nodes : [], raw };
}

/** Per-example input shape declared by a layer config, if any. */
export function declaredShape(config: Record<string, unknown>): (number | null)[] | undefined {
  const b = config.batch_input_shape ?? config.batch_shape;
  if (Array.isArray(b)) return b.slice(1).map((d) => (typeof d === 'number' ? d : null));
  if (Array.isArray(config.input_shape)) return config.input_shape.map((d) => (typeof d === 'number' ? d : null));
  return undefined;
}

const tensorName = (layer: string, node: number) => (node === 0 ? layer : `${layer}#${node}`);

interface Parsed {
  inputName: string | undefined;
  inputShape: (number | null)[] | undefined;
  nodes: KerasNode[];
  output: string | undefined;
  layers: KerasLayerConfig[];
}

/**
 * Parses a model config; `feed` is the outer tensor a nested model is called on (its own input
 * becomes an alias of it).
 */
function parseModel(mc: Record<string, unknown>, where: string, problems: string[], aliases: Map<string, string>, feed?: string): Parsed {
  const className = mc.class_name as string;
  const cfg = mc.config;
  const rawLayers = Array.isArray(cfg) ? cfg : isObject(cfg) && Array.isArray(cfg.layers) ? cfg.layers : undefined;
  const out: Parsed = { inputName: undefined, inputShape: undefined, nodes: [], output: undefined, layers: [] };
  if (!rawLayers) {
    problems.push(`${where}the ${className} topology has no layers list`);
    return out;
  }
  const layers = rawLayers.map((l, i) => layerOf(l, where, i, problems)).filter((l) => l !== undefined);
  const inner = (l: (typeof layers)[number], input: string): string | undefined => {
    // a nested model called on `input`: inline it, return its output tensor
    const sub = parseModel({ class_name: l.className, config: l.config }, `${where}nested model '${l.name}': `, problems, aliases, input);
    out.nodes.push(...sub.nodes);
    out.layers.push(...sub.layers);
    return sub.output;
  };

  if (className === 'Sequential') {
    let at = feed;
    for (const l of layers) {
      if (at === undefined) {
        const shape = declaredShape(l.config);
        if (!shape) {
          problems.push(`${where}the Sequential model declares no input shape (no InputLayer or batch_input_shape on its first layer '${l.name}')`);
          return out;
        }
        at = `${l.name}:input`;
        out.inputName = at;
        out.inputShape = shape;
      }
      if (l.className === 'InputLayer') {
        aliases.set(l.name, at);
        continue;
      }
      if (MODEL_CLASSES.has(l.className)) {
        at = inner(l, at);
        if (at === undefined) return out;
        continue;
      }
      out.nodes.push({ name: l.name, layer: { className: l.className, name: l.name, config: l.config }, inputs: [at] });
      out.layers.push({ className: l.className, name: l.name, config: l.config });
      at = l.name;
    }
    out.output = at;
    return out;
  }
  if (!MODEL_CLASSES.has(className)) {
    problems.push(`${where}unsupported model class '${className}' (expected Sequential or a functional Model)`);
    return out;
  }
  const c = isObject(cfg) ? cfg : {};
  const ends = (key: string): [string, number][] => {
    const list = Array.isArray(c[key]) ? (c[key] as unknown[]) : [];
    return (typeof list[0] === 'string' ? [list] : list).filter(Array.isArray).map((e) => [String(e[0]), Number(e[1] ?? 0)]);
  };
  const inputs = ends('input_layers');
  const outputs = ends('output_layers');
  if (inputs.length !== 1) problems.push(`${where}the model has ${inputs.length} inputs (${inputs.map((i) => i[0]).join(', ')}); forgetless models take one`);
  if (outputs.length !== 1) problems.push(`${where}the model has ${outputs.length} outputs (${outputs.map((o) => o[0]).join(', ')}); forgetless models give one`);
  const byName = new Map(layers.map((l) => [l.name, l]));
  // Node indices normally count the layer's calls in this model; tfjs-layers writes a nested
  // model's call with its global index (['trunk', 1, 0] for its only call here), so indices beyond
  // a layer's calls are mapped to calls by rank.
  const referenced = new Map<string, Set<number>>();
  const note = (r: [string, number, number] | [string, number]) => referenced.set(r[0], (referenced.get(r[0]) ?? new Set()).add(r[1]));
  for (const l of layers) for (const node of l.inbound) inboundRefs(node).forEach(note);
  outputs.forEach(note);
  const callOf = (layer: string, index: number): number => {
    const l = byName.get(layer);
    const calls = l ? Math.max(1, l.inbound.length) : 1;
    const refs = [...(referenced.get(layer) ?? [])].sort((a, b) => a - b);
    if (refs.every((r) => r < calls)) return index;
    return refs.indexOf(index);
  };
  const resolve = (ref: [string, number, number], user: string): string | undefined => {
    const [layer, node] = ref;
    const l = byName.get(layer);
    if (!l) {
      problems.push(`${where}layer '${user}' is fed by unknown layer '${layer}'`);
      return undefined;
    }
    return tensorName(layer, callOf(layer, node));
  };
  for (const l of layers) {
    if (l.className === 'InputLayer') {
      if (feed !== undefined) aliases.set(l.name, feed);
      else if (inputs[0]?.[0] === l.name) {
        out.inputName = l.name;
        out.inputShape = declaredShape(l.config);
        if (!out.inputShape) problems.push(`${where}input layer '${l.name}' declares no shape`);
      }
      continue;
    }
    if (l.inbound.length === 0) {
      problems.push(`${where}layer '${l.name}' (class ${l.className}) is not called on any input`);
      continue;
    }
    l.inbound.forEach((node, k) => {
      const refs = inboundRefs(node);
      const ins = refs.map((r) => resolve(r, l.name)).filter((n): n is string => n !== undefined);
      if (ins.length !== refs.length) return;
      if (MODEL_CLASSES.has(l.className)) {
        if (k > 0) {
          problems.push(`${where}nested model '${l.name}' is called ${l.inbound.length} times (a nested model can be called once)`);
          return;
        }
        if (ins.length !== 1) {
          problems.push(`${where}nested model '${l.name}' is called on ${ins.length} tensors (one is supported)`);
          return;
        }
        const o = inner(l, ins[0] as string);
        if (o !== undefined) aliases.set(tensorName(l.name, 0), o);
        return;
      }
      out.nodes.push({ name: tensorName(l.name, k), layer: { className: l.className, name: l.name, config: l.config }, inputs: ins });
    });
    if (!MODEL_CLASSES.has(l.className)) out.layers.push({ className: l.className, name: l.name, config: l.config });
  }
  const o = outputs[0];
  if (o && byName.has(o[0])) out.output = tensorName(o[0], callOf(o[0], o[1]));
  else if (o) problems.push(`${where}the output names unknown layer '${o[0]}'`);
  if (feed === undefined && out.inputName === undefined && inputs.length === 1) problems.push(`${where}the input names layer '${inputs[0]?.[0]}', which is not an InputLayer`);
  return out;
}

/** Parses a LayersModel topology into a flat graph; throws one error listing every problem. */
export function parseKerasTopology(topology: unknown, source: string): KerasGraph {
  const problems: string[] = [];
  const aliases = new Map<string, string>();
  const p = parseModel(modelConfigOf(topology, source), '', problems, aliases);
  const seen = new Map<string, number>();
  for (const l of p.layers) seen.set(l.name, (seen.get(l.name) ?? 0) + 1);
  for (const [name, count] of seen) if (count > 1) problems.push(`the layer name '${name}' is used ${count} times (nested models must not reuse their parent's names)`);
  if (problems.length || !p.inputName || !p.inputShape || !p.output) {
    if (!problems.length) problems.push('the model has no input or output');
    throw new Error(`${source}: ${problems.length} problem${problems.length > 1 ? 's' : ''} in the model topology:\n  - ${problems.join('\n  - ')}`);
  }
  const follow = (t: string): string => {
    let at = t;
    for (let i = 0; aliases.has(at) && i < 1000; i++) at = aliases.get(at) as string;
    return at;
  };
  return {
    input: { name: p.inputName, shape: p.inputShape },
    nodes: p.nodes.map((n) => ({ ...n, inputs: n.inputs.map(follow) })),
    output: follow(p.output),
    layers: p.layers,
  };
}
