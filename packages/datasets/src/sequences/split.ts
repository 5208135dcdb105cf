/**
 * Split MNIST (Zenke et al. 2017; van de Ven and Tolias 2019): the classes are dealt into groups and
 * each group is a task. Three scenarios, in van de Ven and Tolias' words:
 * - `task`: task-incremental; labels unchanged, each task carries its label mask (`Task.classes`),
 *   so only its classes' logits are used (a multi-head output).
 * - `domain`: domain-incremental; labels remapped to their position in the group (0, 1, ...), one
 *   shared head of `max group size` outputs.
 * - `class`: class-incremental; labels unchanged, no mask.
 * Every task lists the labels its examples carry (`Task.labels`), which a growing head widens to.
 */
import { ArraySource, type Task } from '@forgetless/core';
import type { MnistFormatDataset } from '../mnist-format.js';
import { type PartOptions, exampleShape, holdOut, positionsOfClasses } from './parts.js';

/** The three scenarios of van de Ven & Tolias (2019): task-, domain- and class-incremental. */
export type Scenario = 'task' | 'domain' | 'class';
export const SCENARIOS: readonly Scenario[] = ['task', 'domain', 'class'];
export type SplitMode = Scenario;

export interface SplitOptions extends PartOptions {
  /** Disjoint class groups, one per task (default [[0,1],[2,3],[4,5],[6,7],[8,9]]). */
  groups?: readonly (readonly number[])[];
  /** The scenario (default 'task'). */
  scenario?: Scenario;
  /** The scenario's former name (`scenario` wins when both are given). */
  mode?: SplitMode;
}

export const DEFAULT_SPLIT_GROUPS: readonly (readonly number[])[] = [
  [0, 1],
  [2, 3],
  [4, 5],
  [6, 7],
  [8, 9],
];

/** One task per class group, named `<dataset>-split-<classes joined by ->`; validation per task. */
export function splitTasks(data: MnistFormatDataset, options: SplitOptions = {}): Task[] {
  const groups = options.groups ?? DEFAULT_SPLIT_GROUPS;
  const mode = options.scenario ?? options.mode ?? 'task';
  if (mode !== 'task' && mode !== 'domain' && mode !== 'class') throw new Error(`split: scenario must be 'task', 'domain' or 'class', got '${mode}'`);
  checkGroups(groups, data.numClasses);
  const domain = mode === 'domain';
  // Each class goes to its position in its own group; classes in no group are never drawn.
  const labelMap = new Int32Array(data.numClasses);
  for (const group of groups) group.forEach((c, k) => (labelMap[c] = k));
  const numClasses = domain ? Math.max(...groups.map((g) => g.length)) : data.numClasses;
  const source = (x: Uint8Array, y: Uint8Array) => new ArraySource({ x, y, exampleShape: exampleShape(data, options.flat), numClasses, ...(domain ? { labelMap } : {}) });
  const train = source(data.train.images, data.train.labels);
  const test = source(data.test.images, data.test.labels);
  return groups.map((group) => {
    const parts = holdOut(train, positionsOfClasses(data.train.labels, group), options.validation);
    return {
      name: `${data.name}-split-${group.join('-')}`,
      train: parts.train,
      test: test.subset(positionsOfClasses(data.test.labels, group)),
      ...(parts.validation ? { validation: parts.validation } : {}),
      ...(mode === 'task' ? { classes: [...group] } : {}),
      labels: domain ? group.map((_, k) => k) : [...group],
    };
  });
}

function checkGroups(groups: readonly (readonly number[])[], numClasses: number): void {
  if (groups.length === 0) throw new Error('split: groups is empty');
  const seen = new Map<number, number>();
  groups.forEach((group, g) => {
    if (group.length === 0) throw new Error(`split: group ${g} is empty`);
    for (const c of group) {
      if (!Number.isInteger(c) || c < 0 || c >= numClasses) throw new Error(`split: group ${g} has class ${c}, outside 0..${numClasses - 1}`);
      const other = seen.get(c);
      if (other !== undefined) throw new Error(`split: class ${c} is in group ${other} and group ${g}; groups must be disjoint`);
      seen.set(c, g);
    }
  });
}
