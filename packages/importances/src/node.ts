/**
 * Node-only (`@forgetless/importances/node`): importances as `<path>.json` + `<path>.bin` in the tfjs
 * weights format, through core's `saveParamMap` / `loadParamMap`, with importance metadata.
 */
import { readFile } from 'node:fs/promises';
import type { ParamMap } from '@forgetless/core';
import { loadParamMap, saveParamMap } from '@forgetless/core/node';
import { type ImportanceDescription, type ImportanceMetadata, importanceMetadata } from './format.js';

/** Writes `<path>.json` and `<path>.bin` (atomically); returns the manifest's path. */
export async function saveImportances(path: string, importances: ParamMap, description: ImportanceDescription): Promise<string> {
  if (!description || typeof description.method !== 'string' || description.method.length === 0) {
    throw new Error('saveImportances: metadata.method must be a non-empty string');
  }
  return saveParamMap(path, importances, { ...description, kind: 'forgetless-importances' });
}

/** Loads what `saveImportances` wrote; with `expected`, checks names and shapes against it. */
export async function loadImportances(path: string, expected?: ParamMap): Promise<{ importances: ParamMap; metadata: ImportanceMetadata }> {
  const jsonPath = path.endsWith('.json') ? path : `${path}.json`;
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (e) {
    throw new Error(`${jsonPath}: cannot read the manifest (${(e as Error).message})`);
  }
  const metadata = importanceMetadata(manifest, jsonPath);
  return { importances: await loadParamMap(jsonPath, expected), metadata };
}
