/**
 * Structural pruning in one call: dependency groups, group scores from an importance map, the
 * lowest groups removed to a target, and a smaller model (Torch-Pruning's recipe, Fang et al. 2023,
 * for TensorFlow.js graphs).
 */
import { type GraphModel, type LoadedLayersModel, type Sequential, disposeParams } from '@forgetless/core';
import { type ImportanceSource, type ImportanceSpec, resolveImportance } from '../importance.js';
import { type DependencyGroups, dependencyGroups } from './groups.js';
import { removeGroupsFromLayersModel } from './layers-model.js';
import { removeGroups } from './remove.js';
import { type GroupReduce, type SelectOptions, type Selection, groupImportance, groupScores, hostImportances, selectGroups } from './score.js';

export interface StructurePruneOptions extends SelectOptions, ImportanceSource {
  /** A method of @forgetless/importances (`magnitude`, `sig`, `fisher`, `mas`, `si`, `taylor`) or a map. */
  importance: ImportanceSpec;
  /** How a group's importances reduce to its score (default 'l1'; 'abs-sum', |Σ θ·ḡ|, for `taylor`). */
  reduce?: GroupReduce;
}

export interface StructurePruneResult<M> {
  /** The smaller model (new; the input is left unchanged, and the caller owns both). */
  model: M;
  groups: DependencyGroups;
  /** Parameter, FLOP and channel counts before and after, and the removed groups' ids. */
  selection: Selection;
}

async function plan(model: GraphModel | Sequential, options: StructurePruneOptions): Promise<{ groups: DependencyGroups; selection: Selection }> {
  const what = 'pruneStructure';
  const { importance, calibration } = options;
  const { reduce, importanceOptions } = groupImportance(importance, options.reduce, options.importanceOptions, what);
  const groups = dependencyGroups(model);
  const { importances, owned } = await resolveImportance(model, importance, { ...(calibration ? { calibration } : {}), ...(importanceOptions ? { importanceOptions } : {}) }, what);
  let host: Record<string, Float32Array>;
  try {
    host = await hostImportances(importances);
  } finally {
    if (owned) disposeParams(importances);
  }
  const scores = groupScores(groups, host, reduce);
  const selection = selectGroups(groups, scores, {
    target: options.target,
    ...(options.scope ? { scope: options.scope } : {}),
    ...(options.minWidth ? { minWidth: options.minWidth } : {}),
  });
  return { groups, selection };
}

/** A smaller copy of a forgetless model (Sequential or GraphModel) without its least important groups. */
export async function pruneStructure<M extends GraphModel | Sequential>(model: M, options: StructurePruneOptions): Promise<StructurePruneResult<M>> {
  const { groups, selection } = await plan(model, options);
  return { model: await removeGroups(model, groups, selection.removed), groups, selection };
}

/** The same for a loaded LayersModel: the result saves as a smaller, stock-loadable model.json with its quantization. */
export async function pruneLayersModelStructure(loaded: LoadedLayersModel, options: StructurePruneOptions): Promise<StructurePruneResult<LoadedLayersModel>> {
  const { groups, selection } = await plan(loaded.model, options);
  return { model: await removeGroupsFromLayersModel(loaded, groups, selection.removed), groups, selection };
}
