// A model.json that asks for more than its files hold is refused before it costs memory: shard sizes
// are compared with the manifest before anything is built (a file's size on disk, a URL's
// Content-Length, or the shard read first), the manifest's shapes are checked against the topology
// without making a variable, and the declared weights are capped (`maxBytes`). A file of its own, so
// that the process's peak RSS (`resourceUsage().maxRSS`, per forked worker) measures these tests alone.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadLayersModel } from '../node.js';
import { loadLayersModelFromUrl } from './load.js';

const MiB = 2 ** 20;
const BIG = 400_000;
// float32 kernel [784, 400 000] and bias [400 000]
const BIG_BYTES = (784 * BIG + BIG) * 4;

/** A model.json of one Dense layer of `units` on 784 inputs, whose manifest declares `declared` units. */
function denseModelJson(units: number, declared = units, inputs = 784): Record<string, unknown> {
  return {
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: { name: 'seq', layers: [{ class_name: 'Dense', config: { name: 'big', units, activation: 'linear', use_bias: true, batch_input_shape: [null, inputs] } }] },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    weightsManifest: [
      {
        paths: ['weights.bin'],
        weights: [
          { name: 'big/kernel', shape: [inputs, declared], dtype: 'float32' },
          { name: 'big/bias', shape: [declared], dtype: 'float32' },
        ],
      },
    ],
  };
}

async function writeModel(dir: string, json: Record<string, unknown>, shard?: Uint8Array): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  if (shard) await writeFile(join(dir, 'weights.bin'), shard);
  return join(dir, 'model.json');
}

/**
 * Runs `f`, returning how long it took and a bound on how far it raised the RSS: the process's peak RSS
 * after it, less the RSS before it (at least the growth; more when an earlier peak was higher).
 */
async function measured(f: () => Promise<unknown>): Promise<{ growth: number; ms: number }> {
  const before = process.memoryUsage.rss();
  const t0 = performance.now();
  await f();
  return { growth: process.resourceUsage().maxRSS * 1024 - before, ms: performance.now() - t0 };
}

/** A fetch serving `files` by name; each body is a stream counting how many chunks were pulled from it. */
function fetchOf(files: Record<string, () => Response>): typeof fetch {
  return (async (url: string) => {
    const name = url.slice(url.lastIndexOf('/') + 1);
    const make = files[name];
    return make ? make() : new Response('not found', { status: 404 });
  }) as typeof fetch;
}

function counted(chunks: number, chunkBytes: number, headers: Record<string, string> = {}): { response: () => Response; pulled: () => number } {
  let pulled = 0;
  return {
    pulled: () => pulled,
    response: () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            if (pulled++ >= chunks) c.close();
            else c.enqueue(new Uint8Array(chunkBytes));
          },
        }),
        { headers },
      ),
  };
}

let root: string;
let bytes = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'forgetless-load-limits-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => {
  bytes = tf.memory().numBytes;
});
afterEach(() => {
  // nothing was allocated, or it was all released
  expect(tf.memory().numBytes).toBe(bytes);
});

