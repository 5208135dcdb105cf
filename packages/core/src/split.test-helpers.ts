/** Small split tasks for tests: Gaussian clusters per class, class groups as tasks. */
import { ArraySource, type Task } from './data.js';
import { Rng } from './rng.js';

export function clusterSplitTasks(options: { groups: number[][]; features: number; perClass: number; seed: number; scenario: 'task' | 'class' }): Task[] {
  const { groups, features, perClass } = options;
  const numClasses = Math.max(...groups.flat()) + 1;
  const rng = new Rng(options.seed);
  const means = Array.from({ length: numClasses }, () => Array.from({ length: features }, () => rng.normal()));
  const make = (group: number[], n: number) => {
    const x = new Float32Array(group.length * n * features);
    const y = new Int32Array(group.length * n);
    let k = 0;
    for (let r = 0; r < n; r++) {
      for (const c of group) {
        for (let f = 0; f < features; f++) x[k * features + f] = (means[c]?.[f] as number) + 0.8 * rng.normal();
        y[k++] = c;
      }
    }
    return new ArraySource({ x, y, exampleShape: [features], numClasses });
  };
  return groups.map((g) => ({
    name: `split-${g.join('-')}`,
    train: make(g, perClass),
    test: make(g, Math.max(4, perClass >> 1)),
    labels: [...g],
    ...(options.scenario === 'task' ? { classes: [...g] } : {}),
  }));
}
