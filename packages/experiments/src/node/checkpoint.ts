/**
 * File checkpoints of runExperiment (Node: `@forgetless/experiments/node`), in `<out>/checkpoint/`,
 * written after every task (the `forgetless` CLI's `run --resume` and its sweeps' cells use them):
 *
 *   state.json            config, finished runs, and the run in progress: its task position,
 *                         accuracy rows and timings so far, plugin and optimizer metadata, and
 *                         the generation folder holding its tensors
 *   gen-<n>/weights       model parameters and batch-norm statistics   (tfjs weights format:
 *   gen-<n>/plugin-<i>    each plugin's getState() tensors              <name>.json manifest +
 *   gen-<n>/optimizer     optimizer slots (Adam's moments, β powers)    <name>.bin float32)
 *   gen-<n>/recorder-<k>  paper 3's importance trackers
 *
 * A new generation is written in full before state.json is replaced (atomically, by rename), and
 * only then is the previous generation removed: a crash at any point leaves a consistent checkpoint.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type ParamMap, disposeParams, useBackend } from '@forgetless/core';
import { loadParamMap, saveParamMap, writeFileAtomic } from '@forgetless/core/node';
import type { ExperimentConfig } from '../config.js';
import { fromJson, toJson } from '../json.js';
import type { CheckpointSink, PluginState, RunRecord, RunState, Snapshot } from '../run.js';

/** A checkpoint that is missing, unreadable or not a forgetless checkpoint; the message names the file. */
export class CheckpointError extends Error {
  constructor(
    message: string,
    /** The checkpoint is absent (as opposed to unreadable). */
    readonly missing = false,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export const CHECKPOINT_DIR = 'checkpoint';
const FORMAT = 'forgetless-checkpoint';

interface TensorRef {
  file: string;
}

interface StateFile {
  format: typeof FORMAT;
  formatVersion: 1;
  config: ExperimentConfig;
  /** Extra context for the report (data description, command). */
  context: Record<string, unknown>;
  completed: RunRecord[];
  current?: Omit<RunState, 'weights' | 'plugins' | 'optimizer' | 'recorder'> & {
    generation: number;
    weights: TensorRef;
    plugins: (Omit<PluginState, 'tensors'> & TensorRef)[];
    optimizer: { iterations: number } & TensorRef;
    recorder?: { records: NonNullable<RunState['recorder']>['records']; trackers: Record<string, Omit<PluginState, 'tensors'> & TensorRef> };
  };
}

/** A checkpoint sink writing into `<outDir>/checkpoint`. */
export function fileCheckpoint(outDir: string, config: ExperimentConfig, context: Record<string, unknown>): CheckpointSink & { writes: number } {
  const dir = join(outDir, CHECKPOINT_DIR);
  let generation: number | undefined;
  const sink = {
    writes: 0,
    async save(snapshot: Snapshot): Promise<void> {
      const state: StateFile = { format: FORMAT, formatVersion: 1, config, context, completed: snapshot.completed };
      // never overwrite a generation an earlier process may still point at
      generation ??= Math.max(0, ...(await existingGenerations(dir)));
      if (snapshot.current) {
        generation++;
        const gen = `gen-${generation}`;
        const save = async (name: string, map: ParamMap) => {
          await saveParamMap(join(dir, gen, name), map);
          return { file: `${gen}/${name}.json` };
        };
        const cur = snapshot.current;
        const { weights: _w, plugins: _p, optimizer: _o, recorder: _r, ...rest } = cur;
        const plugins = [];
        for (const [i, p] of cur.plugins.entries()) plugins.push({ name: p.name, meta: p.meta, ...(await save(`plugin-${i}`, p.tensors)) });
        let recorder: NonNullable<StateFile['current']>['recorder'];
        if (cur.recorder) {
          const trackers: Record<string, Omit<PluginState, 'tensors'> & TensorRef> = {};
          for (const [k, [label, t]] of Object.entries(cur.recorder.trackers).entries()) {
            trackers[label] = { name: t.name, meta: t.meta, ...(await save(`recorder-${k}`, t.tensors)) };
          }
          recorder = { records: cur.recorder.records, trackers };
        }
        state.current = {
          ...rest,
          generation,
          weights: await save('weights', cur.weights),
          plugins,
          optimizer: { iterations: cur.optimizer.iterations, ...(await save('optimizer', cur.optimizer.tensors)) },
          ...(recorder ? { recorder } : {}),
        };
      }
      await writeFileAtomic(join(dir, 'state.json'), toJson(state));
      sink.writes++;
      // the state now points at the new generation (or none): older ones can go
      const keep = snapshot.current ? `gen-${generation}` : undefined;
      for (const entry of await readdir(dir)) {
        if (entry.startsWith('gen-') && entry !== keep) await rm(join(dir, entry), { recursive: true, force: true });
      }
    },
  };
  return sink;
}

async function existingGenerations(dir: string): Promise<number[]> {
  try {
    return (await readdir(dir))
      .map((e) => /^gen-(\d+)$/.exec(e)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}

export interface LoadedCheckpoint {
  config: ExperimentConfig;
  context: Record<string, unknown>;
  snapshot: Snapshot;
  /** Frees the tensors read into the snapshot. */
  dispose(): void;
}

/** Reads `<outDir>/checkpoint/state.json`, switches to the run's backend, and reads the tensors it points at. */
export async function loadCheckpoint(outDir: string): Promise<LoadedCheckpoint> {
  const dir = join(outDir, CHECKPOINT_DIR);
  const file = join(dir, 'state.json');
  let state: StateFile;
  try {
    state = fromJson(await readFile(file, 'utf8')) as StateFile;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(
      code === 'ENOENT' ? `${outDir} holds no checkpoint (${file} is missing)` : `${file} is not a readable checkpoint (${(e as Error).message})`,
      code === 'ENOENT',
    );
  }
  if (state?.format !== FORMAT || state.formatVersion !== 1) throw new CheckpointError(`${file} is not a forgetless checkpoint (format '${String(state?.format)}')`);
  await useBackend(state.config.backend); // the run's own backend, before any tensor is read
  const maps: ParamMap[] = [];
  const read = async (ref: TensorRef) => {
    const map = await loadParamMap(join(dir, ref.file));
    maps.push(map);
    return map;
  };
  const snapshot: Snapshot = { completed: state.completed };
  try {
    const cur = state.current;
    if (cur) {
      const { generation: _g, weights, plugins, optimizer, recorder, ...rest } = cur;
      const current: RunState = {
        ...rest,
        weights: await read(weights),
        plugins: await Promise.all(plugins.map(async (p) => ({ name: p.name, meta: p.meta, tensors: await read(p) }))),
        optimizer: { iterations: optimizer.iterations, tensors: await read(optimizer) },
      };
      if (recorder) {
        const trackers: Record<string, PluginState> = {};
        for (const [label, t] of Object.entries(recorder.trackers)) trackers[label] = { name: t.name, meta: t.meta, tensors: await read(t) };
        current.recorder = { records: recorder.records, trackers };
      }
      snapshot.current = current;
    }
  } catch (e) {
    for (const m of maps) disposeParams(m);
    throw new CheckpointError((e as Error).message);
  }
  return { config: state.config, context: state.context ?? {}, snapshot, dispose: () => maps.forEach((m) => disposeParams(m)) };
}
