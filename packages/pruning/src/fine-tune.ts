/**
 * Fine-tuning a pruned model, and iterative pruning (prune, fine-tune, prune again: Han et al. 2015).
 * Both train with core's `trainContinual`, the pruned weights held at exactly zero by the optimizers
 * package's `masked` transform (appended after the caller's plugins, so it has the last word on the
 * gradient and on the step).
 */
import { type ContinualOptions, type ContinualResult, type EvaluateOptions, type ParamMap, type Model, type Task, disposeParams, evaluate, trainContinual } from '@forgetless/core';
import { masked } from '@forgetless/optimizers';
import { type ImportanceSource, type ImportanceSpec, resolveImportance } from './importance.js';
import { type PruneOptions, applyMasks, pruningMasks } from './masks.js';
import type { IterativeSchedule } from './schedule.js';

/** `trainContinual(model, tasks, options)` with `masks` held: pruned weights stay exactly 0. */
export async function fineTune(model: Model, tasks: Task | readonly Task[], masks: ParamMap, options: ContinualOptions): Promise<ContinualResult> {
  const transform = masked(masks);
  try {
    const list = Array.isArray(tasks) ? (tasks as readonly Task[]) : [tasks as Task];
    return await trainContinual(model, list, { ...options, plugins: [...(options.plugins ?? []), transform] });
  } finally {
    transform.dispose();
  }
}

export interface IterativePruneOptions extends Omit<PruneOptions, 'sparsity' | 'previous'>, ImportanceSource {
  /** The rounds: `iterative([0.5, 0.75, 0.9], { every: 500 })`; each round is followed by `every` fine-tuning steps. */
  schedule: IterativeSchedule;
  /** Recomputed on the current (pruned, fine-tuned) model before each round. A map is used as given every round. */
  importance: ImportanceSpec;
  /** The task(s) to fine-tune on. */
  tasks: Task | readonly Task[];
  /** trainContinual options of each fine-tuning run (`iterations` defaults to the schedule's `every`). */
  fineTune: Omit<ContinualOptions, 'iterations' | 'epochs'> & { iterations?: number; epochs?: number };
  /** Evaluated after each round's pruning and after its fine-tuning. */
  evaluateOn?: Task;
  evaluateOptions?: EvaluateOptions;
}

export interface IterativeRound {
  sparsity: number;
  /** Accuracy right after pruning, and after fine-tuning (with `evaluateOn`). */
  pruned?: number;
  fineTuned?: number;
  training: ContinualResult;
}

/**
 * Runs the schedule's rounds on `model` (in place). Returns the final masks (owned by the caller)
 * and each round's figures.
 */
export async function pruneIteratively(model: Model, options: IterativePruneOptions): Promise<{ masks: ParamMap; rounds: IterativeRound[] }> {
  const what = 'pruneIteratively';
  const { schedule, importance, tasks, fineTune: ft, evaluateOn, evaluateOptions, calibration, importanceOptions, ...rank } = options;
  if (!schedule || !Array.isArray(schedule.stages)) throw new Error(`${what}: schedule must be an iterative schedule (iterative([...], { every }))`);
  let masks: ParamMap | undefined;
  const rounds: IterativeRound[] = [];
  const acc = async () =>
    evaluateOn ? (await evaluate(model, evaluateOn.test, { ...(evaluateOn.classes ? { classes: evaluateOn.classes } : {}), ...evaluateOptions })).accuracy : undefined;
  try {
    for (const sparsity of schedule.stages) {
      const { importances, owned } = await resolveImportance(
        model,
        importance,
        { ...(calibration ? { calibration } : {}), ...(importanceOptions ? { importanceOptions } : {}) },
        what,
      );
      let next: ParamMap;
      try {
        next = await pruningMasks(importances, { ...rank, sparsity, ...(masks ? { previous: masks } : {}) });
      } finally {
        if (owned) disposeParams(importances);
      }
      disposeParams(masks);
      masks = next;
      applyMasks(model.params, masks);
      const pruned = await acc();
      const training = await fineTune(model, tasks, masks, { ...ft, ...(ft.epochs === undefined ? { iterations: ft.iterations ?? schedule.every } : {}) } as ContinualOptions);
      const fineTuned = await acc();
      rounds.push({ sparsity, training, ...(pruned !== undefined ? { pruned } : {}), ...(fineTuned !== undefined ? { fineTuned } : {}) });
    }
  } catch (e) {
    disposeParams(masks);
    throw e;
  }
  return { masks: masks as ParamMap, rounds };
}
