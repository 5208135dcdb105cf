/**
 * `forgetless finetune`: a pretrained model.json, its old data and new data; consolidates the model on
 * the old data, fine-tunes it on the new data with each method × λ (plain fine-tuning beside them),
 * and writes results.json, report.md, finetune.svg and each method's fine-tuned model (model.json +
 * shards, the original quantization kept) into the output folder. `--example` runs the shipped
 * example offline. `--resume <dir>` continues an interrupted comparison (finished runs are kept).
 */
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type LoadedLayersModel, resizeHead } from '@forgetless/core';
import { loadLayersModel, saveLayersModel, writeFileAtomic } from '@forgetless/core/node';
import cliProgress from 'cli-progress';
import { BACKENDS, type BackendChoice, type VariantConfig } from '@forgetless/experiments';
import { type OptimizerName, defaultLambda, hasLambda, parseVariant, variantLabel } from '@forgetless/experiments';
import { planClasses } from '../finetune/classes.js';
import {
  BATCH_NORM_CHOICES,
  type BatchNormChoice,
  type FinetuneConfig,
  HEAD_CHOICES,
  type HeadChoice,
  defaultFinetuneConfig,
  normalizeMethodName,
  validateFinetuneConfig,
} from '../finetune/config.js';
import { type FinetuneData, type FinetuneEvent, type FinetuneRecord, type FinetuneResult, runFinetune } from '../finetune/run.js';
import { finetuneChartSpec, finetuneMarkdown, finetuneTable } from '../report/finetune.js';
import { renderSvg, slug } from '../report/svg.js';
import { CHECKPOINT_DIR } from '@forgetless/experiments/node';
import { UserError, usage } from './errors.js';
import { interrupts } from './interrupt.js';
import { exampleModelPath, renderExampleData } from './finetune-example.js';
import { type LoadedPart, loadPart, modelLabels, parsePreprocessing, partSources, readClassNames } from './finetune-data.js';
import { importanceBatch } from './tools.js';
import { fromJson, toJson } from './json.js';
import { number, parseLambdaSpec } from './options.js';
import { parseThreads, startBackend } from './threads.js';

export interface FinetuneFlags {
  model?: string;
  old?: string;
  new?: string;
  example?: boolean;
  classes?: string;
  methods?: string;
  lambda?: string[];
  head?: string;
  freeze?: string;
  batchNorm?: string;
  optimizer?: string;
  lr?: string;
  epochs?: string;
  batchSize?: string;
  seed?: string;
  importanceSamples?: string;
  evalLimit?: string;
  testFraction?: string;
  preprocess?: string;
  fit?: string;
  badImages?: string;
  perClass?: string;
  maxOldDrop?: string;
  save?: string;
  backend?: string;
  threads?: string;
  out?: string;
  resume?: string;
  progress?: boolean;
  quiet?: boolean;
}

/** What a finetune folder's checkpoint holds: enough to rebuild the comparison and skip finished runs. */
interface FinetuneState {
  format: 'forgetless-finetune-checkpoint';
  formatVersion: 1;
  config: FinetuneConfig;
  context: FinetuneContext;
  completed: FinetuneRecord[];
}

interface FinetuneContext {
  command: string;
  model: string;
  old: string;
  new: string;
  classes?: string;
  example: boolean;
  preprocess: string;
  fit: 'stretch' | 'center-crop';
  badImages: 'skip' | 'refuse';
  testFraction: number;
  perClass?: number;
  save: 'best' | 'all' | 'none';
  /** SHA-free fingerprint of the data: examples and classes per part (a resume refuses changed data). */
  data?: { old: string; new: string };
}

/** λ tried when none is given: each method's paper value and ×10, ×100 (a pretrained model's importances have their own scale). */
export function defaultFinetuneLambdas(method: string, optimizer: OptimizerName): number[] {
  const base = defaultLambda(method, optimizer);
  return [base, base * 10, base * 100].map((x) => Number(x.toPrecision(6)));
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw usage(`--${flag}: unknown value '${value}' (expected ${allowed.join(', ')})`);
  return value as T;
}

