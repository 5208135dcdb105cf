/**
 * Parameter maps in the tfjs weights format: a JSON manifest (`weightsManifest`, as in a tfjs
 * model.json) naming each tensor with its shape and dtype, and one binary buffer. Any tool that reads
 * tfjs weights (`tf.io.decodeWeights`) can read these files.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ParamMap } from './params.js';

export interface ParamMapManifest {
  format: 'forgetless-params';
  formatVersion: 1;
  /** Free-form description: which importance, which task, ... */
  metadata?: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** Encodes a map as a manifest plus one float32 buffer. `binName` is the shard's file name. */
export async function encodeParamMap(map: ParamMap, binName: string, metadata?: Record<string, unknown>): Promise<{ manifest: ParamMapManifest; data: ArrayBuffer }> {
  const { data, specs } = await tf.io.encodeWeights(map);
  const manifest: ParamMapManifest = {
    format: 'forgetless-params',
    formatVersion: 1,
    ...(metadata ? { metadata } : {}),
    weightsManifest: [{ paths: [binName], weights: specs }],
  };
  return { manifest, data };
}

/**
 * Decodes a manifest and its buffer. Every error names `source` (a file name or URL) and what is
 * wrong; with `expected`, names and shapes are checked against it and the offending parameter named.
 */
export function decodeParamMap(manifest: unknown, data: ArrayBuffer, source: string, expected?: ParamMap): ParamMap {
  const m = manifest as Partial<ParamMapManifest>;
  if (!m || typeof m !== 'object' || !Array.isArray(m.weightsManifest)) {
    throw new Error(`${source}: not a weights manifest (no 'weightsManifest' array)`);
  }
  const specs = m.weightsManifest.flatMap((g) => g.weights ?? []);
  let bytes = 0;
  const seen = new Set<string>();
  for (const s of specs) {
    if (typeof s.name !== 'string' || !Array.isArray(s.shape)) {
      throw new Error(`${source}: a manifest entry lacks a name or shape`);
    }
    if (seen.has(s.name)) throw new Error(`${source}: parameter '${s.name}' appears twice`);
    seen.add(s.name);
    if (s.dtype !== 'float32' && s.dtype !== 'int32') {
      throw new Error(`${source}: parameter '${s.name}' has unsupported dtype '${s.dtype}'`);
    }
    if (s.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`${source}: parameter '${s.name}' has an invalid shape [${s.shape}]`);
    }
    bytes += 4 * s.shape.reduce((a, b) => a * b, 1);
  }
  if (bytes !== data.byteLength) {
    throw new Error(`${source}: the weights data has ${data.byteLength} bytes but the manifest describes ${bytes} (truncated or mismatched file)`);
  }
  if (expected) {
    for (const s of specs) {
      const e = expected[s.name];
      if (!e) throw new Error(`${source}: parameter '${s.name}' is not a parameter of the model`);
      if (e.shape.length !== s.shape.length || e.shape.some((d, i) => d !== s.shape[i])) {
        throw new Error(`${source}: parameter '${s.name}' has shape [${s.shape}] but the model's is [${e.shape}]`);
      }
    }
    for (const name of Object.keys(expected)) {
      if (!seen.has(name)) throw new Error(`${source}: parameter '${name}' is missing`);
    }
  }
  return tf.io.decodeWeights(data, specs) as ParamMap;
}
