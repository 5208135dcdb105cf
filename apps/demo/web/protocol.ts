/**
 * The messages between the page (main.ts) and the experiment worker (worker.ts). Everything here is
 * structured-cloneable plain data (NaN included); the worker owns every tensor.
 */
import type { ExperimentConfig } from '../src/experiment/config.js';
import type { PruningConfig, PruningEvent, PruningResult } from '../src/experiment/pruning.js';
import type { ExperimentEvent } from '../src/experiment/run.js';

/** tfjs backends the page offers: wasm (default), WebGL where the worker can get a context, cpu. */
export type BackendChoice = 'wasm' | 'webgl' | 'cpu';

/** What the page asks the worker to run. */
export interface RunRequest {
  /** The experiment, as the CLI would run it (`data.dataset` is 'embedded'). */
  config: ExperimentConfig;
  backend: BackendChoice;
  /** Absolute URL of the served `fashion-mnist-subset/` folder. */
  dataUrl: string;
  /** After the runs: paper 2's pruning experiment on the first task (the runner's `runPruning`). */
  pruning?: PruningConfig;
}

export type ToWorker = { type: 'run'; request: RunRequest } | { type: 'stop' };

export type FromWorker =
  | { type: 'status'; text: string }
  | { type: 'backend'; name: string; note?: string }
  | { type: 'tasks'; names: string[] }
  | { type: 'experiment'; event: ExperimentEvent }
  | { type: 'pruning-event'; event: PruningEvent }
  | { type: 'pruning'; result: PruningResult }
  | { type: 'done'; cancelled: boolean; ms: number }
  | { type: 'error'; message: string };
