/**
 * Accumulation of task importances over a sequence of tasks:
 * - `sum`:   I ← I + I_task (the papers' default: no normalisation);
 * - `decay`: I ← γ·I + I_task (online EWC, Schwarz et al. 2018), γ ∈ [0, 1];
 * - `max`:   I ← max(I, I_task), entrywise;
 * - `mean`:  I ← (T·I + I_task) / (T + 1), T = tasks already in I (`taskCount`).
 * The first task's importance is copied as is in every mode; a parameter new in a task (a head added
 * with it) enters with a running importance of 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ParamMap, cloneParams, disposeParams, zipParams } from '@forgetless/core';

export type AccumulateMode = 'sum' | 'decay' | 'max' | 'mean';
export const ACCUMULATE_MODES: readonly AccumulateMode[] = ['sum', 'decay', 'max', 'mean'];

export interface AccumulateOptions {
  mode?: AccumulateMode;
  /** Decay γ ∈ [0, 1] of mode `decay` (required there). */
  gamma?: number;
  /** Tasks already accumulated into `running` (required by mode `mean`). */
  taskCount?: number;
}

/** Validates the options; returns the mode. */
export function checkAccumulate(options: AccumulateOptions, what = 'accumulate'): AccumulateMode {
  const mode = options.mode ?? 'sum';
  if (!ACCUMULATE_MODES.includes(mode)) throw new Error(`${what}: unknown mode '${String(mode)}' (expected one of ${ACCUMULATE_MODES.join(', ')})`);
  if (mode === 'decay') {
    const g = options.gamma;
    if (typeof g !== 'number' || !(g >= 0 && g <= 1)) throw new Error(`${what}: gamma must be in [0, 1] for mode 'decay', got ${String(g)}`);
  }
  return mode;
}

/**
 * Returns the new running importance. Ownership: `running` is disposed (it is replaced);
 * `taskImportance` stays the caller's.
 */
export function accumulate(running: ParamMap | undefined, taskImportance: ParamMap, options: AccumulateOptions = {}): ParamMap {
  const mode = checkAccumulate(options);
  if (mode === 'mean' && running) {
    const t = options.taskCount;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1) throw new Error(`accumulate: taskCount must be a positive integer for mode 'mean', got ${String(t)}`);
  }
  if (!running) return cloneParams(taskImportance);
  const gamma = options.gamma as number;
  const t = options.taskCount as number;
  // a parameter added since the last task (a multi-head model's new head) had importance 0 so far
  for (const name of Object.keys(running)) if (!taskImportance[name]) throw new Error(`accumulate: parameter '${name}' is missing from the task's importance`);
  const next = tf.tidy(() =>
    zipParams(
      Object.fromEntries(Object.entries(taskImportance).map(([name, b]) => [name, running[name] ?? tf.zerosLike(b)])),
      taskImportance,
      (a, b) => {
        switch (mode) {
          case 'sum':
            return tf.add(a, b);
          case 'decay':
            return tf.add(tf.mul(a, gamma), b);
          case 'max':
            return tf.maximum(a, b);
          case 'mean':
            return tf.div(tf.add(tf.mul(a, t), b), t + 1);
        }
      },
      'accumulate',
    ),
  );
  disposeParams(running);
  return next;
}
