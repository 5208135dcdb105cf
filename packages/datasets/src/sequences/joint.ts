/**
 * Joint training, the upper bound of a continual sequence: task i trains on the union of tasks
 * 0..i's training examples (each keeping its own permutation, label map and, in the task-incremental
 * scenario, its own output mask per example), so the accuracy matrix is measured as for any method.
 * Tests and names are the tasks'. Needs `ArraySource` training sources (every sequence here has them).
 */
import { ArraySource, type Task, concatSources } from '@forgetless/core';

export function cumulativeTasks(tasks: readonly Task[]): Task[] {
  return tasks.map((task, i) => {
    const parts = tasks.slice(0, i + 1).map((t) => {
      if (!(t.train instanceof ArraySource)) throw new Error(`cumulativeTasks: task '${t.name}' has a training source that is not an ArraySource`);
      return { source: t.train, ...(t.classes ? { classes: t.classes } : {}) };
    });
    return { ...task, train: i === 0 && !task.classes ? task.train : concatSources(parts) };
  });
}
