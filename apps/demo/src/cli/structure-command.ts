/**
 * `forgetless prune --structure channels`: structural pruning of a model.json through its dependency
 * groups (@forgetless/pruning), written back smaller and stock-loadable, with a before/after report:
 * parameters, FLOPs, stored bytes, inference and training-step time, and test accuracy. With
 * `--finetune-steps n` the smaller model is fine-tuned (core's `trainContinual`, Adam, n steps on
 * the training images) before it is written, and the accuracy is reported before pruning, right
 * after it and after fine-tuning.
 */
import { basename } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type DataSource, type LoadedLayersModel, type ParamMap, Rng, disposeParams, evaluate, trainContinual } from '@forgetless/core';
import { type StructureTarget, type Timing, dependencyGroups, formatGroups, groupImportance, pruneLayersModelStructure, timeModel } from '@forgetless/pruning';
import { saveLayersModel } from '@forgetless/pruning/node';
import { usage } from './errors.js';
import { number } from './options.js';
import { claimOutputFolder } from './output-folder.js';
import { parseThreads } from './threads.js';
import { type PruneFlags, backend, importanceBatch, loadData, loadModel, pruneImportance } from './tools.js';

function target(flags: PruneFlags): StructureTarget | undefined {
  const given = (
    [
      ['params', '--target-params', flags.targetParams],
      ['flops', '--target-flops', flags.targetFlops],
      ['channels', '--target-channels', flags.targetChannels],
    ] as const
  ).filter(([, , v]) => v !== undefined);
  if (given.length > 1) throw usage(`--structure channels: give one target, got ${given.map(([, f]) => f).join(' and ')}`);
  const [key, flag, text] = given[0] ?? [];
  if (!key) return undefined;
  const v = number(flag as string, text as string);
  if (!(v >= 0 && v < 1)) throw usage(`${flag}: the fraction to remove must be in [0, 1), got ${text}`);
  return { [key]: v };
}

const ms = (t: Timing) => `${t.median.toFixed(2)} (${t.min.toFixed(2)}–${t.max.toFixed(2)})`;

interface Measured {
  params: number;
  flops: number;
  bytes: number;
  inference: Timing;
  trainStep: Timing;
  accuracy?: number;
}

interface FineTuning {
  steps: number;
  lr: number;
}

function fineTuning(flags: PruneFlags): FineTuning | undefined {
  const steps = number('finetune-steps', flags.finetuneSteps ?? '0', 'nonneg');
  if (!Number.isInteger(steps)) throw usage(`--finetune-steps: expected a whole number of optimizer steps ≥ 0, got '${flags.finetuneSteps}'`);
  const lr = number('finetune-lr', flags.finetuneLr ?? '0.001');
  if (lr > 1) throw usage(`--finetune-lr: the learning rate must be above 0 and at most 1, got '${flags.finetuneLr}'`);
  return steps > 0 ? { steps, lr } : undefined;
}

/**
 * Fine-tunes the smaller model in place (Adam, batch 32, seed 0, `steps` optimizer steps cycling
 * through the training images). A diverged run puts the weights back as they were after pruning and
 * says where it diverged.
 */
async function fineTuneSmall(small: LoadedLayersModel, data: { train: DataSource; test: DataSource }, tune: FineTuning): Promise<{ diverged?: string; seconds: number }> {
  const before = small.model.getWeights({ state: true });
  const optimizer = tf.train.adam(tune.lr);
  const t0 = performance.now();
  try {
    const result = await trainContinual(small.model, [{ name: 'fine-tune', ...data }], {
      optimizer,
      iterations: tune.steps,
      batchSize: 32,
      seed: 0,
      progressEvery: tune.steps + 1,
      warnings: false,
    });
    if (result.diverged) {
      small.model.setWeights(before);
      return { diverged: result.diverged.message, seconds: (performance.now() - t0) / 1000 };
    }
    return { seconds: (performance.now() - t0) / 1000 };
  } finally {
    optimizer.dispose();
    disposeParams(before);
  }
}

