/**
 * Tools for pretrained models: `forgetless importances` (an importance map of a model.json on
 * MNIST-format data or a folder of images), `forgetless prune` (importance-ranked pruning, saved back as a model.json
 * stock TensorFlow.js loads) and `forgetless correlate` (two importance maps compared per layer).
 * Their options are in tool-commands.ts. The output folder is claimed (created, write-probed,
 * locked) before the model is read.
 */
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import * as tf from '@tensorflow/tfjs-core';
import { type ArraySource, type LoadedLayersModel, type Model, type ParamMap, disposeParams, exampleShapeProblem, trainContinual } from '@forgetless/core';
import { writeFileAtomic } from '@forgetless/core/node';
import { type ImagePreprocessing, taskSequence } from '@forgetless/datasets';
import { findMnistFormatFiles } from '@forgetless/datasets/node';
import { type ImportanceMethod, IMPORTANCE_METHODS, computeImportance, correlate, siTracker } from '@forgetless/importances';
import { loadImportances, saveImportances } from '@forgetless/importances/node';
import { type GroupReduce, prune } from '@forgetless/pruning';
import { loadLayersModel, saveLayersModel } from '@forgetless/pruning/node';
import { formatSparsityReport } from '@forgetless/pruning';
import { IMPORTANCE_NAMES } from '@forgetless/experiments';
import { limitSource } from '@forgetless/experiments';
import { type ClassPlan, planClasses } from '../finetune/classes.js';
import { memoryFittingBatch } from '../finetune/config.js';
import { loadDataArgument } from './data.js';
import { UserError, usage } from './errors.js';
import { parseThreads, startBackend } from './threads.js';
import { type LoadedPart, loadPart, modelLabels, parsePreprocessing, partSources, readClassNames } from './finetune-data.js';
import { number } from './options.js';
import { checkOutputFile, claimOutputFolder } from './output-folder.js';

/** `fis` → `fisher`; the other names are the library's. */
export function importanceMethod(name: string): ImportanceMethod {
  const m = IMPORTANCE_NAMES[name] ?? (IMPORTANCE_METHODS.includes(name as ImportanceMethod) ? (name as ImportanceMethod) : undefined);
  if (!m) throw usage(`--method: unknown importance '${name}' (expected ${[...Object.keys(IMPORTANCE_NAMES), 'taylor'].join(', ')})`);
  return m;
}

export async function loadModel(path: string | undefined): Promise<LoadedLayersModel> {
  if (!path) throw usage('--model: required (a TensorFlow.js model.json or its folder)');
  try {
    return await loadLayersModel(path);
  } catch (e) {
    throw new UserError(`--model: ${(e as Error).message}`);
  }
}

/** How `--data` image folders are read (`importances`, `prune`): as `forgetless finetune` reads its old data. */
export interface ImageDataFlags {
  /** The model's input preprocessing (`parsePreprocessing`; default unit, x/255). */
  preprocess?: string;
  fit?: 'stretch' | 'center-crop';
  /** A labels file naming the model's outputs (default: metadata.json / labels.txt beside the model, else the folders in order). */
  classes?: string;
}

const isDirectory = async (p: string) => (await stat(p).catch(() => undefined))?.isDirectory() ?? false;

/**
 * The training and test images of `--data`, as sources for `model`: embedded, a dataset name or a
 * folder of MNIST-format files (unpermuted), or a folder of images (`<class>/<image>`, `train/` +
 * `test/`, or x.npy + y.npy) read at the model's input size with its preprocessing, the class folders
 * matched to its outputs as `forgetless finetune` matches its old data. `modelPath` is where the
 * model was read (a labels file beside it names the outputs).
 */
export async function loadData(
  dir: string | undefined,
  model: Model,
  modelPath?: string,
  images: ImageDataFlags = {},
): Promise<{ train: ArraySource; test: ArraySource; name: string }> {
  if (!dir) throw usage(`--data: required (${DATA_KINDS})`);
  if (model.outputShape.length !== 1) {
    throw new UserError(
      `--data: the model's output has shape [${model.outputShape.map((d) => d ?? 'any')}], not one score per class; data-driven importances need a classifier (magnitude needs no data)`,
    );
  }
  if ((await isDirectory(dir)) && 'missing' in (await findMnistFormatFiles(dir))) return loadImageData(dir, model, modelPath, images);
  const dataset = await loadDataArgument(dir);
  if (exampleShapeProblem(model.inputShape, [dataset.rows, dataset.cols]) && exampleShapeProblem(model.inputShape, [dataset.rows, dataset.cols, 1])) {
    throw new UserError(`--data: ${dir} holds ${dataset.rows}×${dataset.cols} grayscale images, but the model takes inputs of shape [${model.inputShape.map((d) => d ?? 'any')}]`);
  }
  if (dataset.numClasses > model.numClasses) {
    throw new UserError(`--data: ${dir} has ${dataset.numClasses} classes, but the model has ${model.numClasses} outputs`);
  }
  const [task] = taskSequence('permuted', { dataset, numTasks: 1, firstUnpermuted: true, validation: 0 });
  if (!task) throw new UserError(`--data: ${dir} gave no examples`);
  return { train: task.train as ArraySource, test: task.test as ArraySource, name: dataset.name };
}

