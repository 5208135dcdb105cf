/**
 * Which parameters pruning may touch, and how they group into layers. Parameter names are
 * `<layer>/<local>` (core's `dense_0/kernel`; a loaded Keras model's `block_1_expand/kernel`).
 * By default kernels are prunable (`kernel`, `depthwise_kernel`, `pointwise_kernel`, `embeddings`),
 * biases when asked (`biases: true`), and nothing else (normalisation scale and offset, PReLU slopes
 * only when listed in `params`).
 */

/** Local names of the weights pruned by default: the connection weights of every layer kind. */
export const KERNEL_NAMES: ReadonlySet<string> = new Set(['kernel', 'depthwise_kernel', 'pointwise_kernel', 'embeddings']);

export interface PruneScopeOptions {
  /** Also prune biases (default false; paper 2's experiment prunes them: true). */
  biases?: boolean;
  /** The parameters to prune, by name; replaces the kernels(+biases) default. */
  params?: readonly string[];
  /** Layer names (`dense_2`) or parameter names (`dense_2/bias`) left untouched. */
  exclude?: readonly string[];
}

/** The layer part of a parameter name (`dense_0/kernel` → `dense_0`). */
export function layerOf(name: string): string {
  const i = name.lastIndexOf('/');
  return i < 0 ? name : name.slice(0, i);
}

/** The local part of a parameter name (`dense_0/kernel` → `kernel`). */
export function localOf(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/**
 * The names of `available` (in their order) that pruning touches. Throws, naming the entry, when
 * `params` names an unknown parameter or `exclude` matches no layer or parameter (a typo would
 * otherwise silently prune the layer meant to be kept).
 */
export function prunableParams(available: readonly string[], options: PruneScopeOptions, what: string): string[] {
  const known = new Set(available);
  const layers = new Set(available.map(layerOf));
  for (const e of options.exclude ?? []) {
    if (!known.has(e) && !layers.has(e)) {
      throw new Error(`${what}: exclude names '${e}', which is neither a layer nor a parameter (layers: ${[...layers].join(', ')})`);
    }
  }
  const excluded = new Set(options.exclude ?? []);
  let chosen: string[];
  if (options.params) {
    for (const p of options.params) if (!known.has(p)) throw new Error(`${what}: params names '${p}', which has no importance (known: ${available.join(', ')})`);
    const wanted = new Set(options.params);
    chosen = available.filter((n) => wanted.has(n));
  } else {
    chosen = available.filter((n) => KERNEL_NAMES.has(localOf(n)) || (options.biases === true && localOf(n) === 'bias'));
  }
  return chosen.filter((n) => !excluded.has(n) && !excluded.has(layerOf(n)));
}

/** Groups names by layer, keeping the order of first appearance. */
export function groupByLayer(names: readonly string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const l = layerOf(n);
    const g = groups.get(l);
    if (g) g.push(n);
    else groups.set(l, [n]);
  }
  return groups;
}
