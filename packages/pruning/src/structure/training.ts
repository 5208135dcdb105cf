/**
 * Structural pruning with training. Iterative: remove groups, fine-tune with `trainContinual`,
 * repeat (Han et al. 2015's schedule, here with whole channels; no masks are needed, the removed
 * channels are gone). Continual: after each task, shrink only what the consolidated importance
 * (the elementwise maximum over the tasks seen, so a group stays if any task needs it) says no
 * task needs. Targets are cumulative fractions of the original model.
 *
 * Each round makes a new model; the optimizer is a factory, since an optimizer's slots belong to
 * the variables of one model. Intermediate models are disposed; the caller owns the input and the result.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  type ContinualOptions,
  type ContinualResult,
  type EvaluateOptions,
  type GraphModel,
  type Sequential,
  type Task,
  disposeParams,
  evaluate,
  trainContinual,
} from '@forgetless/core';
import { computeImportance } from '@forgetless/importances';
import { resolveImportance } from '../importance.js';
import { dependencyGroups } from './groups.js';
import { removeGroups, removedIndices, sliceTensor } from './remove.js';
import type { StructurePruneOptions } from './prune-structure.js';
import { type StructureCounts, type StructureTarget, checkGroupReduce, groupImportance, groupScores, hostImportances, selectGroups, structureCounts } from './score.js';

export type TrainOptions = Omit<ContinualOptions, 'optimizer'> & { optimizer: () => tf.Optimizer };

/** A target of `original` as a fraction of `current` (cumulative → this round's). */
function relative(target: StructureTarget, original: StructureCounts, current: StructureCounts): StructureTarget {
  const key = (['params', 'flops', 'channels'] as const).find((k) => target[k] !== undefined);
  if (!key) throw new Error('structural pruning: a target needs params, flops or channels');
  const keep = (1 - (target[key] as number)) * original[key];
  return { [key]: Math.min(0.999999, Math.max(0, 1 - keep / current[key])) };
}

const train = (model: GraphModel | Sequential, tasks: readonly Task[], t: TrainOptions): Promise<ContinualResult> => {
  const { optimizer, ...rest } = t;
  return trainContinual(model, tasks, { ...rest, optimizer: () => optimizer() });
};

export interface IterativeStructureOptions extends Omit<StructurePruneOptions, 'target'> {
  /** Cumulative targets, one per round: `[{ params: 0.3 }, { params: 0.5 }]`. */
  rounds: readonly StructureTarget[];
  tasks: Task | readonly Task[];
  fineTune: TrainOptions;
  /** Accuracy after each round's fine-tuning on this task's test set. */
  evaluateOn?: Task;
  evaluateOptions?: EvaluateOptions;
}

export interface StructureRound {
  counts: StructureCounts;
  accuracy?: number;
  training: ContinualResult;
}

/** Prunes structurally in rounds, fine-tuning after each; returns the final (new) model and each round's figures. */
export async function pruneStructureIteratively<M extends GraphModel | Sequential>(model: M, options: IterativeStructureOptions): Promise<{ model: M; rounds: StructureRound[] }> {
  const { rounds: targets, tasks, fineTune, evaluateOn, evaluateOptions, importance, calibration, scope, minWidth } = options;
  const { reduce, importanceOptions } = groupImportance(importance, options.reduce, options.importanceOptions, 'pruneStructureIteratively');
  const list = Array.isArray(tasks) ? (tasks as readonly Task[]) : [tasks as Task];
  const original = structureCounts(dependencyGroups(model));
  let current: M = model;
  const rounds: StructureRound[] = [];
  try {
    for (const target of targets) {
      const deps = dependencyGroups(current);
      const { importances, owned } = await resolveImportance(
        current,
        importance,
        { ...(calibration ? { calibration } : {}), ...(importanceOptions ? { importanceOptions } : {}) },
        'pruneStructureIteratively',
      );
      let host: Record<string, Float32Array>;
      try {
        host = await hostImportances(importances);
      } finally {
        if (owned) disposeParams(importances);
      }
      const selection = selectGroups(deps, groupScores(deps, host, reduce), {
        target: relative(target, original, structureCounts(deps)),
        ...(scope ? { scope } : {}),
        ...(minWidth ? { minWidth } : {}),
      });
      const next = await removeGroups(current, deps, selection.removed);
      if (current !== model) current.dispose();
      current = next;
      const training = await train(current, list, fineTune);
      const accuracy = evaluateOn
        ? (await evaluate(current, evaluateOn.test, { ...(evaluateOn.classes ? { classes: evaluateOn.classes } : {}), ...evaluateOptions })).accuracy
        : undefined;
      rounds.push({ counts: selection.after, training, ...(accuracy !== undefined ? { accuracy } : {}) });
    }
  } catch (e) {
    if (current !== model) current.dispose();
    throw e;
  }
  return { model: current, rounds };
}

