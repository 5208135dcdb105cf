// model.json variants beyond tfjs-layers' own: Keras-converted files (a `model_config` wrapper and
// scoped weight names), and Keras 3 node records in a functional graph.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relErr } from '../../../test/helpers.js';
import { loadLayersModel } from '../src/node.js';
import { saveWithTfjsLayers } from './tfjs-files.js';

let root: string;
let keras: tfl.LayersModel;
// biome-ignore lint/suspicious/noExplicitAny: the tests rewrite arbitrary parts of model.json into malformed and foreign variants
let json: any;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'forgetless-formats-'));
  keras = tfl.sequential({
    layers: [tfl.layers.dense({ units: 6, activation: 'tanh', inputShape: [5], name: 'hidden' }), tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' })],
  });
  await saveWithTfjsLayers(keras, join(root, 'base'));
  json = JSON.parse(await readFile(join(root, 'base', 'model.json'), 'utf8'));
});
afterAll(async () => {
  keras.dispose();
  await rm(root, { recursive: true, force: true });
});

async function write(name: string, j: unknown): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), JSON.stringify(j));
  await writeFile(join(dir, 'weights.bin'), await readFile(join(root, 'base', 'weights.bin')));
  return dir;
}

async function expectSamePredictions(dir: string): Promise<void> {
  const loaded = await loadLayersModel(dir);
  const x = tf.randomNormal([7, 5], 0, 1, 'float32', 3);
  const ref = keras.predict(x) as tf.Tensor;
  const got = loaded.predict(x);
  expect(relErr(got, ref)).toBeLessThan(1e-5);
  tf.dispose([x, ref, got]);
  loaded.dispose();
}

describe('model.json variants', () => {
  it('a Keras conversion: model_config wrapper and weight names scoped by the model', async () => {
    const j = structuredClone(json);
    j.modelTopology = { keras_version: '2.15.0', backend: 'tensorflow', model_config: j.modelTopology, training_config: { loss: 'categorical_crossentropy' } };
    for (const w of j.weightsManifest[0].weights) w.name = `sequential/${w.name}`;
    await expectSamePredictions(await write('converted', j));
  });

  it('a Keras 3 functional graph (inbound_nodes as { args, kwargs }, batch_shape)', async () => {
    const j = structuredClone(json);
    const [hidden, out] = j.modelTopology.config.layers;
    const node = (from: string) => [{ args: [{ class_name: '__keras_tensor__', config: { shape: [null, 5], dtype: 'float32', keras_history: [from, 0, 0] } }], kwargs: {} }];
    delete hidden.config.batch_input_shape;
    j.modelTopology = {
      class_name: 'Functional',
      config: {
        name: 'f',
        layers: [
          { class_name: 'InputLayer', name: 'inp', config: { batch_shape: [null, 5], name: 'inp' }, inbound_nodes: [] },
          { ...hidden, name: 'hidden', inbound_nodes: node('inp') },
          { ...out, name: 'out', inbound_nodes: node('hidden') },
        ],
        input_layers: ['inp', 0, 0],
        output_layers: ['out', 0, 0],
      },
    };
    await expectSamePredictions(await write('keras3', j));
  });
});
