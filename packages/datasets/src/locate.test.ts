import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedDataDir } from './embedded-node.js';
import { loadDataset } from './load.js';
import { locateDataset, searchedPlaces } from './locate.js';
import { MNIST_FILE_ROLES, mnistFormatFileNames } from './mnist-format.js';
import { fixtureDataset, fixtureFiles } from './test-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'forgetless-locate-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function makeFolder(dir: string, trainCount: number): string {
  mkdirSync(dir, { recursive: true });
  const files = fixtureFiles(fixtureDataset({ trainCount, testCount: 10 }));
  for (const r of MNIST_FILE_ROLES) writeFileSync(join(dir, mnistFormatFileNames()[r]), files[r]);
  return dir;
}

const envRoot = join(root, 'env');
const sysRoot = join(root, 'sys');
const cache = join(root, 'cache');
makeFolder(join(envRoot, 'kmnist'), 11);
makeFolder(join(sysRoot, 'fashion-mnist'), 22);
makeFolder(join(sysRoot, 'mnist'), 33);
const direct = makeFolder(join(root, 'direct-mnist'), 44);
const isolated = { systemRoots: [] as string[], cacheRoot: cache, env: {} };

describe('where data is found', () => {
  it('with no name: FORGETLESS_DATA itself, else its fashion-mnist, then the system folder, then embedded', async () => {
    expect(await locateDataset(undefined, { env: { FORGETLESS_DATA: direct }, systemRoots: [sysRoot], cacheRoot: cache })).toEqual({
      name: 'direct-mnist',
      dir: direct,
      origin: 'env',
    });
    const fashionEnv = makeFolder(join(root, 'env2', 'fashion-mnist'), 5);
    expect(await locateDataset(undefined, { env: { FORGETLESS_DATA: join(root, 'env2') }, systemRoots: [sysRoot], cacheRoot: cache })).toEqual({
      name: 'fashion-mnist',
      dir: fashionEnv,
      origin: 'env',
    });
    expect(await locateDataset(undefined, { env: { FORGETLESS_DATA: envRoot }, systemRoots: [sysRoot], cacheRoot: cache })).toEqual({
      name: 'fashion-mnist',
      dir: join(sysRoot, 'fashion-mnist'),
      origin: 'system',
    });
    expect(await locateDataset(undefined, isolated)).toEqual({ name: 'fashion-mnist', dir: embeddedDataDir(), origin: 'embedded' });
    expect(await locateDataset(undefined, { ...isolated, embedded: false })).toBeUndefined();
  });

  it('by name: $FORGETLESS_DATA/<name>, the system folder, the download cache; by path: that folder', async () => {
    const opts = { env: { FORGETLESS_DATA: envRoot }, systemRoots: [sysRoot], cacheRoot: cache };
    expect((await locateDataset('kmnist', opts))?.dir).toBe(join(envRoot, 'kmnist'));
    expect((await locateDataset('mnist', opts))?.origin).toBe('system');
    expect(await locateDataset('mnist', isolated)).toBeUndefined();
    makeFolder(join(cache, 'mnist'), 3);
    expect(await locateDataset('mnist', isolated)).toEqual({ name: 'mnist', dir: join(cache, 'mnist'), origin: 'cache' });
    expect(await locateDataset(direct, isolated)).toEqual({ name: 'direct-mnist', dir: direct, origin: 'path' });
    // FORGETLESS_DATA may be the dataset's own folder when it bears the dataset's name
    expect(await locateDataset('direct-mnist', { ...isolated, env: { FORGETLESS_DATA: direct } })).toEqual({ name: 'direct-mnist', dir: direct, origin: 'env' });
    expect(await locateDataset('kmnist', { ...isolated, env: { FORGETLESS_DATA: direct } })).toBeUndefined();
    expect(await locateDataset(join(root, 'absent'), isolated)).toBeUndefined();
  });

  it('loads what it finds, and says where it looked when it finds nothing', async () => {
    const opts = { env: { FORGETLESS_DATA: envRoot }, systemRoots: [sysRoot], cacheRoot: cache };
    expect((await loadDataset('mnist', opts)).train.count).toBe(33);
    expect((await loadDataset(undefined, opts)).train.count).toBe(22);
    expect((await loadDataset(undefined, isolated)).train.count).toBe(10000);
    await expect(loadDataset('emnist', opts)).rejects.toThrow(
      `dataset 'emnist' not found; looked in: ${join(envRoot, 'emnist')}, ${join(sysRoot, 'emnist')}, ${join(cache, 'emnist')}`,
    );
    expect(searchedPlaces('qmnist', isolated)).toEqual(['$FORGETLESS_DATA/qmnist ($FORGETLESS_DATA is not set)', join(cache, 'qmnist')]);
    await expect(loadDataset('mnist', { ...isolated, cacheRoot: join(root, 'empty') })).rejects.toThrow(
      'or pass { download: true } to fetch it from https://ossci-datasets.s3.amazonaws.com/mnist/',
    );
  });
});
