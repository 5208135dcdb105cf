/**
 * The messages between the page (main.ts, finetune-panel.ts) and the worker (worker.ts, finetune-job.ts). Everything here is
 * structured-cloneable plain data (NaN included); the worker owns every tensor.
 */
import type { SimdKernelsStatus } from '@forgetless/core';
import type { ExperimentConfig } from '@forgetless/experiments';
import type { FinetuneConfig } from '../src/finetune/config.js';
import type { FinetuneMetrics, FinetuneRecord, FinetuneResult } from '../src/finetune/run.js';
import type { PruningConfig, PruningEvent, PruningResult } from '@forgetless/experiments';
import type { ExperimentEvent } from '@forgetless/experiments';
import type { StructurePruned } from './structure-job.js';

/** tfjs backends the page offers: wasm (default), WebGL where the worker can get a context, cpu. */
export type BackendChoice = 'wasm' | 'webgl' | 'cpu';

/** wasm threads: tfjs's choice (`auto`: half the cores, up to 4, where the page is cross-origin isolated; else 1), or a count. */
export type ThreadsChoice = 'auto' | number;

/** What the page asks the worker to run. */
export interface RunRequest {
  /** The experiment, as the CLI would run it (`data.dataset` is 'embedded'). */
  config: ExperimentConfig;
  backend: BackendChoice;
  threads?: ThreadsChoice;
  /** Absolute URL of the served `fashion-mnist-subset/` folder. */
  dataUrl: string;
  /** After the runs: paper 2's pruning experiment on the first task (the runner's `runPruning`). */
  pruning?: PruningConfig;
}

/** A file of a picked or dropped folder: its path below the picked folder ('old/t-shirt/1.png'). */
export interface PathBlob {
  path: string;
  blob: Blob;
}

/** Images already decoded (by the page, when the worker has no OffscreenCanvas): an ImageSet. */
export interface DecodedImages {
  x: Uint8Array;
  y: Int32Array;
  exampleShape: [number, number, number];
  classNames: string[];
  files: string[];
  skipped: { file: string; reason: string }[];
}

/** Image files to decode in the worker, or decoded ones. */
export type ImageInput = { files: PathBlob[] } | { decoded: DecodedImages };

/** Old or new data: one folder of class folders (split by the test fraction), or train/ and test/ folders. */
export interface ImagePart {
  /** The picked folder's name, for messages. */
  name: string;
  train: ImageInput;
  test?: ImageInput;
}

/**
 * Pruning after fine-tuning: the least important weights zeroed (biases ranked with them), globally;
 * or, `kind: 'channels'`, whole units and channels removed (structure-job.ts): a smaller model.
 */
export interface FinetunePruning {
  /** Fraction of the weights zeroed, or (channels) of the parameters or FLOPs removed, in [0, 1). */
  sparsity: number;
  importance: 'magnitude' | 'sig' | 'fisher' | 'mas' | 'taylor';
  /** Zero single weights (default), or remove channels. */
  kind?: 'weights' | 'channels';
  /** Channels: the fraction is of the parameters (default) or of the FLOPs. */
  target?: 'params' | 'flops';
}

/** The page's fine-tuning: a model.json + shards, old and new images, one method beside plain fine-tuning. */
export interface FinetuneRequest {
  /** model.json as text, and its shards by the manifest's paths (the buffers are transferred). */
  modelJson: string;
  modelName: string;
  shards: { path: string; data: ArrayBuffer }[];
  /** The names of the model's outputs (a labels file picked with it); without them, the old data's folders in order. */
  classNames?: string[];
  old: ImagePart;
  new: ImagePart;
  /** The comparison (one method and λ; plain fine-tuning is added by runFinetune). */
  config: FinetuneConfig;
  /** A preprocessing preset (`unit`, `symmetric`, `imagenet`) or `scale=...,offset=...`. */
  preprocessing: string;
  testFraction: number;
  pruning?: FinetunePruning;
  backend: BackendChoice;
  threads?: ThreadsChoice;
}

/** The fine-tuned model of the chosen method: model.json and shards, as `layersModelArtifacts` writes them. */
export interface FinetuneModelFiles {
  /** The run it is (e.g. 'ewc-fis λ 1000'). */
  label: string;
  method: string;
  modelJson: Record<string, unknown>;
  shards: { path: string; data: ArrayBuffer }[];
  /** How the weights were stored: dtype → count ('uint8': 52, ...). */
  dtypes: Record<string, number>;
  /** The model as downloaded (its weights read back from the files), measured on the old and new test images. */
  saved: FinetuneMetrics;
  /** A replaced head: the pretrained head on the same fine-tuned body (old-head/ in the zip). */
  oldHead?: { modelJson: Record<string, unknown>; shards: { path: string; data: ArrayBuffer }[] };
}

export interface FinetunePruned {
  importance: FinetunePruning['importance'];
  sparsity: number;
  /** Zeros among the ranked entries after pruning, of `size`. */
  zeros: number;
  size: number;
  /** The fine-tuned model before and after pruning. */
  before: FinetuneMetrics;
  after: FinetuneMetrics;
}

/** What the fine-tuning phases report: the phase, a line for the status and the fraction done. */
export interface FinetuneStatus {
  phase: 'starting' | 'decoding images' | 'loading the model' | 'measuring' | 'consolidating' | 'fine-tuning' | 'pruning' | 'saving';
  text: string;
  fraction: number;
}

/** The model as the worker reads it from model.json alone (no weights): for the page's checks. */
export interface ModelInfo {
  inputShape: (number | null)[];
  outputWidth: number;
  layers: number;
  weights: number;
}

export type ToWorker =
  | { type: 'run'; request: RunRequest }
  | { type: 'finetune'; request: FinetuneRequest }
  | { type: 'inspect-model'; id: number; modelJson: string; name: string }
  | { type: 'stop' };

export type FromWorker =
  | { type: 'status'; text: string }
  /** The backend running, and (wasm) the threads its kernels run on: more than 1 on tfjs's threaded build, where the page is cross-origin isolated. */
  | { type: 'backend'; name: string; note?: string; threads?: number }
  /**
   * forgetless's WebAssembly SIMD kernels in the worker (`simdKernelsStatus()`: state, variant,
   * compile mode, each kernel's calls since they were first bound): sent once a run or a fine-tuning
   * has finished, just before its 'done' or 'finetune-done'.
   */
  | { type: 'kernels'; status: SimdKernelsStatus }
  | { type: 'tasks'; names: string[] }
  | { type: 'experiment'; event: ExperimentEvent }
  | { type: 'pruning-event'; event: PruningEvent }
  | { type: 'pruning'; result: PruningResult }
  | { type: 'done'; cancelled: boolean; ms: number }
  | { type: 'error'; message: string }
  | { type: 'model-info'; id: number; info?: ModelInfo; error?: string; canDecode: boolean }
  | { type: 'finetune-status'; status: FinetuneStatus }
  | { type: 'finetune-run'; record: FinetuneRecord; before: FinetuneMetrics; config: FinetuneConfig; classNames: string[] }
  | {
      type: 'finetune-done';
      cancelled: boolean;
      result?: FinetuneResult;
      pruned?: FinetunePruned;
      structure?: StructurePruned;
      model?: FinetuneModelFiles;
      skipped: string[];
      ms: number;
    }
  | { type: 'finetune-error'; message: string; field?: 'model' | 'old' | 'new' | 'options' };