const DATA_KINDS = 'embedded, fashion-mnist, mnist, a folder of MNIST-format files, or a folder of images';

/** `--data` as an image folder: decoded with sharp at the model's input size, a bar on a terminal while it reads. */
async function loadImageData(dir: string, model: Model, modelPath: string | undefined, flags: ImageDataFlags): Promise<{ train: ArraySource; test: ArraySource; name: string }> {
  const inputShape = model.inputShape;
  if (inputShape.some((d) => d === null)) {
    throw new UserError(
      `--data: ${dir} is a folder of images, but the model's input [${inputShape.map((d) => d ?? 'any').join(', ')}] has free dimensions; images need a fixed height and width`,
    );
  }
  let preprocessing: ImagePreprocessing;
  try {
    preprocessing = parsePreprocessing(flags.preprocess ?? 'unit');
  } catch (e) {
    throw usage(`--preprocess: ${(e as Error).message}`);
  }
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        { format: '  reading --data |{bar}| {value}/{total} images | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  let part: LoadedPart;
  try {
    part = await loadPart('--data', dir, {
      inputShape: inputShape as number[],
      fit: flags.fit ?? 'stretch',
      badImages: 'skip',
      testFraction: 0.2,
      seed: 0,
      onProgress: (done, total) => {
        if (!bar) return;
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
      },
    });
  } finally {
    if (started) bar?.stop();
  }
  for (const s of part.skipped.slice(0, 10)) process.stderr.write(`forgetless: --data: skipped ${s.file}: ${s.reason}\n`);
  if (part.skipped.length > 10) process.stderr.write(`forgetless: --data: ... ${part.skipped.length - 10} more bad images skipped\n`);
  const modelClasses = flags.classes ? await readClassNames(flags.classes) : modelPath ? await modelLabels(modelPath) : undefined;
  let plan: ClassPlan;
  try {
    const where = `--data ${dir}`;
    plan = planClasses({
      head: 'keep',
      outputWidth: model.numClasses,
      oldNames: part.classNames,
      newNames: part.classNames,
      ...(modelClasses ? { modelClasses } : {}),
      oldWhere: where,
      newWhere: where,
    });
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const { train, test } = partSources(part, preprocessing, model.numClasses, plan.oldMap);
  return { train, test, name: part.description };
}

/** Examples per importance batch (`memoryFittingBatch`: 100, or fewer that fit memory), said on stderr when fewer than 100. */
export function importanceBatch(model: Model, what = 'importances'): number {
  const { batch, bytesPerExample } = memoryFittingBatch(model);
  if (batch < 100) process.stderr.write(`forgetless: ${what} in batches of ${batch} (the model's layer outputs take ${Math.round(bytesPerExample / 2 ** 20)} MB per example)\n`);
  return batch;
}

/** Activates `--backend` (default wasm) on `threads` threads (`--threads` as `parseThreads` read it); returns how logs name it (`wasm, 2 threads`). */
export async function backend(name: string | undefined, threads = 1): Promise<string> {
  return startBackend(name ?? 'wasm', threads);
}

/**
 * SI needs a training path: it follows `epochs` of SGD fine-tuning of the model (a copy) on the
 * data and returns ω / ((Δθ)² + ξ) for that path (Zenke et al. 2017).
 */
async function siImportance(model: Model, train: ArraySource, epochs: number, lr: number): Promise<ParamMap> {
  const si = siTracker();
  const optimizer = tf.train.sgd(lr);
  try {
    await trainContinual(model, [{ name: 'si-path', train, test: train.subset([0]) }], { optimizer, epochs, batchSize: 100, plugins: [si], evalLimit: 1 });
    return si.taskImportance();
  } finally {
    si.dispose?.();
    optimizer.dispose();
  }
}

export interface ImportanceFlags extends ImageDataFlags {
  model?: string;
  data?: string;
  method: string;
  out?: string;
  samples: string;
  siEpochs: string;
  lr: string;
  backend?: string;
  threads?: string;
}

export async function importancesCommand(flags: ImportanceFlags): Promise<void> {
  const method = importanceMethod(flags.method);
  if (!flags.out) throw usage('--out: required (the folder to write the importance map into)');
  const samples = number('samples', flags.samples, 'int');
  const threads = parseThreads(flags.threads, flags.backend ?? 'wasm');
  const folder = await claimOutputFolder(flags.out, { flag: '--out', mode: 'tool' });
  try {
    await importances(method, samples, threads, folder.dir, flags);
  } finally {
    await folder.release();
  }
}

async function importances(method: ImportanceMethod, samples: number, threads: number, out: string, flags: ImportanceFlags): Promise<void> {
  const running = await backend(flags.backend, threads);
  const loaded = await loadModel(flags.model);
  try {
    // magnitude needs no data
    const data = method === 'magnitude' && flags.data === undefined ? undefined : await loadData(flags.data, loaded.model, flags.model, flags);
    const t0 = performance.now();
    const map = !data
      ? await computeImportance(method, loaded.model, undefined)
      : method === 'si'
        ? await siImportance(loaded.model, limitSource(data.train, samples) as ArraySource, number('si-epochs', flags.siEpochs, 'int'), number('lr', flags.lr))
        : await computeImportance(method, loaded.model, data.train, { limit: samples, batchSize: importanceBatch(loaded.model) });
    try {
      const path = await saveImportances(join(out, `importances-${method}`), map, {
        method,
        model: loaded.source,
        ...(data ? { data: data.name, samples: Math.min(samples, data.train.size) } : {}),
        ...(method === 'si' ? { note: `SI along ${flags.siEpochs} epoch(s) of SGD lr ${flags.lr} fine-tuning on these samples` } : {}),
      });
      process.stdout.write(
        `${method} importances of ${basename(loaded.source)} (${Object.keys(map).length} parameters, ${((performance.now() - t0) / 1000).toFixed(1)} s on ${running}):\n`,
      );
      for (const [name, t] of Object.entries(map)) {
        const v = (await t.data()) as Float32Array;
        let sum = 0;
        let max = 0;
        for (const x of v) {
          sum += x;
          if (x > max) max = x;
        }
        const label = `  ${name.padEnd(24)} [${t.shape}]`.padEnd(44);
        process.stdout.write(`${label}mean ${(sum / v.length).toExponential(3)}  max ${max.toExponential(3)}\n`);
      }
      process.stdout.write(`written: ${path} (+ .bin, tfjs weights format)\n`);
    } finally {
      disposeParams(map);
    }
  } finally {
    loaded.dispose();
  }
}

export interface PruneFlags extends ImageDataFlags {
  model?: string;
  data?: string;
  importance: string;
  sparsity: string;
  scope: 'global' | 'layer';
  biases?: boolean;
  samples: string;
  out?: string;
  backend?: string;
  threads?: string;
  structure?: 'weights' | 'channels';
  targetParams?: string;
  targetFlops?: string;
  targetChannels?: string;
  reduce?: GroupReduce;
  minWidth?: string;
  groups?: boolean;
  finetuneSteps?: string;
  finetuneLr?: string;
}

export async function pruneCommand(flags: PruneFlags): Promise<void> {
  if (flags.structure === 'channels') return (await import('./structure-command.js')).pruneChannelsCommand(flags);
  if (!flags.out) throw usage('--out: required (the folder to write the pruned model into)');
  const sparsity = number('sparsity', flags.sparsity);
  if (!(sparsity >= 0 && sparsity < 1)) throw usage(`--sparsity: the fraction of weights to zero must be in [0, 1) (0 writes the model back unchanged), got ${flags.sparsity}`);
  const samples = number('samples', flags.samples, 'int');
  const threads = parseThreads(flags.threads, flags.backend ?? 'wasm');
  const folder = await claimOutputFolder(flags.out, { flag: '--out', mode: 'tool' });
  try {
    await pruneModel(sparsity, samples, threads, folder.dir, flags);
  } finally {
    await folder.release();
  }
}

/** `--importance`: a method name, or a map from `forgetless importances` (`imported`, owned by the caller). */
export async function pruneImportance(name: string, loaded: LoadedLayersModel): Promise<{ importance: ImportanceMethod | ParamMap; imported?: ParamMap }> {
  if (name.endsWith('.json')) {
    try {
      const imported = (await loadImportances(resolve(name), loaded.model.params)).importances;
      return { importance: imported, imported };
    } catch (e) {
      throw new UserError(`--importance: ${(e as Error).message}`);
    }
  }
  const importance = importanceMethod(name);
  if (importance === 'si') throw usage('--importance si: SI follows training; compute it with `forgetless importances --method si` and pass the .json file');
  return { importance };
}

async function pruneModel(sparsity: number, samples: number, threads: number, out: string, flags: PruneFlags): Promise<void> {
  await backend(flags.backend, threads);
  const loaded = await loadModel(flags.model);
  let imported: ParamMap | undefined;
  try {
    const chosen = await pruneImportance(flags.importance, loaded);
    imported = chosen.imported;
    const importance = chosen.importance;
    const needsData = typeof importance === 'string' && importance !== 'magnitude';
    const data = flags.data !== undefined || needsData ? await loadData(flags.data, loaded.model, flags.model, flags) : undefined;
    const result = await prune(loaded.model, {
      importance,
      sparsity,
      scope: flags.scope,
      biases: flags.biases !== false,
      ...(data ? { calibration: data.train, importanceOptions: { limit: samples, batchSize: importanceBatch(loaded.model) }, evaluateOn: data.test } : {}),
    });
    try {
      const zerosBefore = Object.fromEntries(result.report.params.map((p) => [p.name, p.zerosBefore ?? 0]));
      const saved = await saveLayersModel(out, loaded, { masks: result.masks, zerosBefore });
      const acc = (r?: { accuracy: number }) => (r ? r.accuracy.toFixed(4) : 'n/a');
      const m = result.report.masked;
      process.stdout.write(
        `pruned ${basename(loaded.source)} by ${typeof importance === 'string' ? importance : flags.importance} to ${(sparsity * 100).toFixed(1)} % (${flags.scope}): ` +
          `${m.zeros} of ${m.size} ranked entries are zero, ${m.newlyZeroed ?? m.zeros} newly removed and ${m.zerosBefore ?? 0} already zero in the input; test accuracy ${acc(result.before)} → ${acc(result.after)}\n`,
      );
      const stored = new Map(saved.weights.filter((w) => w.core).map((w) => [w.core as string, `${w.dtype} (${w.action})`]));
      process.stdout.write(formatSparsityReport(result.report, { names: (n) => loaded.kerasName(n), dtypes: (n) => stored.get(n) }));
      process.stdout.write(`written: ${saved.files.map((f) => basename(f)).join(', ')} in ${out}\n`);
    } finally {
      disposeParams(result.masks);
    }
  } finally {
    disposeParams(imported);
    loaded.dispose();
  }
}

export interface CorrelateFlags {
  method: 'pearson' | 'spearman';
  scope: 'kernel' | 'bias' | 'both';
  out?: string;
  backend?: string;
}

export async function correlateCommand(a: string, b: string, flags: CorrelateFlags): Promise<void> {
  // a folder as --out would leave the atomic write's temporary file beside it: refuse it first
  const out = flags.out !== undefined ? await checkOutputFile(flags.out) : undefined;
  await backend(flags.backend ?? 'cpu');
  const read = async (p: string) => {
    try {
      return await loadImportances(resolve(p));
    } catch (e) {
      throw new UserError((e as Error).message);
    }
  };
  const ma = await read(a);
  const mb = await read(b);
  try {
    let rows: Awaited<ReturnType<typeof correlate>>;
    try {
      rows = await correlate(ma.importances, mb.importances, { method: flags.method, scope: flags.scope });
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    process.stdout.write(`${flags.method} correlation of ${ma.metadata.method} (${basename(a)}) and ${mb.metadata.method} (${basename(b)}), ${flags.scope}:\n`);
    for (const r of rows) process.stdout.write(`  ${r.layer.padEnd(16)} r ${Number.isFinite(r.r) ? r.r.toFixed(4).padStart(7) : '    n/a'}   (${r.n} values)\n`);
    if (out) {
      await writeFileAtomic(
        out,
        `${JSON.stringify({ a: { file: a, method: ma.metadata.method }, b: { file: b, method: mb.metadata.method }, method: flags.method, scope: flags.scope, layers: rows }, null, 1)}\n`,
      );
      process.stdout.write(`written: ${out}\n`);
    }
  } finally {
    disposeParams(ma.importances);
    disposeParams(mb.importances);
  }
}
