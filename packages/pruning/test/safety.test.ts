// Bad files get clear errors naming the file, shard, weight or layer; shards cannot leave the model's
// folder; the input model is never modified.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { disposeParams } from '@forgetless/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, relErr } from '../../../test/helpers.js';
import { loadLayersModelFromUrl } from '@forgetless/core';
import { prune } from '../src/prune.js';
import { loadLayersModel, saveLayersModel } from '../src/node.js';
import { hashFolder, saveWithTfjsLayers } from './tfjs-files.js';

let root: string;
let good: string; // folder of a valid model
let json: Record<string, unknown>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'forgetless-safety-'));
  good = join(root, 'good');
  const m = tfl.sequential({ layers: [tfl.layers.dense({ units: 6, activation: 'relu', inputShape: [5], name: 'hidden' }), tfl.layers.dense({ units: 3, name: 'out' })] });
  await saveWithTfjsLayers(m, good);
  m.dispose();
  json = JSON.parse(await readFile(join(good, 'model.json'), 'utf8'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A copy of the good model with model.json changed by `edit` (and optionally other shard bytes). */
// biome-ignore lint/suspicious/noExplicitAny: `edit` rewrites arbitrary parts of model.json into malformed variants
async function variant(name: string, edit: (j: any) => void, shard?: Uint8Array | null): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  const j = structuredClone(json);
  edit(j);
  await writeFile(join(dir, 'model.json'), JSON.stringify(j));
  if (shard !== null) await writeFile(join(dir, 'weights.bin'), shard ?? (await readFile(join(good, 'weights.bin'))));
  return join(dir, 'model.json');
}

describe('weight-shard paths stay in the model folder', () => {
  it.each([
    ['../x.bin', /'..\/x.bin' leaves the folder/],
    ['sub/../../x.bin', /leaves the folder/],
    ['%2e%2e/x.bin', /leaves the folder/],
    ['/etc/passwd', /'\/etc\/passwd' is absolute/],
    ['C:/x.bin', /starts with a drive letter/],
    ['file:///etc/passwd', /is a URL with a scheme/],
    ['..\\x.bin', /contains a backslash/],
  ])('rejects %s before reading anything', async (p, message) => {
    await writeFile(join(root, 'x.bin'), new Uint8Array(228)); // a file the path would reach
    const file = await variant(`path-${p.replace(/[^a-z0-9]/gi, '_')}`, (j) => {
      j.weightsManifest[0].paths = [p];
    });
    await expect(loadLayersModel(file)).rejects.toThrow(message);
    await expect(loadLayersModel(file)).rejects.toThrow(file);
  });

  it('rejects a shard that is a symbolic link leaving the folder', async () => {
    const file = await variant('symlink', () => {}, null);
    await writeFile(join(root, 'outside.bin'), await readFile(join(good, 'weights.bin')));
    await symlink(join(root, 'outside.bin'), join(root, 'symlink', 'weights.bin'));
    await expect(loadLayersModel(file)).rejects.toThrow(/weight shard 'weights.bin' is a link to .*outside.bin, outside the model's folder/);
  });
});

describe('clear errors', () => {
  it('malformed JSON names the file', async () => {
    const dir = join(root, 'malformed');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.json'), '{"modelTopology": {');
    await expect(loadLayersModel(join(dir, 'model.json'))).rejects.toThrow(new RegExp(`${join(dir, 'model.json')}: malformed JSON`));
  });

  it('a missing shard is named', async () => {
    const file = await variant('missing', () => {}, null);
    await expect(loadLayersModel(file)).rejects.toThrow(/weight shard 'weights.bin' cannot be read \(ENOENT/);
  });

  it('a truncated shard is named with both sizes', async () => {
    const bytes = await readFile(join(good, 'weights.bin'));
    const file = await variant('truncated', () => {}, bytes.subarray(0, bytes.byteLength - 8));
    await expect(loadLayersModel(file)).rejects.toThrow(/weight shards 'weights.bin' hold 220 bytes but the manifest describes 228 \(truncated/);
  });

  it('dtype and shape disagreements name the weight', async () => {
    const dtype = await variant('dtype', (j) => {
      j.weightsManifest[0].weights[0].dtype = 'int32';
    });
    await expect(loadLayersModel(dtype)).rejects.toThrow(/weight 'hidden\/kernel' has dtype 'int32' but layer 'hidden' \(class Dense\) needs float32/);
    const shape = await variant('shape', (j) => {
      j.weightsManifest[0].weights[2].shape = [3, 6];
    });
    await expect(loadLayersModel(shape)).rejects.toThrow(/weight 'out\/kernel' has shape \[3,6\] in the manifest but layer 'out' \(class Dense\) needs \[6,3\]/);
    const missing = await variant('no-bias', (j) => {
      j.weightsManifest[0].weights[1].name = 'hidden/other';
    });
    await expect(loadLayersModel(missing)).rejects.toThrow(/weight 'hidden\/bias' of layer 'hidden' \(class Dense\) is missing/);
  });

  it('every unsupported layer and activation of a model is named, with its class, in one error', async () => {
    // the good model with its two layers turned into recurrent ones and a made-up activation added
    const file = await variant('recurrent', (j) => {
      j.modelTopology.config.layers[0].class_name = 'LSTM';
      j.modelTopology.config.layers[0].config.name = 'rnn';
      j.modelTopology.config.layers[1].class_name = 'GRU';
      j.modelTopology.config.layers[1].config.name = 'gru';
      j.modelTopology.config.layers.push({ class_name: 'Dense', config: { name: 'd', units: 2, activation: 'nope' } });
    });
    const err = await loadLayersModel(file).catch((e: Error) => e);
    expect(String(err)).toMatch(/3 problems importing the model/);
    expect(String(err)).toMatch(/layer 'rnn' \(class LSTM\) is not supported \(recurrent layers are not supported yet\)/);
    expect(String(err)).toMatch(/layer 'gru' \(class GRU\) is not supported/);
    expect(String(err)).toMatch(/layer 'd' \(class Dense\): activation 'nope' is not supported/);
  });

  it('a branching functional graph loads and predicts as tfjs-layers does', async () => {
    const input = tfl.input({ shape: [5] });
    const a = tfl.layers.dense({ units: 3, name: 'a' }).apply(input) as tfl.SymbolicTensor;
    const b = tfl.layers.dense({ units: 3, name: 'b' }).apply(input) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({ name: 'sum' }).apply([a, b]) as tfl.SymbolicTensor;
    const m = tfl.model({ inputs: input, outputs: sum });
    await saveWithTfjsLayers(m, join(root, 'branch'));
    const loaded = await loadLayersModel(join(root, 'branch'));
    const x = tf.randomNormal([4, 5], 0, 1, 'float32', 2);
    const want = m.predict(x) as tf.Tensor;
    const got = loaded.predict(x);
    expect(relErr(got, want)).toBeLessThan(1e-5);
    tf.dispose([x, want, got]);
    loaded.dispose();
    m.dispose();
  });

  it('graph problems are all named in one error', async () => {
    const bad = await variant('bad-graph', (j) => {
      j.modelTopology = {
        class_name: 'Model',
        config: {
          name: 'm',
          layers: [
            { name: 'in', class_name: 'InputLayer', config: { batch_input_shape: [null, 5], name: 'in' }, inbound_nodes: [] },
            { ...j.modelTopology.config.layers[0], inbound_nodes: [[['nowhere', 0, 0, {}]]] },
            { ...j.modelTopology.config.layers[1], inbound_nodes: [[['hidden', 0, 0, {}]]] },
          ],
          input_layers: [['in', 0, 0]],
          output_layers: [
            ['out', 0, 0],
            ['hidden', 0, 0],
          ],
        },
      };
    });
    const err = String(await loadLayersModel(bad).catch((e: Error) => e));
    expect(err).toMatch(/2 problems in the model topology/);
    expect(err).toMatch(/the model has 2 outputs \(out, hidden\)/);
    expect(err).toMatch(/layer 'hidden' is fed by unknown layer 'nowhere'/);
  });
});

describe('the input model is never modified', () => {
  it('keeps the input bytes after load, prune and save, and refuses to save into its folder', async () => {
    const before = await hashFolder(good);
    const loaded = await loadLayersModel(good);
    const json0 = JSON.stringify(loaded.modelJson);
    const { masks } = await prune(loaded.model, { importance: 'magnitude', sparsity: 0.5 });
    await expect(saveLayersModel(good, loaded, { masks })).rejects.toThrow(/holds the input model .* choose another folder/);
    await saveLayersModel(join(root, 'pruned'), loaded, { masks });
    expect(await hashFolder(good)).toEqual(before);
    expect(JSON.stringify(loaded.modelJson)).toBe(json0);
    disposeParams(masks);
    loaded.dispose();
  });
});

describe('tensors', () => {
  it('load, prune, save and dispose leave no tensor behind', async () => {
    await expectNoLeak(async () => {
      const loaded = await loadLayersModel(good);
      const { masks } = await prune(loaded.model, { importance: 'magnitude', sparsity: 0.7, biases: true });
      await saveLayersModel(join(root, 'leak'), loaded, { masks, sparse: true });
      disposeParams(masks);
      loaded.dispose();
    });
  });
});

describe('loading from a URL', () => {
  /** A fetch serving the files of `dir` under http://models.test/m/. */
  function fetchFrom(dir: string): { fetch: typeof fetch; urls: string[] } {
    const urls: string[] = [];
    const f = (async (u: string) => {
      urls.push(u);
      const url = new URL(u);
      if (url.origin !== 'http://models.test' || !url.pathname.startsWith('/m/')) return new Response('no', { status: 404 });
      try {
        return new Response(await readFile(join(dir, url.pathname.slice(3))));
      } catch {
        return new Response('no', { status: 404 });
      }
    }) as typeof fetch;
    return { fetch: f, urls };
  }

  it('loads the same model as from disk; refuses shard URLs outside the folder without fetching them', async () => {
    const { fetch, urls } = fetchFrom(good);
    const fromUrl = await loadLayersModelFromUrl('http://models.test/m/model.json', { fetch });
    const fromDisk = await loadLayersModel(good);
    const x = tf.randomNormal([4, 5], 0, 1, 'float32', 1);
    expect(relErr(fromUrl.predict(x), fromDisk.predict(x))).toBe(0);
    expect(urls).toEqual(['http://models.test/m/model.json', 'http://models.test/m/weights.bin']);
    x.dispose();
    fromUrl.dispose();
    fromDisk.dispose();
    for (const p of ['../x.bin', '//evil.test/x.bin', 'http://evil.test/x.bin']) {
      const file = await variant(`url-${p.replace(/[^a-z0-9]/gi, '_')}`, (j) => {
        j.weightsManifest[0].paths = [p];
      });
      const served = fetchFrom(join(file, '..'));
      await expect(loadLayersModelFromUrl('http://models.test/m/model.json', { fetch: served.fetch })).rejects.toThrow(/http:\/\/models.test\/m\/model.json: weight-shard path/);
      expect(served.urls).toEqual(['http://models.test/m/model.json']);
    }
    const missing = await variant('url-missing', () => {}, null);
    await expect(loadLayersModelFromUrl('http://models.test/m/model.json', { fetch: fetchFrom(join(missing, '..')).fetch })).rejects.toThrow(
      /cannot fetch weight shard 'weights.bin' at http:\/\/models.test\/m\/weights.bin \(HTTP 404\)/,
    );
  });
});
