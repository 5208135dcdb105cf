/**
 * Sweeps as cells. A sweep (an experiment's variants × λ × seeds) is a list of cells, one run each:
 * one method, one λ, one seed and the full config that run needs. A cell's id is a SHA-256 of its
 * canonical config and of the data's fingerprint, so the same run on the same data has the same id
 * wherever and whenever it is made: an executor can skip a cell whose result it holds, and resume a
 * cell from the per-task checkpoint kept under its id. Cells are independent (each builds its model,
 * optimizer and plugins from its seed), so running them in any order, in any process, gives the
 * results `runExperiment` gives for the whole sweep, run for run.
 *
 * Browser-safe: no node:* imports.
 */
import type { Task } from '@forgetless/core';
import { sha256Hex } from '@forgetless/datasets';
import { type ExperimentConfig, type RunKey, runKeys, validateConfig } from './config.js';
import { variantLabel } from './methods.js';
import { type ExperimentResult, type RunOptions, type RunRecord, runExperiment } from './run.js';

/** One run of a sweep. */
export interface Cell {
  /** SHA-256 (hex) of the canonical cell config and the data fingerprint. */
  id: string;
  /** The run's index in `runKeys` of the sweep's config (its place in results.json). */
  index: number;
  /** Runs in the sweep. */
  of: number;
  key: RunKey;
  /** The variant's label, e.g. `ewc-mas`. */
  label: string;
  /** The config of this run alone: one variant with one λ, one seed. */
  config: ExperimentConfig;
  /** The data fingerprint the id was made with (a worker checks its data against it). */
  data: string;
}

/** JSON with keys sorted at every level (undefined fields dropped): equal configs give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

/** SHA-256 (hex) of a string's UTF-8 bytes. */
export function sha256Text(text: string): Promise<string> {
  return sha256Hex(new TextEncoder().encode(text));
}

/** The config of run `key` of `config` alone. */
export function cellConfig(config: ExperimentConfig, key: RunKey): ExperimentConfig {
  const v = config.variants[key.variant];
  if (!v) throw new Error(`cellConfig: the config has no variant ${key.variant}`);
  return { ...config, variants: [{ ...v, lambdas: [key.lambda] }], seeds: [key.seed] };
}

/**
 * The id of a cell: what the run computes (every field of its config but the cosmetic `name` and the
 * `limits` on what a config may ask) and the data it runs on.
 */
export function cellId(config: ExperimentConfig, dataFingerprint: string): Promise<string> {
  const { name: _n, limits: _l, ...rest } = config;
  return sha256Text(`forgetless-cell/1\0${canonicalJson(rest)}\0${dataFingerprint}`);
}

/** The cells of a sweep, in `runKeys` order. */
export async function sweepCells(rawConfig: ExperimentConfig, dataFingerprint: string): Promise<Cell[]> {
  const config = validateConfig(rawConfig);
  if (!dataFingerprint) throw new Error('sweepCells: a data fingerprint is required (the hash of the tasks the cells run on)');
  const keys = runKeys(config);
  return Promise.all(
    keys.map(async (key, index) => {
      const c = cellConfig(config, key);
      const label = variantLabel(config.variants[key.variant] as ExperimentConfig['variants'][number]);
      return { id: await cellId(c, dataFingerprint), index, of: keys.length, key, label, config: c, data: dataFingerprint };
    }),
  );
}

/** The id of a whole sweep: a hash of its cells' ids, in order. */
export function sweepId(cells: readonly Pick<Cell, 'id'>[]): Promise<string> {
  return sha256Text(`forgetless-sweep/1\0${cells.map((c) => c.id).join(',')}`);
}

/**
 * Runs one cell on `tasks` (the sweep's), with `options` as runExperiment takes them (checkpoint,
 * resume, events; events and the record carry the cell's index in the sweep). Returns its record.
 */
export async function runCell(cell: Cell, options: RunOptions): Promise<{ record: RunRecord; cancelled: boolean; backend: string }> {
  const { onEvent } = options;
  const result = await runExperiment(cell.config, {
    ...options,
    ...(onEvent
      ? {
          onEvent: (e) => {
            if (e.kind === 'run-end') onEvent({ ...e, run: cell.index, runs: cell.of, record: { ...e.record, index: cell.index } });
            else onEvent({ ...e, run: cell.index, runs: cell.of });
          },
        }
      : {}),
  });
  const record = result.runs[0];
  if (!record) throw new Error(`runCell: cell ${cell.index} (${cell.label} λ ${cell.key.lambda}, seed ${cell.key.seed}) produced no run`);
  return { record: { ...record, index: cell.index }, cancelled: result.cancelled, backend: result.backend };
}