describe('a model.json asking for more than its files hold', () => {
  it('a 400 000-unit Dense with a 100 KB shard is refused from the size on disk, fast, naming the shard', async () => {
    const source = await writeModel(join(root, 'big'), denseModelJson(BIG), new Uint8Array(100_000));
    const { growth, ms } = await measured(() =>
      expect(loadLayersModel(source)).rejects.toThrow(
        `${source}: weight shards 'weights.bin' hold 100000 bytes but the manifest describes ${BIG_BYTES} (truncated or mismatched shard)`,
      ),
    );
    expect(ms).toBeLessThan(1500);
    expect(growth).toBeLessThan(100 * MiB);
  });

  it('over a URL: a short shard is read (it is small) and refused before building', async () => {
    const shard = counted(1, 100_000);
    const json = denseModelJson(BIG);
    const f = fetchOf({ 'model.json': () => new Response(JSON.stringify(json)), 'weights.bin': shard.response });
    const { growth, ms } = await measured(() =>
      expect(loadLayersModelFromUrl('https://example.org/m/model.json', { fetch: f })).rejects.toThrow(
        `https://example.org/m/model.json: weight shards 'weights.bin' hold 100000 bytes but the manifest describes ${BIG_BYTES}`,
      ),
    );
    expect(ms).toBeLessThan(1500);
    expect(growth).toBeLessThan(100 * MiB);
  });

  it('over a URL: a shard longer than the manifest says is refused by its Content-Length, or as soon as it runs past', async () => {
    const json = denseModelJson(10);
    const declared = (784 * 10 + 10) * 4;
    const huge = counted(64, MiB, { 'content-length': String(2 ** 33) });
    await expect(
      loadLayersModelFromUrl('https://example.org/m/model.json', { fetch: fetchOf({ 'model.json': () => new Response(JSON.stringify(json)), 'weights.bin': huge.response }) }),
    ).rejects.toThrow(
      `https://example.org/m/model.json: weight shard 'weights.bin' has Content-Length 8589934592 bytes, more than the ${declared} bytes the manifest leaves for it`,
    );
    expect(huge.pulled()).toBeLessThanOrEqual(1); // a stream may pull once when it is made
    const endless = counted(256, 4096); // 1 MiB, with no Content-Length
    await expect(
      loadLayersModelFromUrl('https://example.org/m/model.json', { fetch: fetchOf({ 'model.json': () => new Response(JSON.stringify(json)), 'weights.bin': endless.response }) }),
    ).rejects.toThrow(`https://example.org/m/model.json: weight shard 'weights.bin' runs past the ${declared} bytes the manifest leaves for it; stopped reading`);
    expect(endless.pulled()).toBeLessThan(12);
  });

  it('a manifest whose shapes disagree with a 400 000-unit topology is refused before any variable is made', async () => {
    const source = await writeModel(join(root, 'shapes'), denseModelJson(BIG, 10), new Uint8Array((784 * 10 + 10) * 4));
    const { growth, ms } = await measured(() =>
      expect(loadLayersModel(source)).rejects.toThrow(
        `${source}: 2 problems with the weights:\n  - weight 'big/kernel' has shape [784,10] in the manifest but layer 'big' (class Dense) needs [784,400000]\n  - weight 'big/bias' has shape [10] in the manifest but layer 'big' (class Dense) needs [400000]`,
      ),
    );
    expect(ms).toBeLessThan(1500);
    expect(growth).toBeLessThan(100 * MiB);
  });

  it('caps the weights a manifest declares (maxBytes, default 2 GiB), before any shard is read', async () => {
    // 100 000 × 10 000 float32: 4 GB declared; no shard on disk at all
    const source = await writeModel(join(root, 'capped'), denseModelJson(10_000, 10_000, 100_000));
    const declared = (100_000 * 10_000 + 10_000) * 4;
    await expect(loadLayersModel(source)).rejects.toThrow(
      `${source}: the weights manifest declares ${declared} bytes, more than the cap of ${2 ** 31} bytes (2 GiB; maxBytes); the largest weight is 'big/kernel' [100000,10000] float32, 4000000000 bytes. Pass { maxBytes } to load a larger model`,
    );
    const small = await writeModel(join(root, 'small'), denseModelJson(10), new Uint8Array((784 * 10 + 10) * 4));
    await expect(loadLayersModel(small, { maxBytes: 1000 })).rejects.toThrow(`${small}: the weights manifest declares 31400 bytes, more than the cap of 1000 bytes (maxBytes)`);
    const loaded = await loadLayersModel(small, { maxBytes: 31400 });
    expect(loaded.model.params['big/kernel']?.shape).toEqual([784, 10]);
    loaded.dispose();
  });
});
