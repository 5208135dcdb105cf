/**
 * Importances on disk or over the network: a parameter map in the tfjs weights format (core's
 * `encodeParamMap`: a JSON manifest naming each parameter with shape and dtype, plus one float32
 * buffer) whose manifest metadata says what the importance is. Any tfjs weights reader can load it.
 */
import { type ParamMap, type ParamMapManifest, decodeParamMap, encodeParamMap } from '@forgetless/core';

export interface ImportanceMetadata {
  kind: 'forgetless-importances';
  /** fisher, mas, si, sig, magnitude (or any name for other importances). */
  method: string;
  /** E.g. the Fisher variant or the MAS output. */
  variant?: string;
  /** Tasks the importance covers (names), in order. */
  tasks?: string[];
  /** How task importances were combined (sum, decay, max, mean). */
  accumulate?: string;
  [key: string]: unknown;
}

export type ImportanceDescription = Omit<ImportanceMetadata, 'kind'>;

function checkDescription(d: ImportanceDescription, what: string): void {
  if (!d || typeof d.method !== 'string' || d.method.length === 0) throw new Error(`${what}: metadata.method must be a non-empty string`);
  if (d.tasks !== undefined && (!Array.isArray(d.tasks) || d.tasks.some((t) => typeof t !== 'string'))) {
    throw new Error(`${what}: metadata.tasks must be an array of task names`);
  }
}

/** Manifest + float32 buffer for `importances`; `binName` is the buffer's file name. */
export async function encodeImportances(
  importances: ParamMap,
  description: ImportanceDescription,
  binName = 'importances.bin',
): Promise<{ manifest: ParamMapManifest; data: ArrayBuffer }> {
  checkDescription(description, 'encodeImportances');
  return encodeParamMap(importances, binName, { ...description, kind: 'forgetless-importances' });
}

/** The importance metadata of a manifest; throws naming `source` if it is not an importance file. */
export function importanceMetadata(manifest: unknown, source: string): ImportanceMetadata {
  const meta = (manifest as Partial<ParamMapManifest> | null)?.metadata as Partial<ImportanceMetadata> | undefined;
  if (meta?.kind !== 'forgetless-importances') {
    throw new Error(`${source}: not a forgetless importance file (metadata.kind is not 'forgetless-importances')`);
  }
  checkDescription(meta as ImportanceDescription, source);
  return meta as ImportanceMetadata;
}

/**
 * Decodes what `encodeImportances` wrote. With `expected` (e.g. `model.params`), names and shapes
 * are checked and the offending parameter named.
 */
export function decodeImportances(manifest: unknown, data: ArrayBuffer, source: string, expected?: ParamMap): { importances: ParamMap; metadata: ImportanceMetadata } {
  const metadata = importanceMetadata(manifest, source);
  return { importances: decodeParamMap(manifest, data, source, expected), metadata };
}
