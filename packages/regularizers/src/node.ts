/**
 * Node-only (`@forgetless/regularizers/node`): a consolidation's state in a folder, so a run can
 * resume. `consolidation.json` holds the metadata (kind, mode, λ, convention or η, γ, importance
 * method, task count) and names the parameter-map files beside it, each in the tfjs weights format
 * (core's `saveParamMap`: `<name>.json` manifest + `<name>.bin` float32): `importances` and
 * `anchors` (`importances-<k>`, `anchors-<k>` per task in separate mode) and `tracker` (SI's path
 * integral, the latest task importance). Files are written atomically, `consolidation.json` last.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ParamMap, disposeParams } from '@forgetless/core';
import { loadParamMap, saveParamMap, writeFileAtomic } from '@forgetless/core/node';
import type { Consolidation } from './consolidation.js';
import { type ConsolidationMeta, stateGroups, tensorsFromGroups } from './state.js';

export const CONSOLIDATION_FILE = 'consolidation.json';

interface ConsolidationFile extends ConsolidationMeta {
  format: 'forgetless-consolidation';
  formatVersion: 1;
  /** Group name → manifest file name, relative to the folder. */
  files: Record<string, string>;
}

/** Writes `plugin`'s state into `dir`; returns the path of `consolidation.json`. */
export async function saveConsolidation(dir: string, plugin: Consolidation): Promise<string> {
  const state = plugin.getState();
  const files: Record<string, string> = {};
  for (const [group, map] of Object.entries(stateGroups(state))) {
    await saveParamMap(join(dir, group), map, { kind: 'forgetless-consolidation-part', group, consolidation: state.meta.kind });
    files[group] = `${group}.json`;
  }
  const file = join(dir, CONSOLIDATION_FILE);
  const body: ConsolidationFile = { format: 'forgetless-consolidation', formatVersion: 1, ...state.meta, files };
  await writeFileAtomic(file, JSON.stringify(body, null, 1));
  return file;
}

/** The parameter name inside a tracker tensor name (`last/x`, `importances/x`, `si/omega/x`, `si/start/x`). */
function trackerParam(key: string): string {
  return key.replace(/^(si\/)?(last|importances|omega|start)\//, '');
}

/**
 * Loads a state saved by `saveConsolidation` into `plugin`, which must be configured alike (kind,
 * mode, λ, convention, importance method); with `params` (e.g. `model.params`) every map's names
 * and shapes are checked. Errors name the file and the field or parameter at fault. Returns the
 * metadata.
 */
export async function loadConsolidation(dir: string, plugin: Consolidation, options: { params?: ParamMap } = {}): Promise<ConsolidationMeta> {
  const file = join(dir, CONSOLIDATION_FILE);
  let body: Partial<ConsolidationFile>;
  try {
    body = JSON.parse(await readFile(file, 'utf8')) as Partial<ConsolidationFile>;
  } catch (e) {
    throw new Error(`${file}: cannot read the consolidation state (${(e as Error).message})`);
  }
  if (body?.format !== 'forgetless-consolidation') throw new Error(`${file}: not a forgetless consolidation state (format is not 'forgetless-consolidation')`);
  if (body.formatVersion !== 1) throw new Error(`${file}: unsupported formatVersion ${String(body.formatVersion)} (expected 1)`);
  const { format: _f, formatVersion: _v, files, ...meta } = body;
  const want: Record<string, unknown> = { kind: plugin.kind, mode: plugin.mode, lambda: plugin.lambda, method: plugin.tracker?.method ?? 'uniform' };
  for (const [key, value] of Object.entries(want)) {
    if ((meta as Record<string, unknown>)[key] !== value) {
      throw new Error(`${file}: the saved ${key} is ${JSON.stringify((meta as Record<string, unknown>)[key])}, the plugin's is ${JSON.stringify(value)}`);
    }
  }
  if (!files || typeof files !== 'object') throw new Error(`${file}: 'files' must name the parameter-map files`);
  const groups: Record<string, ParamMap> = {};
  try {
    for (const [group, name] of Object.entries(files)) {
      if (typeof name !== 'string' || name.includes('/') || name.includes('\\') || name.startsWith('.')) {
        throw new Error(`${file}: file '${String(name)}' of '${group}' is not a file name in the state's folder`);
      }
      const isModelMap = /^(importances|anchors)(-\d+)?$/.test(group);
      const path = join(dir, name);
      const map = await loadParamMap(path, isModelMap ? options.params : undefined);
      groups[group] = map;
      if (!isModelMap && options.params) {
        for (const [key, t] of Object.entries(map)) {
          const p = options.params[trackerParam(key)];
          if (!p) throw new Error(`${path}: '${key}' is not about a parameter of the model`);
          if (p.shape.length !== t.shape.length || p.shape.some((d, i) => d !== t.shape[i])) {
            throw new Error(`${path}: '${key}' has shape [${t.shape}] but the model's parameter has [${p.shape}]`);
          }
        }
      }
    }
    try {
      plugin.setState({ tensors: tensorsFromGroups(groups), meta: meta as ConsolidationMeta });
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
  } finally {
    for (const map of Object.values(groups)) disposeParams(map);
  }
  return meta as ConsolidationMeta;
}