export interface ContinualStructureOptions extends Omit<StructurePruneOptions, 'target' | 'importance' | 'calibration'> {
  /** A data-driven method of @forgetless/importances, computed after each task on its validation set (else its training set). */
  importance: 'magnitude' | 'sig' | 'fisher' | 'mas';
  /** Cumulative target after each task (one per task, or one for all): `{ params: 0.2 }`. */
  targets: StructureTarget | readonly StructureTarget[];
  train: TrainOptions;
}

export interface ContinualStructureTask {
  counts: StructureCounts;
  /** Accuracy on each task seen so far, after this task's shrinking. */
  accuracy: number[];
  training: ContinualResult;
}

/** Trains task after task, shrinking after each by the consolidated (max over tasks) importance. */
export async function trainShrinking<M extends GraphModel | Sequential>(
  model: M,
  tasks: readonly Task[],
  options: ContinualStructureOptions,
): Promise<{ model: M; tasks: ContinualStructureTask[] }> {
  const { importance, targets, train: t, importanceOptions, scope, minWidth } = options;
  const reduce = checkGroupReduce(options.reduce ?? 'l1', 'trainShrinking');
  const original = structureCounts(dependencyGroups(model));
  let current: M = model;
  let consolidated: Record<string, Float32Array> | undefined;
  const out: ContinualStructureTask[] = [];
  try {
    for (const [i, task] of tasks.entries()) {
      const training = await train(current, [task], t);
      const computed = await computeImportance(importance, current, task.validation ?? task.train, importanceOptions ?? {});
      let host: Record<string, Float32Array>;
      try {
        host = await hostImportances(computed);
      } finally {
        disposeParams(computed);
      }
      if (consolidated)
        for (const [n, v] of Object.entries(host))
          if (consolidated[n]) for (let k = 0; k < v.length; k++) v[k] = Math.max(v[k] as number, (consolidated[n] as Float32Array)[k] as number);
      const deps = dependencyGroups(current);
      const target = (Array.isArray(targets) ? targets[i] : targets) as StructureTarget | undefined;
      if (!target) throw new Error(`trainShrinking: no target for task ${i} (${(targets as readonly StructureTarget[]).length} given)`);
      const selection = selectGroups(deps, groupScores(deps, host, reduce), {
        target: relative(target, original, structureCounts(deps)),
        ...(scope ? { scope } : {}),
        ...(minWidth ? { minWidth } : {}),
      });
      const gone = removedIndices(deps, selection.removed);
      consolidated = Object.fromEntries(
        Object.entries(host).map(([n, v]) => {
          const axes = gone.get(n);
          return [n, axes ? sliceTensor(v, deps.shapes[n] as number[], axes).values : v];
        }),
      );
      const next = await removeGroups(current, deps, selection.removed);
      if (current !== model) current.dispose();
      current = next;
      const accuracy: number[] = [];
      for (const seen of tasks.slice(0, i + 1)) accuracy.push((await evaluate(current, seen.test, seen.classes ? { classes: seen.classes } : {})).accuracy);
      out.push({ counts: selection.after, accuracy, training });
    }
  } catch (e) {
    if (current !== model) current.dispose();
    throw e;
  }
  return { model: current, tasks: out };
}