/**
 * The sweep's result from its cells' records, as `runExperiment(config)` returns it for the whole
 * sweep: every run once, in index order. Throws when a cell is missing or twice.
 */
export function combineCells(config: ExperimentConfig, tasks: readonly Pick<Task, 'name'>[] | readonly string[], backend: string, records: readonly RunRecord[]): ExperimentResult {
  const valid = validateConfig(config);
  const n = runKeys(valid).length;
  const byIndex = new Map<number, RunRecord>();
  for (const r of records) {
    if (!Number.isInteger(r.index) || r.index < 0 || r.index >= n) throw new Error(`combineCells: a record has index ${r.index}, the sweep has runs 0..${n - 1}`);
    if (byIndex.has(r.index)) throw new Error(`combineCells: run ${r.index} is there twice`);
    byIndex.set(r.index, r);
  }
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length) throw new Error(`combineCells: ${missing.length} of ${n} runs have no result (runs ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''})`);
  const runs = [...byIndex.values()].sort((a, b) => a.index - b.index);
  return { config: valid, tasks: tasks.map((t) => (typeof t === 'string' ? t : t.name)), runs, backend, cancelled: runs.some((r) => r.cancelled) };
}

/** What `completedSubset` kept and left out. */
export interface CompletedSubset {
  /** The sweep's config with only the λ values (and variants) whose every seed has a record. */
  config: ExperimentConfig;
  /** Those records, re-indexed for `config` (ready for `combineCells`). */
  records: RunRecord[];
  /** Runs in the sweep, and how many have a record. */
  total: number;
  done: number;
  /** Each variant and λ left out: its label, λ and how many of its seeds are done. */
  pending: { label: string; lambda: number; seedsDone: number }[];
}

/**
 * The part of a sweep that is complete: the (variant, λ) groups whose every seed has a record, as a
 * config of their own and the records re-indexed for it, so a report of a sweep still running can be
 * written with `combineCells` (means over all of a group's seeds, never over some). A variant with no
 * complete λ is dropped; the best λ of a variant is then chosen among its complete λ only.
 */
export function completedSubset(config: ExperimentConfig, records: readonly RunRecord[]): CompletedSubset {
  const valid = validateConfig(config);
  const keys = runKeys(valid);
  const byIndex = new Map<number, RunRecord>();
  for (const r of records) {
    if (!Number.isInteger(r.index) || r.index < 0 || r.index >= keys.length)
      throw new Error(`completedSubset: a record has index ${r.index}, the sweep has runs 0..${keys.length - 1}`);
    if (byIndex.has(r.index)) throw new Error(`completedSubset: run ${r.index} is there twice`);
    byIndex.set(r.index, r);
  }
  const seedsDone = (variant: number, lambda: number) => keys.reduce((n, k, i) => n + (k.variant === variant && k.lambda === lambda && byIndex.has(i) ? 1 : 0), 0);
  const pending: CompletedSubset['pending'] = [];
  const variants = valid.variants.flatMap((v, vi) => {
    const lambdas = v.lambdas.filter((l) => {
      const done = seedsDone(vi, l);
      if (done < valid.seeds.length) pending.push({ label: variantLabel(v), lambda: l, seedsDone: done });
      return done === valid.seeds.length;
    });
    return lambdas.length ? [{ ...v, lambdas }] : [];
  });
  if (variants.length === 0) {
    return { config: valid, records: [], total: keys.length, done: byIndex.size, pending };
  }
  const subset = validateConfig({ ...valid, variants });
  const newIndex = new Map<string, number>();
  runKeys(subset).forEach((k, i) => newIndex.set(`${variantLabel(subset.variants[k.variant] as (typeof variants)[number])}|${k.lambda}|${k.seed}`, i));
  const kept: RunRecord[] = [];
  for (const [i, r] of byIndex) {
    const k = keys[i] as RunKey;
    const j = newIndex.get(`${variantLabel(valid.variants[k.variant] as (typeof variants)[number])}|${k.lambda}|${k.seed}`);
    if (j !== undefined) kept.push({ ...r, index: j });
  }
  kept.sort((a, b) => a.index - b.index);
  return { config: subset, records: kept, total: keys.length, done: byIndex.size, pending };
}