export async function pruneChannelsCommand(flags: PruneFlags): Promise<void> {
  const goal = target(flags);
  if (!goal && !flags.groups) throw usage('--structure channels: give --target-params, --target-flops or --target-channels (or --groups to list the groups)');
  if (goal && !flags.out) throw usage('--out: required (the folder to write the pruned model into)');
  const minWidth = number('min-width', flags.minWidth ?? '1', 'int');
  const samples = number('samples', flags.samples, 'int');
  const tune = fineTuning(flags);
  if (tune && !goal) throw usage('--finetune-steps: fine-tunes the pruned model: give a target too');
  if (tune && flags.data === undefined) throw usage('--finetune-steps: fine-tuning needs --data (its training images)');
  const threads = parseThreads(flags.threads, flags.backend ?? 'wasm');
  const folder = goal ? await claimOutputFolder(flags.out as string, { flag: '--out', mode: 'tool' }) : undefined;
  try {
    await backend(flags.backend, threads);
    const loaded = await loadModel(flags.model);
    let imported: ParamMap | undefined;
    try {
      if (flags.groups) process.stdout.write(`${formatGroups(dependencyGroups(loaded.model))}\n`);
      if (!goal || !folder) return;
      const chosen = await pruneImportance(flags.importance, loaded);
      imported = chosen.imported;
      const importance = chosen.importance;
      const needsData = (typeof importance === 'string' && importance !== 'magnitude') || tune !== undefined;
      const data = flags.data !== undefined || needsData ? await loadData(flags.data, loaded.model, flags.model, flags) : undefined;
      const accuracy = async (l: LoadedLayersModel) => (data ? (await evaluate(l.model, data.test)).accuracy : undefined);
      const result = await pruneLayersModelStructure(loaded, {
        importance,
        target: goal,
        scope: flags.scope,
        ...(flags.reduce ? { reduce: flags.reduce } : {}),
        minWidth,
        ...(data ? { calibration: data.train, importanceOptions: { limit: samples, batchSize: importanceBatch(loaded.model) } } : {}),
      });
      const small = result.model;
      try {
        const pruned = tune ? await accuracy(small) : undefined;
        const tuned = tune && data ? await fineTuneSmall(small, data, tune) : undefined;
        const saved = await saveLayersModel(folder.dir, small, { sparse: false });
        const measure = async (l: LoadedLayersModel, counts: { params: number; flops: number }, bytes: number): Promise<Measured> => {
          const acc = await accuracy(l);
          return { ...counts, bytes, ...(await timeModel(l.model)), ...(acc !== undefined ? { accuracy: acc } : {}) };
        };
        const before = await measure(
          loaded,
          result.selection.before,
          loaded.groups.reduce((n, g) => n + g.byteLength, 0),
        );
        const after = await measure(small, result.selection.after, saved.sizes.dense.bytes);
        const name = typeof importance === 'string' ? importance : flags.importance;
        const removed = result.selection.removed.length;
        process.stdout.write(
          `removed ${removed} channel groups of ${basename(loaded.source)} by ${name} (${groupImportance(importance, flags.reduce, undefined, '--reduce').reduce}, ${flags.scope}, min width ${minWidth}), backend ${tf.getBackend()}\n`,
        );
        const row = (label: string, a: string, b: string, ratio?: number) =>
          `  ${label.padEnd(22)} ${a.padStart(22)} ${b.padStart(22)}${ratio !== undefined ? `   ×${ratio.toFixed(3)}` : ''}\n`;
        process.stdout.write(row('', 'before', 'after'));
        process.stdout.write(row('parameters', String(before.params), String(after.params), after.params / before.params));
        process.stdout.write(row('FLOPs', String(before.flops), String(after.flops), after.flops / before.flops));
        process.stdout.write(row('stored bytes', String(before.bytes), String(after.bytes), after.bytes / before.bytes));
        process.stdout.write(row('inference ms (32)', ms(before.inference), ms(after.inference), after.inference.median / before.inference.median));
        process.stdout.write(row('train step ms (32)', ms(before.trainStep), ms(after.trainStep), after.trainStep.median / before.trainStep.median));
        if (before.accuracy !== undefined && after.accuracy !== undefined) {
          if (tune && tuned && pruned !== undefined) {
            process.stdout.write(row('test accuracy', before.accuracy.toFixed(4), pruned.toFixed(4)));
            process.stdout.write(row('  after fine-tuning', '', tuned.diverged ? 'diverged' : after.accuracy.toFixed(4)));
            process.stdout.write(
              tuned.diverged
                ? `fine-tuning ${tuned.diverged}: the model written is the pruned one, not fine-tuned\n`
                : `fine-tuned ${tune.steps} steps (Adam, learning rate ${tune.lr}, batch 32) on ${data?.train.size} training images in ${tuned.seconds.toFixed(1)} s\n`,
            );
          } else process.stdout.write(row('test accuracy', before.accuracy.toFixed(4), after.accuracy.toFixed(4)));
        }
        process.stdout.write(`written: ${saved.files.map((f) => basename(f)).join(', ')} in ${folder.dir}\n`);
      } finally {
        small.dispose();
      }
    } finally {
      disposeParams(imported);
      loaded.dispose();
    }
  } finally {
    await folder?.release();
  }
}
