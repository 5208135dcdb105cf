/**
 * The page's fine-tuning, in the worker: decodes the old and new images (createImageBitmap and an
 * OffscreenCanvas), loads the picked model.json + shards, plans the classes on its outputs
 * (`planClasses`, the CLI's rule), extends the head if asked (`resizeHead`), and runs the demo's
 * `runFinetune` (plain fine-tuning beside the chosen method, as `forgetless finetune` does). The
 * chosen method's fine-tuned model is pruned if asked, written as model.json + shards in the
 * file's quantization (`layersModelArtifacts`), read back from those bytes and measured, and handed
 * to the page. Nothing is sent anywhere but to the page.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  type LoadedLayersModel,
  type ShardReader,
  disposeParams,
  importKerasTopology,
  layersModelArtifacts,
  loadLayersModelFromArtifacts,
  loadLayersModelFromJson,
  parseModelJson,
  resizeHead,
  toModelArtifacts,
  withShapeOnlyVariables,
} from '@forgetless/core';
import { type ImagePreprocessing, type ImageSet, decodeImageBlobs, imageSetSource, parsePreprocessing, splitIndices } from '@forgetless/datasets';
import { prune } from '@forgetless/pruning';
import { variantLabel } from '@forgetless/experiments';
import { planClasses } from '../src/finetune/classes.js';
import { memoryFittingBatch, validateFinetuneConfig } from '../src/finetune/config.js';
import { type FinetuneData, type FinetuneEvent, type FinetuneMetrics, measureFinetune, runFinetune } from '../src/finetune/run.js';
import { activateBackend } from './backend.js';
import { pageWording } from './wording.js';
import { type StructurePruned, pruneChannels } from './structure-job.js';
import type { FinetuneModelFiles, FinetunePruned, FinetuneRequest, FinetuneStatus, FromWorker, ImageInput, ImagePart, ModelInfo } from './protocol.js';

/** An error the page shows next to one field. */
export class FieldError extends Error {
  constructor(
    readonly field: 'model' | 'old' | 'new' | 'options',
    message: string,
  ) {
    super(message);
  }
}

/** Whether this worker can decode images itself (Chromium's and Firefox's workers can). */
export const canDecodeImages = (): boolean => typeof OffscreenCanvas !== 'undefined' && typeof createImageBitmap === 'function';

/** The model's input, outputs and size from model.json alone: a build that allocates no weights. */
export async function inspectModel(text: string, name: string): Promise<ModelInfo> {
  await tf.ready();
  const json = parseModelJson(text, name);
  const { model } = withShapeOnlyVariables(() => importKerasTopology(json.modelTopology, name));
  try {
    return {
      inputShape: [...model.inputShape],
      outputWidth: model.numClasses,
      layers: model.layers.length,
      weights: Object.values(model.params).reduce((n, v) => n + v.size, 0),
    };
  } finally {
    model.dispose();
  }
}

