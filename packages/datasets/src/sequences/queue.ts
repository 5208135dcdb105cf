/**
 * A queue of different datasets, each then repeated rotated: paper 2's conv queue is
 * MNIST → Fashion-MNIST → MNIST rotated 90° → Fashion-MNIST rotated 90° (`angles` [0, 90], outer loop
 * over angles). With Fashion-MNIST alone it is Fashion-MNIST → Fashion-MNIST rotated 90°.
 */
import type { Task } from '@forgetless/core';
import type { MnistFormatDataset } from '../mnist-format.js';
import { type PartOptions, datasetParts } from './parts.js';
import { rotatedTask } from './rotated.js';

export interface QueueOptions extends PartOptions {
  /** Each angle runs the whole list of datasets (default [0, 90], paper 2). */
  angles?: readonly number[];
}

/** Tasks named `<dataset>` and `<dataset>-rot<angle>`; every task's label space is the largest dataset's. */
export function datasetQueue(datasets: readonly MnistFormatDataset[], options: QueueOptions = {}): Task[] {
  if (datasets.length === 0) throw new Error('queue: no datasets');
  const first = datasets[0] as MnistFormatDataset;
  for (const d of datasets) {
    if (d.rows !== first.rows || d.cols !== first.cols) {
      throw new Error(`queue: ${d.name} holds ${d.rows}×${d.cols} images but ${first.name} holds ${first.rows}×${first.cols}`);
    }
  }
  const names = datasets.map((d) => d.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new Error(`queue: dataset '${duplicate}' appears twice (task names must differ)`);
  const numClasses = Math.max(...datasets.map((d) => d.numClasses));
  const bases = datasets.map((d) => datasetParts(d, { ...options, numClasses }));
  const angles = options.angles ?? [0, 90];
  const tasks: Task[] = [];
  for (const angle of angles) {
    datasets.forEach((d, i) => {
      const name = angle === 0 ? d.name : `${d.name}-rot${angle}`;
      tasks.push(rotatedTask(d, bases[i] as ReturnType<typeof datasetParts>, angle, { ...options, numClasses }, name));
    });
  }
  return tasks;
}
