/**
 * What pruning left: exact zeros counted per parameter, per layer and in total (measured in the
 * weights, not taken from the masks), and file sizes: the dense shards raw and gzipped, and the
 * sparse export (`sparse.ts`) raw and gzipped. A pruned dense file is no smaller raw (zeros are
 * still 4 bytes); gzip and the sparse export are where pruning pays.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { ParamMap } from '@forgetless/core';
import { layerOf } from './scope.js';

export interface ParamSparsity {
  name: string;
  layer: string;
  size: number;
  zeros: number;
  sparsity: number;
  /** A mask covers it. */
  masked: boolean;
  /** Zeros it held before pruning (a quantized pretrained weight often has many). */
  zerosBefore?: number;
  /** Entries pruning turned to zero: zeros − zerosBefore. */
  newlyZeroed?: number;
}

export interface Tally {
  size: number;
  zeros: number;
  sparsity: number;
  zerosBefore?: number;
  newlyZeroed?: number;
}

export interface SparsityReport {
  params: ParamSparsity[];
  layers: (Tally & { layer: string })[];
  /** Over every parameter of the map. */
  total: Tally;
  /** Over the masked parameters only (the pruning target's population). */
  masked: Tally;
}

function tally(list: readonly { size: number; zeros: number; zerosBefore?: number }[]): Tally {
  const size = list.reduce((n, p) => n + p.size, 0);
  const zeros = list.reduce((n, p) => n + p.zeros, 0);
  const out: Tally = { size, zeros, sparsity: size ? zeros / size : 0 };
  if (list.length && list.every((p) => p.zerosBefore !== undefined)) {
    out.zerosBefore = list.reduce((n, p) => n + (p.zerosBefore as number), 0);
    out.newlyZeroed = zeros - out.zerosBefore;
  }
  return out;
}

/** Exact zeros (±0) of each tensor, by name. */
export async function countZeros(weights: ParamMap): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, t] of Object.entries(weights)) {
    const v = await (t as tf.Tensor).data();
    let zeros = 0;
    for (let i = 0; i < v.length; i++) if (v[i] === 0) zeros++;
    out[name] = zeros;
  }
  return out;
}

/** Counts the exact zeros (±0) of every tensor of `weights`. */
export async function sparsityReport(weights: ParamMap, options: { masks?: ParamMap; zerosBefore?: Record<string, number> } = {}): Promise<SparsityReport> {
  const params: ParamSparsity[] = [];
  const counts = await countZeros(weights);
  for (const [name, t] of Object.entries(weights)) {
    const size = t.size;
    const zeros = counts[name] as number;
    const before = options.zerosBefore?.[name];
    params.push({
      name,
      layer: layerOf(name),
      size,
      zeros,
      sparsity: size ? zeros / size : 0,
      masked: Boolean(options.masks?.[name]),
      ...(before !== undefined ? { zerosBefore: before, newlyZeroed: zeros - before } : {}),
    });
  }
  const layerNames = [...new Set(params.map((p) => p.layer))];
  return {
    params,
    layers: layerNames.map((layer) => ({ layer, ...tally(params.filter((p) => p.layer === layer)) })),
    total: tally(params),
    masked: tally(params.filter((p) => p.masked)),
  };
}

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;

/** The report as a markdown table (one row per parameter, then per-layer and total rows). */
export function formatSparsityReport(
  report: SparsityReport,
  options: { names?: (name: string) => string | undefined; dtypes?: (name: string) => string | undefined } = {},
): string {
  const before = report.total.zerosBefore !== undefined;
  const dtype = (name: string) => (options.dtypes ? ` ${options.dtypes(name) ?? ''} |` : '');
  const extra = (t: Tally) => (before ? ` ${t.zerosBefore} | ${t.newlyZeroed} |` : '');
  const rows = [
    `| parameter | size | zeros | sparsity |${before ? ' zeros before | newly removed |' : ''}${options.dtypes ? ' stored as |' : ''}`,
    `| --- | ---: | ---: | ---: |${before ? ' ---: | ---: |' : ''}${options.dtypes ? ' --- |' : ''}`,
    ...report.params.map((p) => {
      const alias = options.names?.(p.name);
      return `| ${p.name}${alias && alias !== p.name ? ` (${alias})` : ''}${p.masked ? '' : ' (unmasked)'} | ${p.size} | ${p.zeros} | ${pct(p.sparsity)} |${extra(p)}${dtype(p.name)}`;
    }),
    ...report.layers.map((l) => `| **layer ${l.layer}** | ${l.size} | ${l.zeros} | ${pct(l.sparsity)} |${extra(l)}${options.dtypes ? ' |' : ''}`),
    `| **masked parameters** | ${report.masked.size} | ${report.masked.zeros} | ${pct(report.masked.sparsity)} |${extra(report.masked)}${options.dtypes ? ' |' : ''}`,
    `| **all parameters** | ${report.total.size} | ${report.total.zeros} | ${pct(report.total.sparsity)} |${extra(report.total)}${options.dtypes ? ' |' : ''}`,
  ];
  return `${rows.join('\n')}\n`;
}

export interface SizeReport {
  /** The dense weight shards as saved. */
  dense: { bytes: number; gzipBytes: number };
  /** The sparse export of the same weights. */
  sparse: { bytes: number; gzipBytes: number };
  /** The sparse export is smaller than the gzipped dense shards. */
  sparsePays: boolean;
}

/** Size of the gzip of `bytes` (default level, as `CompressionStream('gzip')`: browsers and Node ≥ 18). */
export async function gzipSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream('gzip'));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** Raw and gzip sizes of dense shards and of their sparse export. */
export async function sizeReport(dense: Uint8Array, sparse: Uint8Array, gzip: (b: Uint8Array) => number | Promise<number> = gzipSize): Promise<SizeReport> {
  const d = { bytes: dense.byteLength, gzipBytes: await gzip(dense) };
  const s = { bytes: sparse.byteLength, gzipBytes: await gzip(sparse) };
  return { dense: d, sparse: s, sparsePays: Math.min(s.bytes, s.gzipBytes) < d.gzipBytes };
}
