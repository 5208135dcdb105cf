/**
 * A user's live tfjs-layers model ↔ forgetless, without depending on tfjs-layers: the model is typed
 * by what is used of it. `fromLayersModel` serialises it with its own `save` (to memory) and
 * imports that; `writeBack` puts the forgetless weights (trained, pruned) into it with its own
 * `setWeights`. Weights are matched by their saved names (tfjs-layers' `originalName`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ImportOptions } from './import.js';
import { type LoadedLayersModel, loadLayersModelFromArtifacts } from './load.js';

/** The part of a tfjs-layers `LayersModel` used here. */
export interface LiveLayersModel {
  readonly name?: string;
  save(handler: tf.io.IOHandler): Promise<unknown>;
  readonly weights: readonly { readonly originalName?: string; readonly name: string; readonly shape: readonly (number | null)[]; read(): tf.Tensor }[];
  setWeights(weights: tf.Tensor[]): void;
}

/** Imports a live model: its current weights, as `model.save` writes them. */
export async function fromLayersModel(model: LiveLayersModel, options: ImportOptions & { source?: string } = {}): Promise<LoadedLayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const source = options.source ?? `layers model '${model.name ?? 'model'}'`;
  if (!artifacts) throw new Error(`fromLayersModel: ${source}: save() did not call the save handler`);
  const { source: _s, ...importOptions } = options;
  return loadLayersModelFromArtifacts(artifacts, source, importOptions);
}

/**
 * Sets the live model's weights to the forgetless model's, in `model.weights` order: each weight
 * whose manifest entry is bound takes the forgetless value, the others keep theirs. Throws naming
 * every live weight without a manifest entry (or of another shape) and every bound entry that no
 * live weight takes, before anything is set.
 */
export function writeBack(loaded: LoadedLayersModel, model: LiveLayersModel): void {
  const byName = new Map(loaded.entries.map((e) => [e.spec.name, e]));
  const all: Record<string, tf.Tensor> = { ...loaded.model.params, ...loaded.model.state };
  const problems: string[] = [];
  const taken = new Set<string>();
  const values = model.weights.map((w) => {
    const name = w.originalName ?? w.name;
    const e = byName.get(name);
    if (!e) {
      problems.push(`live weight '${name}' has no entry in ${loaded.source}'s manifest`);
      return undefined;
    }
    if (!e.core) return w.read();
    taken.add(e.spec.name);
    const t = all[e.core];
    if (!t) {
      problems.push(`live weight '${name}': the forgetless model has no '${e.core}'`);
      return undefined;
    }
    if (t.shape.length !== w.shape.length || t.shape.some((d, i) => d !== w.shape[i])) {
      problems.push(`live weight '${name}' has shape [${w.shape}] but forgetless '${e.core}' has [${t.shape}]`);
      return undefined;
    }
    return t;
  });
  for (const e of loaded.entries) if (e.core && !taken.has(e.spec.name)) problems.push(`forgetless '${e.core}' (weight '${e.spec.name}') has no live weight of that name`);
  if (problems.length) throw new Error(`writeBack: ${problems.length} weight${problems.length > 1 ? 's' : ''} cannot be matched:\n  - ${problems.join('\n  - ')}`);
  model.setWeights(values as tf.Tensor[]);
}
