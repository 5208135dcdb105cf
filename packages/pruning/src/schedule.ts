/**
 * Pruning schedules: when masks are updated during training, and to which sparsity. A schedule
 * answers `at(step)` with { prune, sparsity }, `step` being the optimizer steps taken so far (masks
 * are updated before that step runs), as tfmot's `PruningSchedule.__call__(step)` does.
 */
import { checkSparsity, checkStep } from './check.js';

export interface ScheduleDecision {
  /** Update the masks before this step. */
  prune: boolean;
  /** Target fraction of the chosen entries removed. */
  sparsity: number;
}

export interface PruningSchedule {
  readonly name: string;
  at(step: number): ScheduleDecision;
  /** The sparsity reached at the end of the schedule. */
  readonly finalSparsity: number;
  /** Serializable settings (tfmot's get_config). */
  config(): Record<string, unknown>;
}

/** tfmot's `_should_prune_in_step`: begin ≤ step ≤ end (end −1: forever) and (step − begin) mod frequency = 0. */
export function shouldPruneInStep(step: number, beginStep: number, endStep: number, frequency: number): boolean {
  const inRange = step >= beginStep && (step <= endStep || endStep < 0);
  return inRange && (step - beginStep) % frequency === 0;
}

function checkFrequency(f: unknown, what: string): number {
  if (typeof f !== 'number' || !Number.isInteger(f) || f < 1) throw new Error(`${what}: frequency must be an integer ≥ 1, got ${String(f)}`);
  return f;
}

/** Prune once, to `sparsity`, before step `step` (default 0: before training). */
export function oneShot(sparsity: number, options: { step?: number } = {}): PruningSchedule {
  const what = 'oneShot';
  const s = checkSparsity(sparsity, what);
  const at = checkStep(options.step ?? 0, what, 'step');
  return {
    name: 'oneShot',
    finalSparsity: s,
    at: (step) => ({ prune: step === at, sparsity: s }),
    config: () => ({ class_name: 'OneShot', config: { sparsity: s, step: at } }),
  };
}

/** tfmot's ConstantSparsity: `target` at every `frequency`-th step of [beginStep, endStep] (endStep −1: no end). */
export function constantSparsity(target: number, options: { beginStep?: number; endStep?: number; frequency?: number } = {}): PruningSchedule {
  const what = 'constantSparsity';
  const s = checkSparsity(target, what, 'target');
  const begin = checkStep(options.beginStep ?? 0, what, 'beginStep');
  const end = options.endStep ?? -1;
  if (end !== -1) checkStep(end, what, 'endStep (or −1)');
  if (end !== -1 && end < begin) throw new Error(`${what}: endStep (${end}) must be ≥ beginStep (${begin}) or −1`);
  const frequency = checkFrequency(options.frequency ?? 100, what);
  return {
    name: 'constantSparsity',
    finalSparsity: s,
    at: (step) => ({ prune: shouldPruneInStep(step, begin, end, frequency), sparsity: s }),
    config: () => ({ class_name: 'ConstantSparsity', config: { target_sparsity: s, begin_step: begin, end_step: end, frequency } }),
  };
}

export interface PolynomialDecayOptions {
  initialSparsity: number;
  finalSparsity: number;
  beginStep: number;
  endStep: number;
  /** Exponent (default 3, tfmot's). */
  power?: number;
  /** Prune every `frequency` steps (default 100, tfmot's). */
  frequency?: number;
}

/**
 * tfmot's PolynomialDecay (Zhu & Gupta 2017, arXiv 1710.01878):
 *   p = min(1, max(0, (step − begin) / (end − begin))),
 *   s(step) = s_f + (s_i − s_f) · (1 − p)^power,
 * pruning at every `frequency`-th step of [begin, end].
 */
export function polynomialDecay(options: PolynomialDecayOptions): PruningSchedule {
  const what = 'polynomialDecay';
  const si = checkSparsity(options.initialSparsity, what, 'initialSparsity');
  const sf = checkSparsity(options.finalSparsity, what, 'finalSparsity');
  const begin = checkStep(options.beginStep, what, 'beginStep');
  const end = checkStep(options.endStep, what, 'endStep');
  if (end <= begin) throw new Error(`${what}: endStep (${end}) must be > beginStep (${begin})`);
  const power = options.power ?? 3;
  if (typeof power !== 'number' || !Number.isFinite(power)) throw new Error(`${what}: power must be a finite number, got ${String(power)}`);
  const frequency = checkFrequency(options.frequency ?? 100, what);
  const sparsityAt = (step: number) => {
    const p = Math.min(1, Math.max(0, (step - begin) / (end - begin)));
    return (si - sf) * (1 - p) ** power + sf;
  };
  return {
    name: 'polynomialDecay',
    finalSparsity: sf,
    at: (step) => ({ prune: shouldPruneInStep(step, begin, end, frequency), sparsity: sparsityAt(step) }),
    config: () => ({ class_name: 'PolynomialDecay', config: { initial_sparsity: si, final_sparsity: sf, power, begin_step: begin, end_step: end, frequency } }),
  };
}

export interface IterativeSchedule extends PruningSchedule {
  /** The sparsity of each round, non-decreasing. */
  readonly stages: readonly number[];
  /** Steps of fine-tuning between rounds. */
  readonly every: number;
}

/**
 * Iterative pruning: prune to `stages[0]`, fine-tune `every` steps, prune to `stages[1]`, and so on
 * (Han et al. 2015). Round i happens before step beginStep + i·every. `pruneIteratively` runs the
 * rounds with any importance (data-driven ones too) and fine-tunes between them.
 */
export function iterative(stages: readonly number[], options: { every: number; beginStep?: number }): IterativeSchedule {
  const what = 'iterative';
  if (!Array.isArray(stages) || stages.length === 0) throw new Error(`${what}: stages must be a non-empty array of sparsities`);
  stages.forEach((s, i) => checkSparsity(s, what, `stages[${i}]`));
  for (let i = 1; i < stages.length; i++) {
    if ((stages[i] as number) < (stages[i - 1] as number)) throw new Error(`${what}: stages must not decrease, got ${stages[i - 1]} then ${stages[i]} at stages[${i}]`);
  }
  const every = checkStep(options?.every, what, 'every');
  if (every < 1) throw new Error(`${what}: every must be ≥ 1 step, got ${every}`);
  const begin = checkStep(options.beginStep ?? 0, what, 'beginStep');
  const list = [...stages];
  return {
    name: 'iterative',
    stages: list,
    every,
    finalSparsity: list[list.length - 1] as number,
    at: (step) => {
      const r = (step - begin) / every;
      if (step >= begin && Number.isInteger(r) && r < list.length) return { prune: true, sparsity: list[r] as number };
      const done = Math.min(list.length - 1, Math.max(-1, Math.floor(r)));
      return { prune: false, sparsity: done < 0 ? 0 : (list[done] as number) };
    },
    config: () => ({ class_name: 'Iterative', config: { stages: list, every, begin_step: begin } }),
  };
}