/** One part decoded: the set(s) and which examples train and test. */
interface DecodedPart {
  name: string;
  train: ImageSet;
  test: ImageSet;
  trainIndices?: Int32Array;
  testIndices?: Int32Array;
  classNames: string[];
  skipped: string[];
  description: string;
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** A reader over the picked shards, matched by file name (the manifest's paths are relative to model.json). */
function shardReader(shards: FinetuneRequest['shards'], modelName: string): ShardReader {
  const byName = new Map(shards.map((s) => [baseName(s.path), new Uint8Array(s.data)]));
  const get = (path: string) => {
    const bytes = byName.get(baseName(path));
    if (!bytes) throw new FieldError('model', `${modelName} names the shard '${path}', which was not picked: pick model.json together with its .bin files`);
    return bytes;
  };
  return Object.assign(async (path: string) => get(path), { size: async (path: string) => get(path).byteLength });
}

export async function runFinetuneJob(request: FinetuneRequest, signal: AbortSignal, post: (m: FromWorker, transfer?: Transferable[]) => void): Promise<void> {
  const t0 = performance.now();
  const status = (phase: FinetuneStatus['phase'], text: string, fraction: number) => post({ type: 'finetune-status', status: { phase, text, fraction } });
  status('starting', `starting the ${request.backend} backend…`, 0);
  await activateBackend(request.backend, request.threads);
  let config: ReturnType<typeof validateFinetuneConfig>;
  let preprocessing: ImagePreprocessing;
  try {
    config = validateFinetuneConfig(request.config);
    preprocessing = parsePreprocessing(request.preprocessing);
  } catch (e) {
    throw new FieldError('options', (e as Error).message);
  }
  if (request.pruning?.kind === 'channels' && config.head === 'replace') {
    throw new FieldError('options', 'remove channels: not with head "replace" (the pretrained head is kept for a body of the original width); choose keep or extend');
  }

  status('loading the model', `loading ${request.modelName}…`, 0.01);
  let loaded: LoadedLayersModel;
  try {
    loaded = await loadLayersModelFromJson(parseModelJson(request.modelJson, request.modelName), shardReader(request.shards, request.modelName), request.modelName);
  } catch (e) {
    throw e instanceof FieldError ? e : new FieldError('model', (e as Error).message);
  }
  let working: LoadedLayersModel = loaded;
  // evaluation and importances in batches that fit memory (the wasm heap stops at 4 GB): 9 for a 224×224 MobileNetV2
  if (config.evalBatchSize === undefined) config = { ...config, evalBatchSize: memoryFittingBatch(loaded.model).batch };
  try {
    const shape = loaded.model.inputShape;
    const [h, w, c] = shape as number[];
    if (shape.length !== 3 || shape.some((d) => d === null) || !(c === 1 || c === 3)) {
      throw new FieldError('model', `its input is [${shape.map((d) => d ?? 'any').join(', ')}] per example; images need a fixed [height, width, 1 or 3] (channels last)`);
    }
    const size: [number, number] = [h as number, w as number];
    const total = countImages(request.old) + countImages(request.new);
    let done = 0;
    const onImage = () => {
      done++;
      if (done % 16 === 0 || done === total) status('decoding images', `decoding images: ${done}/${total}`, 0.02 + (0.08 * done) / Math.max(1, total));
    };
    const old = await decodePart('old', request.old, size, c as 1 | 3, request.testFraction, config.seed, onImage);
    const neu = await decodePart('new', request.new, size, c as 1 | 3, request.testFraction, config.seed, onImage);
    if (signal.aborted) return post({ type: 'finetune-done', cancelled: true, skipped: [], ms: performance.now() - t0 });

    let plan: ReturnType<typeof planClasses>;
    try {
      plan = planClasses({
        head: config.head,
        outputWidth: loaded.model.numClasses,
        oldNames: old.classNames,
        newNames: neu.classNames,
        ...(request.classNames ? { modelClasses: request.classNames } : {}),
        oldWhere: 'old data',
        newWhere: 'new data',
      });
    } catch (e) {
      const message = pageWording((e as Error).message);
      throw new FieldError(message.startsWith('new data') ? 'new' : message.startsWith('old data') ? 'old' : 'model', message);
    }
    let headLayer: string | undefined;
    if (config.head === 'replace' || plan.units !== loaded.model.numClasses) {
      const resized = await resizeHead(loaded, { units: plan.units, mode: config.head === 'replace' ? 'replace' : 'extend', seed: config.seed });
      working = resized;
      headLayer = resized.head.layer;
    }
    const width = working.model.numClasses;
    const source = (p: DecodedPart, map: Int32Array, outputs: number) => ({
      train: imageSetSource(p.train, { preprocessing, numClasses: outputs, ...(p.trainIndices ? { indices: p.trainIndices } : {}) }).with({ labelMap: map }),
      test: imageSetSource(p.test, { preprocessing, numClasses: outputs, ...(p.testIndices ? { indices: p.testIndices } : {}) }).with({ labelMap: map }),
    });
    const classesOf = (map: Int32Array) => [...new Set(map)].sort((a, b) => a - b);
    // a replaced head: the old data keeps the pretrained model's classes, measured through its own head
    const replaced = config.head === 'replace' && headLayer !== undefined;
    const data: FinetuneData = {
      old: { ...source(old, plan.oldMap, replaced ? loaded.model.numClasses : width), classes: classesOf(plan.oldMap), description: old.description },
      new: { ...source(neu, plan.newMap, width), classes: classesOf(plan.newMap), description: neu.description },
      classNames: plan.classNames,
      ...(replaced ? { oldHead: { model: loaded.model, layer: headLayer as string } } : {}),
    };

    // the run whose model the page offers: the chosen method (plain when that is all there is)
    const chosen = variantLabel(config.variants.find((v) => v.method !== 'plain') ?? (config.variants[0] as (typeof config.variants)[number]));
    const runs = config.variants.reduce((n, v) => n + v.lambdas.length, 0);
    const span = (run: number, within: number) => 0.1 + (0.8 * (run + within)) / runs;
    let pruned: FinetunePruned | undefined;
    let structure: StructurePruned | undefined;
    let files: FinetuneModelFiles | undefined;
    let transfer: ArrayBuffer[] = [];
    const onEvent = (e: FinetuneEvent) => {
      if (e.kind === 'measure') {
        if (e.what === 'before') status('measuring', 'measuring the pretrained model on the old and new test images…', 0.1);
        else status('measuring', `${config.variants.length > 1 ? `run ${(e.run ?? 0) + 1}/${runs}: ` : ''}measuring old and new accuracy…`, span(e.run ?? 0, 0.95));
      } else if (e.kind === 'consolidate' && e.seconds === undefined) {
        status('consolidating', `${e.label}: importances of the pretrained weights on ${Math.min(config.importanceLimit, data.old.train.size)} old images…`, span(e.run, 0));
      } else if (e.kind === 'progress' && (e.event.kind === 'step' || e.event.kind === 'epoch')) {
        const p = e.event;
        const loss = p.loss !== undefined ? `, loss ${p.loss.toFixed(3)}` : '';
        status('fine-tuning', `${e.label}: fine-tuning step ${p.taskStep}/${p.stepsInTask}${loss}`, span(e.run, 0.1 + (0.85 * p.taskStep) / Math.max(1, p.stepsInTask)));
      } else if (e.kind === 'run-start') {
        status('fine-tuning', `${e.label}: starting (run ${e.run + 1}/${e.runs})…`, span(e.run, 0));
      } else if (e.kind === 'run-end') {
        post({ type: 'finetune-run', record: e.record, before: e.before, config, classNames: plan.classNames });
      }
    };
    const result = await runFinetune(working.model, data, config, {
      signal,
      onEvent,
      progressEvery: 1,
      onRunEnd: async (record) => {
        if (record.variant !== chosen) return;
        // the model offered: the fine-tuned one, or its smaller copy without the removed channels
        let smaller: LoadedLayersModel | undefined;
        if (request.pruning?.kind === 'channels') {
          const what = request.pruning.target === 'flops' ? 'FLOPs' : 'parameters';
          status('pruning', `${record.variant}: removing channels, ${(request.pruning.sparsity * 100).toFixed(0)} % of the ${what}, by ${request.pruning.importance}…`, 0.9);
          const r = await pruneChannels(working, data, config, request.pruning, record.after, () => calibrationSource(old, neu, plan, preprocessing, width));
          smaller = r.small;
          structure = r.report;
        } else if (request.pruning) {
          status('pruning', `${record.variant}: pruning ${(request.pruning.sparsity * 100).toFixed(0)} % of the weights by ${request.pruning.importance}…`, 0.9);
          pruned = await pruneFinetuned(working, data, config, request.pruning, record.after, () => calibrationSource(old, neu, plan, preprocessing, width));
        }
        status('saving', `${record.variant}: writing model.json and shards…`, 0.95);
        const saved = await layersModelArtifacts(smaller ?? working);
        smaller?.dispose();
        // the model as downloaded: read back from the bytes written (the file's quantization applied)
        const reread = await loadLayersModelFromArtifacts(toModelArtifacts(saved), 'the downloaded model');
        let metrics: FinetuneMetrics;
        try {
          metrics = await measureFinetune(reread.model, data, config);
        } finally {
          reread.dispose();
        }
        const dtypes: Record<string, number> = {};
        for (const r of saved.report) dtypes[r.dtype] = (dtypes[r.dtype] ?? 0) + 1;
        const shards = saved.shards.map((s) => ({ path: s.path, data: s.data.buffer.slice(s.data.byteOffset, s.data.byteOffset + s.data.byteLength) as ArrayBuffer }));
        transfer = shards.map((s) => s.data);
        const label = record.method === 'plain' ? record.variant : `${record.variant} λ ${record.lambda}`;
        let oldHead: FinetuneModelFiles['oldHead'];
        if (data.oldHead && !structure) {
          // the pretrained head on the fine-tuned body (measureFinetune above left the body synced)
          const kept = await layersModelArtifacts(loaded);
          const keptShards = kept.shards.map((s) => ({ path: s.path, data: s.data.buffer.slice(s.data.byteOffset, s.data.byteOffset + s.data.byteLength) as ArrayBuffer }));
          transfer.push(...keptShards.map((s) => s.data));
          oldHead = { modelJson: kept.modelJson, shards: keptShards };
        }
        files = { label, method: record.variant, modelJson: saved.modelJson, shards, dtypes, saved: metrics, ...(oldHead ? { oldHead } : {}) };
      },
    });
    const skipped = [...old.skipped, ...neu.skipped];
    post(
      {
        type: 'finetune-done',
        cancelled: result.cancelled,
        result,
        ...(pruned ? { pruned } : {}),
        ...(structure ? { structure } : {}),
        ...(files ? { model: files } : {}),
        skipped,
        ms: performance.now() - t0,
      },
      transfer,
    );
  } finally {
    if (working !== loaded) working.dispose();
    loaded.dispose();
  }
}

function countImages(part: ImagePart): number {
  const n = (i: ImageInput) => ('files' in i ? i.files.length : i.decoded.y.length);
  return n(part.train) + (part.test ? n(part.test) : 0);
}

async function decodeInput(field: 'old' | 'new', input: ImageInput, size: [number, number], channels: 1 | 3, onImage: () => void, classNames?: string[]): Promise<ImageSet> {
  if ('decoded' in input) {
    for (let i = 0; i < input.decoded.y.length; i++) onImage();
    return input.decoded;
  }
  try {
    let last = 0;
    return await decodeImageBlobs(input.files, {
      size,
      channels,
      fit: 'stretch',
      onBadImage: 'skip',
      ...(classNames ? { classNames } : {}),
      onProgress: (done) => {
        for (; last < done; last++) onImage();
      },
    });
  } catch (e) {
    throw new FieldError(field, (e as Error).message);
  }
}

/** Decodes one part; one folder is split by `testFraction` (seeded, stratified), train/ + test/ are taken as they are. */
async function decodePart(
  field: 'old' | 'new',
  part: ImagePart,
  size: [number, number],
  channels: 1 | 3,
  testFraction: number,
  seed: number,
  onImage: () => void,
): Promise<DecodedPart> {
  const train = await decodeInput(field, part.train, size, channels, onImage);
  const skipped = train.skipped.map((s) => `${s.file}: ${s.reason}`);
  if (train.y.length === 0) throw new FieldError(field, `${part.name}: no image could be read (${skipped.slice(0, 3).join('; ')})`);
  if (part.test) {
    const test = await decodeInput(field, part.test, size, channels, onImage, train.classNames);
    skipped.push(...test.skipped.map((s) => `${s.file}: ${s.reason}`));
    const description = `${part.name} (${train.y.length} train, ${test.y.length} test images, ${train.classNames.length} classes)`;
    return { name: part.name, train, test, classNames: train.classNames, skipped, description };
  }
  let split: ReturnType<typeof splitIndices>;
  try {
    split = splitIndices(train.y, { test: testFraction, seed });
  } catch (e) {
    throw new FieldError('options', (e as Error).message);
  }
  if (split.train.length === 0 || split.test.length === 0) {
    throw new FieldError(
      field,
      `${part.name}: ${train.y.length} images leave ${split.train.length} for training and ${split.test.length} for testing at test fraction ${testFraction}`,
    );
  }
  const description = `${part.name} (${train.y.length} images, ${train.classNames.length} classes), split ${split.train.length} train / ${split.test.length} test (seed ${seed})`;
  return { name: part.name, train, test: train, trainIndices: split.train, testIndices: split.test, classNames: train.classNames, skipped, description };
}

/** Old and new training images together, labelled by the model's outputs: what pruning's importances are computed on. */
function calibrationSource(old: DecodedPart, neu: DecodedPart, plan: ReturnType<typeof planClasses>, preprocessing: ImagePreprocessing, width: number) {
  const rows: { set: ImageSet; i: number; label: number }[] = [];
  for (const [p, map] of [
    [old, plan.oldMap],
    [neu, plan.newMap],
  ] as const) {
    const idx = p.trainIndices ?? Int32Array.from(p.train.y, (_, i) => i);
    for (const i of idx) rows.push({ set: p.train, i, label: map[p.train.y[i] as number] as number });
  }
  const [h, w, c] = old.train.exampleShape;
  const d = h * w * c;
  const x = new Uint8Array(rows.length * d);
  rows.forEach((r, k) => x.set((r.set.x as Uint8Array).subarray(r.i * d, (r.i + 1) * d), k * d));
  const set: ImageSet = { x, y: Int32Array.from(rows, (r) => r.label), exampleShape: [h, w, c], classNames: plan.classNames, files: [], skipped: [] };
  return imageSetSource(set, { preprocessing, numClasses: width });
}

/** Zeros the least important weights of the fine-tuned model (biases ranked with them, globally) and measures it again. */
async function pruneFinetuned(
  working: LoadedLayersModel,
  data: FinetuneData,
  config: ReturnType<typeof validateFinetuneConfig>,
  pruning: NonNullable<FinetuneRequest['pruning']>,
  before: FinetuneMetrics,
  calibration: () => ReturnType<typeof calibrationSource>,
): Promise<FinetunePruned> {
  const result = await prune(working.model, {
    importance: pruning.importance,
    sparsity: pruning.sparsity,
    scope: 'global',
    biases: true,
    ...(pruning.importance === 'magnitude' ? {} : { calibration: calibration(), importanceOptions: { limit: 1000, batchSize: 50 } }),
  });
  disposeParams(result.masks);
  const after = await measureFinetune(working.model, data, config);
  return { importance: pruning.importance, sparsity: pruning.sparsity, zeros: result.report.masked.zeros, size: result.report.masked.size, before, after };
}