/** The config from the flags (every bad value named). */
export function finetuneConfigFromFlags(flags: FinetuneFlags): FinetuneConfig {
  const d = defaultFinetuneConfig();
  const optimizer = flags.optimizer ? oneOf('optimizer', flags.optimizer, ['sgd', 'adam'] as const) : d.optimizer;
  const methods = (flags.methods ?? 'plain,ewc-fis,sewc-fis,wva-fis')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  if (methods.length === 0) throw usage('--methods: name at least one method');
  const specs = methods.map((m) => {
    try {
      return parseVariant(normalizeMethodName(m));
    } catch (e) {
      throw usage(`--methods: ${(e as Error).message}`);
    }
  });
  const lambdaFlags = (flags.lambda ?? []).map(parseLambdaSpec);
  for (const l of lambdaFlags) {
    if (l.target && !specs.some((s) => variantLabel(s) === normalizeMethodName(l.target as string) || s.method === normalizeMethodName(l.target as string))) {
      throw usage(`--lambda: '${l.target}' is not one of --methods (${methods.join(', ')})`);
    }
  }
  const variants: VariantConfig[] = specs.map((s) => {
    if (!hasLambda(s.method)) return { ...s, lambdas: [0] };
    const own = lambdaFlags.find((l) => l.target && (normalizeMethodName(l.target) === variantLabel(s) || normalizeMethodName(l.target) === s.method));
    const all = lambdaFlags.find((l) => !l.target);
    return { ...s, lambdas: own?.lambdas ?? all?.lambdas ?? defaultFinetuneLambdas(s.method, s.optimizer ?? optimizer) };
  });
  const lr = flags.lr !== undefined ? number('lr', flags.lr) : optimizer === 'sgd' ? 0.01 : d.learningRate;
  return {
    ...d,
    variants,
    optimizer,
    learningRate: lr,
    epochs: flags.epochs !== undefined ? number('epochs', flags.epochs, 'int') : d.epochs,
    batchSize: flags.batchSize !== undefined ? number('batch-size', flags.batchSize, 'int') : d.batchSize,
    seed: flags.seed !== undefined ? Number(flags.seed) : d.seed,
    head: flags.head ? oneOf('head', flags.head, HEAD_CHOICES) : d.head,
    freeze: (flags.freeze ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    batchNorm: flags.batchNorm ? oneOf('batch-norm', flags.batchNorm, BATCH_NORM_CHOICES) : d.batchNorm,
    importanceLimit: flags.importanceSamples !== undefined ? number('importance-samples', flags.importanceSamples, 'int') : d.importanceLimit,
    ...(flags.evalLimit !== undefined ? { evalLimit: number('eval-limit', flags.evalLimit, 'int') } : {}),
    maxOldDrop: flags.maxOldDrop !== undefined ? number('max-old-drop', flags.maxOldDrop, 'nonneg') : d.maxOldDrop,
    backend: flags.backend ? oneOf('backend', flags.backend, BACKENDS) : d.backend,
  };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');

/** Progress on stderr: bars for image loading and training, a line per phase and per finished run. */
function finetuneProgress(flags: FinetuneFlags) {
  const quiet = !!flags.quiet;
  const bars = !quiet && flags.progress !== false && !!process.stderr.isTTY;
  const write = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };
  let bar: cliProgress.SingleBar | undefined;
  let barKey = '';
  const stop = () => {
    bar?.stop();
    bar = undefined;
    barKey = '';
  };
  const barFor = (key: string, total: number, format: string) => {
    if (!bars) return undefined;
    if (barKey !== key || !bar) {
      stop();
      bar = new cliProgress.SingleBar({ format, hideCursor: true, clearOnComplete: true, stream: process.stderr, etaBuffer: 50 }, cliProgress.Presets.shades_classic);
      bar.start(total, 0, { loss: '-', speed: '-' });
      barKey = key;
    }
    return bar;
  };
  return {
    write,
    stop,
    images: (what: string) => (done: number, total: number) => {
      barFor(`images:${what}`, total, `  reading ${what} |{bar}| {value}/{total} images | ETA {eta_formatted}`)?.update(done);
      if (done === total) stop();
    },
    onEvent: (e: FinetuneEvent) => {
      if (e.kind === 'measure') return;
      if (e.kind === 'run-start') {
        stop();
        write(`[${e.run + 1}/${e.runs}] ${e.label}${e.label.startsWith('plain') ? '' : ` λ ${e.lambda}`}`);
        return;
      }
      if (e.kind === 'consolidate') {
        if (e.seconds !== undefined) write(`  importances of the pretrained weights on old data: ${e.seconds.toFixed(1)} s`);
        return;
      }
      if (e.kind === 'run-end') {
        stop();
        const r = e.record;
        if (r.diverged) write(`  ${r.diverged}: no accuracy is reported for this run`);
        else
          write(
            `  old ${f3(e.before.old)} → ${f3(r.after.old)}, new ${f3(e.before.new)} → ${f3(r.after.new)} (own classes: old ${f3(r.after.oldOwn)}, new ${f3(r.after.newOwn)}) (${r.seconds.toFixed(1)} s)`,
          );
        return;
      }
      const ev = e.event;
      if (ev.kind === 'warning') {
        stop();
        write(`  warning: ${ev.warning?.message ?? 'training is blowing up'}`);
        return;
      }
      if (ev.kind !== 'step' && ev.kind !== 'epoch') return;
      barFor(`run:${e.run}`, ev.stepsInTask, '  fine-tuning |{bar}| {value}/{total} steps | loss {loss} | {speed} ex/s | ETA {eta_formatted}')?.update(ev.taskStep, {
        loss: ev.loss !== undefined ? ev.loss.toFixed(3) : '-',
        speed: ev.examplesPerSecond !== undefined ? ev.examplesPerSecond.toFixed(0) : '-',
      });
    },
  };
}

async function readState(outDir: string): Promise<FinetuneState> {
  const file = join(outDir, CHECKPOINT_DIR, 'state.json');
  let state: FinetuneState;
  try {
    state = fromJson(await readFile(file, 'utf8')) as FinetuneState;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' ? `--resume: ${outDir} holds no checkpoint (${file} is missing)` : `--resume: ${file} is not readable (${(e as Error).message})`);
  }
  if (state?.format !== 'forgetless-finetune-checkpoint') {
    throw new UserError(
      `--resume: ${file} is not a finetune checkpoint (format '${String((state as { format?: unknown })?.format)}'); continue a \`forgetless run\` with \`forgetless run --resume\``,
    );
  }
  return state;
}

const dataFingerprint = (p: LoadedPart) =>
  `${p.classNames.join('|')}; ${p.trainIndices?.length ?? p.train.y.length} train, ${p.testIndices?.length ?? p.test.y.length} test; ${p.train.files.length}+${p.test === p.train ? 0 : p.test.files.length} files`;

export async function finetuneCommand(flags: FinetuneFlags, command: string): Promise<void> {
  const t0 = performance.now();
  const resume = flags.resume !== undefined;
  const outDir = resolve((resume ? flags.resume : flags.out) as string);
  const progress = finetuneProgress(flags);
  const log = progress.write;
  let config: FinetuneConfig;
  let context: FinetuneContext;
  let done: FinetuneRecord[] = [];
  // wasm threads: a runtime choice (not stored in the checkpoint), so --resume takes it too
  let threads = 1;
  if (resume) {
    const given = Object.entries(flags).filter(([k, v]) => v !== undefined && !['resume', 'progress', 'quiet', 'out', 'threads'].includes(k));
    if (given.length)
      throw usage(`--resume continues a comparison with its own settings: drop --${given.map(([k]) => k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`)).join(', --')}`);
    const state = await readState(outDir);
    config = validateFinetuneConfig(state.config);
    threads = parseThreads(flags.threads, config.backend);
    context = state.context;
    done = state.completed;
  } else {
    if (flags.example && (flags.model || flags.old || flags.new)) throw usage('--example brings its own model and data: drop --model, --old and --new');
    if (!flags.example) {
      const missing = (['model', 'old', 'new'] as const).filter((k) => !flags[k]);
      if (missing.length) throw usage(`finetune needs --${missing.join(', --')} (or --example for the shipped example)`);
    }
    try {
      config = validateFinetuneConfig(finetuneConfigFromFlags(flags));
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw usage((e as Error).message);
    }
    threads = parseThreads(flags.threads, config.backend);
    const badImages = flags.badImages ? oneOf('bad-images', flags.badImages, ['skip', 'refuse'] as const) : 'skip';
    const fit = flags.fit ? oneOf('fit', flags.fit, ['stretch', 'center-crop'] as const) : 'stretch';
    const save = flags.save ? oneOf('save', flags.save, ['best', 'all', 'none'] as const) : 'best';
    const testFraction = flags.testFraction !== undefined ? number('test-fraction', flags.testFraction, 'positive') : 0.2;
    if (testFraction >= 1) throw usage(`--test-fraction: must be below 1, got ${testFraction}`);
    try {
      parsePreprocessing(flags.preprocess ?? 'unit');
    } catch (e) {
      throw usage(`--preprocess: ${(e as Error).message}`);
    }
    let model = flags.model ? resolve(flags.model) : '';
    let oldDir = flags.old ? resolve(flags.old) : '';
    let newDir = flags.new ? resolve(flags.new) : '';
    let classes = flags.classes ? resolve(flags.classes) : undefined;
    if (flags.example) {
      model = await exampleModelPath();
      const dataDir = join(outDir, 'example-data');
      log(`example: rendering Fashion-MNIST images (embedded subset) into ${dataDir}`);
      const dirs = await renderExampleData(dataDir, progress.images('example images'));
      progress.stop();
      oldDir = dirs.old;
      newDir = dirs.new;
      classes = undefined;
      if (!flags.head) config = { ...config, head: 'replace' };
    }
    context = {
      command,
      model,
      old: oldDir,
      new: newDir,
      ...(classes ? { classes } : {}),
      example: !!flags.example,
      preprocess: flags.preprocess ?? 'unit',
      fit,
      badImages,
      testFraction,
      ...(flags.perClass !== undefined ? { perClass: number('per-class', flags.perClass, 'int') } : {}),
      save,
    };
  }
  const backendLabel = await startBackend(config.backend, threads);

  // the model, and the classes of the old and new data on its outputs
  let loaded: LoadedLayersModel;
  try {
    loaded = await loadLayersModel(context.model);
  } catch (e) {
    throw new UserError(`--model: ${(e as Error).message}`);
  }
  // evaluation and importances in batches that fit memory (the wasm heap stops at 4 GB): 9 for a 224×224 MobileNetV2
  if (config.evalBatchSize === undefined) config = { ...config, evalBatchSize: importanceBatch(loaded.model, 'evaluation and importances') };
  const inputShape = loaded.model.inputShape;
  if (inputShape.some((d) => d === null)) {
    loaded.dispose();
    throw new UserError(`--model: its input [${inputShape.map((d) => d ?? 'any').join(', ')}] has free dimensions; images need a fixed height and width`);
  }
  const partOptions = {
    inputShape: inputShape as number[],
    fit: context.fit,
    badImages: context.badImages,
    testFraction: context.testFraction,
    seed: config.seed,
    ...(context.perClass !== undefined ? { perClassLimit: context.perClass } : {}),
  };
  let result: FinetuneResult;
  const interrupt = interrupts(log);
  let working: LoadedLayersModel = loaded;
  try {
    const old = await loadPart('--old', context.old, { ...partOptions, onProgress: progress.images('old data') });
    const neu = await loadPart('--new', context.new, { ...partOptions, onProgress: progress.images('new data') });
    progress.stop();
    for (const p of [old, neu]) {
      for (const s of p.skipped.slice(0, 10)) log(`  ${p.flag}: skipped ${s.file}: ${s.reason}`);
      if (p.skipped.length > 10) log(`  ${p.flag}: ... ${p.skipped.length - 10} more bad images skipped`);
    }
    const fingerprint = { old: dataFingerprint(old), new: dataFingerprint(neu) };
    if (resume && context.data && (context.data.old !== fingerprint.old || context.data.new !== fingerprint.new)) {
      throw new UserError(
        `--resume: the data changed since the comparison began (old: ${context.data.old} → ${fingerprint.old}; new: ${context.data.new} → ${fingerprint.new}); restore it or start a new comparison`,
      );
    }
    context = { ...context, data: fingerprint };
    const modelClasses = context.classes ? await readClassNames(context.classes) : await modelLabels(context.model);
    if (modelClasses && !context.classes)
      log(`  the model's output names: ${modelClasses.length} labels from its folder (${modelClasses.slice(0, 6).join(', ')}${modelClasses.length > 6 ? ', ...' : ''})`);
    let plan: ReturnType<typeof planClasses>;
    try {
      plan = planClasses({
        head: config.head,
        outputWidth: loaded.model.numClasses,
        oldNames: old.classNames,
        newNames: neu.classNames,
        ...(modelClasses ? { modelClasses } : {}),
        oldWhere: `--old ${old.dir}`,
        newWhere: `--new ${neu.dir}`,
      });
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    let headLayer: string | undefined;
    if (config.head === 'replace' || plan.units !== loaded.model.numClasses) {
      const resized = await resizeHead(loaded, { units: plan.units, mode: config.head === 'replace' ? 'replace' : 'extend', seed: config.seed });
      working = resized;
      headLayer = resized.head.layer;
    }
    const preprocessing = parsePreprocessing(context.preprocess);
    const width = working.model.numClasses;
    // a replaced head: old data keeps the pretrained model's classes, measured through its own head
    const oldSrc = partSources(old, preprocessing, config.head === 'replace' ? loaded.model.numClasses : width, plan.oldMap);
    const newSrc = partSources(neu, preprocessing, width, plan.newMap);
    const data: FinetuneData = {
      old: { ...oldSrc, classes: [...new Set(plan.oldMap)].sort((a, b) => a - b), description: old.description },
      new: { ...newSrc, classes: [...new Set(plan.newMap)].sort((a, b) => a - b), description: neu.description },
      classNames: plan.classNames,
      ...(config.head === 'replace' && headLayer ? { oldHead: { model: loaded.model, layer: headLayer } } : {}),
    };
    const runs = config.variants.reduce((n, v) => n + v.lambdas.length, 0);
    log(
      `forgetless finetune: ${context.model} (${working.model.layers.length} layers, ${Object.values(working.model.params).reduce((n, v) => n + v.size, 0)} trainable weights, input [${inputShape.join(', ')}], ${width} outputs${headLayer ? `: head '${headLayer}' ${config.head === 'replace' ? 'replaced' : 'extended'} (it had ${loaded.model.numClasses})` : ''}); ${backendLabel} backend`,
    );
    log(`  old: ${old.description}`);
    log(`  new: ${neu.description}`);
    log(
      `  ${config.optimizer} lr ${config.learningRate}, ${config.epochs} epoch(s), batch ${config.batchSize}, importances on ${Math.min(config.importanceLimit, data.old.train.size)} old examples, batch norm ${config.batchNorm}; ${config.variants.map((v) => variantLabel(v) + (hasLambda(v.method) ? ` (λ ${v.lambdas.join(', ')})` : '')).join(', ')}: ${runs} run(s)${done.length ? `, ${done.length} finished before` : ''}`,
    );
    log(`  output: ${outDir}`);
    const state = (completed: FinetuneRecord[]): FinetuneState => ({ format: 'forgetless-finetune-checkpoint', formatVersion: 1, config, context, completed });
    await writeFileAtomic(join(outDir, CHECKPOINT_DIR, 'state.json'), toJson(state(done)));
    const completed = [...done];
    interrupt.listen();
    const chance = (m: number) => 1.5 / Math.max(1, m);
    let warned = false;
    result = await runFinetune(working.model, data, config, {
      done,
      signal: interrupt.signal,
      onEvent: (e) => {
        progress.onEvent(e);
        if (e.kind === 'run-end' && !warned && e.before.old < chance(data.old.classes.length)) {
          warned = true;
          log(
            `  warning: the pretrained model scores ${e.before.old.toFixed(3)} on the old data, near chance for ${data.old.classes.length} classes: are the old class folders the model's outputs, in its order? Name the outputs with --classes <labels file> (or a metadata.json with "labels" beside model.json)`,
          );
        }
      },
      onRunEnd: async (record) => {
        if (context.save !== 'none') {
          const dir = join(outDir, 'models', modelFolder(record));
          await rm(dir, { recursive: true, force: true });
          await saveLayersModel(dir, working, { overwrite: true });
          // a replaced head: the pretrained head on the fine-tuned body too (the measure left it synced)
          if (data.oldHead) await saveLayersModel(join(dir, 'old-head'), loaded, { overwrite: true });
        }
        completed.push(record);
        await writeFileAtomic(join(outDir, CHECKPOINT_DIR, 'state.json'), toJson(state(completed)));
      },
    });
  } finally {
    progress.stop();
    interrupt.dispose();
    if (working !== loaded) working.dispose();
    loaded.dispose();
  }
  // keep the selected model of each method (or all)
  const keep = new Set(result.selection.map((s) => s.index).filter((i): i is number => i !== undefined));
  if (context.save === 'best' && !result.cancelled) {
    for (const r of result.runs) if (!keep.has(r.index)) await rm(join(outDir, 'models', modelFolder(r)), { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const files = await writeFinetuneOutputs(outDir, result, { command: context.command, context, seconds });
  process.stdout.write(`\n${finetuneTable(result)}\n\n`);
  process.stdout.write(`${result.cancelled ? 'cancelled; partial results' : 'results'} in ${outDir}: ${files.join(', ')}\n`);
  if (result.cancelled) throw new UserError(`interrupted: resume with forgetless finetune --resume ${outDir}`, 1);
  const diverged = result.runs.filter((r) => r.diverged);
  if (diverged.length) {
    throw new UserError(
      `${diverged.length} of ${result.runs.length} runs diverged (${diverged.map((r) => `${r.variant} λ ${r.lambda}: ${r.diverged}`).join('; ')}); their accuracies are not reported`,
      3,
    );
  }
}

/** `models/<variant>[_lambda-<λ>]`. */
export function modelFolder(r: Pick<FinetuneRecord, 'variant' | 'lambda' | 'method'>): string {
  return r.method === 'plain' ? slug(r.variant) : `${slug(r.variant)}_lambda-${r.lambda}`;
}

async function writeFinetuneOutputs(dir: string, result: FinetuneResult, ctx: { command: string; context: FinetuneContext; seconds: number }): Promise<string[]> {
  const files: string[] = [];
  const write = async (name: string, text: string) => {
    await writeFileAtomic(join(dir, name), text);
    files.push(name);
  };
  const models = result.selection.map((s) => {
    const r = result.runs.find((x) => x.index === s.index);
    const saved = r && ctx.context.save !== 'none';
    return {
      ...s,
      model: saved ? `models/${modelFolder(r)}/model.json` : undefined,
      ...(saved && result.config.head === 'replace' ? { oldHeadModel: `models/${modelFolder(r)}/old-head/model.json` } : {}),
    };
  });
  await write(
    'results.json',
    toJson({ format: 'forgetless-finetune-results', formatVersion: 1, command: ctx.command, seconds: ctx.seconds, context: ctx.context, ...result, selection: models }),
  );
  await write('report.md', finetuneMarkdown(result, { command: ctx.command, seconds: ctx.seconds, model: ctx.context.model, old: ctx.context.old, new: ctx.context.new, models }));
  await write('finetune.svg', await renderSvg(finetuneChartSpec(result)));
  return files;
}

export type { BackendChoice, BatchNormChoice, HeadChoice };
