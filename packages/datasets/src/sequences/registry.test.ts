import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTaskSequence } from '../load.js';
import { MNIST_FILE_ROLES, mnistFormatFileNames } from '../mnist-format.js';
import { fixtureDataset, fixtureFiles } from '../test-fixtures.js';
import { permutedTasks } from './permuted.js';
import { SEQUENCE_NAMES, isSequenceName, taskSequence } from './registry.js';
import { splitTasks } from './split.js';

const summary = (tasks: { name: string; train: { size: number }; test: { size: number }; classes?: readonly number[] }[]) =>
  tasks.map((t) => [t.name, t.train.size, t.test.size, t.classes]);

const root = mkdtempSync(join(tmpdir(), 'forgetless-registry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const isolated = { env: {}, systemRoots: [] as string[], cacheRoot: join(root, 'cache') };

describe('task sequences by name', () => {
  const data = fixtureDataset({ trainCount: 120, testCount: 40 });

  it('builds each named sequence from a dataset, as the direct functions do', () => {
    expect(SEQUENCE_NAMES).toEqual(['permuted', 'split', 'rotated', 'queue']);
    expect(summary(taskSequence('permuted', { dataset: data, numTasks: 3, seed: 2 }))).toEqual(summary(permutedTasks(data, { numTasks: 3, seed: 2 })));
    expect(
      summary(
        taskSequence('split', {
          dataset: data,
          groups: [
            [0, 1],
            [2, 3],
          ],
          mode: 'task',
        }),
      ),
    ).toEqual(
      summary(
        splitTasks(data, {
          groups: [
            [0, 1],
            [2, 3],
          ],
        }),
      ),
    );
    expect(taskSequence('rotated', { dataset: data, angles: [0, 90] }).map((t) => t.name)).toEqual(['fixture-rot0', 'fixture-rot90']);
    expect(taskSequence('queue', { datasets: [data], flat: false }).map((t) => [t.name, t.train.exampleShape])).toEqual([
      ['fixture', [28, 28, 1]],
      ['fixture-rot90', [28, 28, 1]],
    ]);
    // a string from a command line
    const name: string = 'split';
    expect(isSequenceName(name) && taskSequence(name, { dataset: data, mode: 'domain' }).length).toBe(5);
  });

  it('says what is wrong with an unknown name or missing data', () => {
    expect(() => taskSequence('shuffled', { dataset: data })).toThrow("unknown sequence 'shuffled'; known: permuted, split, rotated, queue");
    expect(() => taskSequence('permuted', {})).toThrow("taskSequence('permuted'): pass a dataset");
  });

  it('loads sequences over located data: the embedded default, and the queue from what is available', async () => {
    const permuted = await loadTaskSequence('permuted', { ...isolated, numTasks: 2, validation: 5000 });
    expect(summary(permuted)).toEqual([
      ['fashion-mnist-permuted-0', 5000, 2000, undefined],
      ['fashion-mnist-permuted-1', 5000, 2000, undefined],
    ]);
    // only Fashion-MNIST is available here: its queue is Fashion-MNIST, then rotated 90°
    expect((await loadTaskSequence('queue', isolated)).map((t) => t.name)).toEqual(['fashion-mnist', 'fashion-mnist-rot90']);
    // with MNIST beside it under FORGETLESS_DATA: paper 2's four tasks
    for (const name of ['mnist', 'fashion-mnist']) {
      const dir = join(root, 'data', name);
      mkdirSync(dir, { recursive: true });
      const files = fixtureFiles(fixtureDataset({ trainCount: 24, testCount: 6, seed: name.length }));
      for (const r of MNIST_FILE_ROLES) writeFileSync(join(dir, mnistFormatFileNames()[r]), files[r]);
    }
    const env = { FORGETLESS_DATA: join(root, 'data') };
    expect((await loadTaskSequence('queue', { ...isolated, env })).map((t) => t.name)).toEqual(['mnist', 'fashion-mnist', 'mnist-rot90', 'fashion-mnist-rot90']);
    const split = await loadTaskSequence('split', { ...isolated, env, dataset: 'mnist', mode: 'domain', validation: 0 });
    expect(split.reduce((n, t) => n + t.train.size, 0)).toBe(24);
    await expect(loadTaskSequence('queue', { ...isolated, datasets: ['kmnist', 'fashion-mnist'] })).rejects.toThrow("dataset 'kmnist' not found");
  });
});
