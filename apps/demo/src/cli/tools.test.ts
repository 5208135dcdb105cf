// `forgetless importances | prune | correlate` on a small model.json made here: a Keras Sequential
// (Dense 784→32 relu, Dense 32→10 softmax) as tfjs-layers writes it, trained for one epoch on the
// embedded Fashion-MNIST subset by loading it and saving it back with @forgetless/pruning.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { ArraySource, type ParamMap, Rng, disposeParams, evaluate, trainContinual } from '@forgetless/core';
import { taskSequence } from '@forgetless/datasets';
import { embeddedDataDir, loadEmbedded } from '@forgetless/datasets/node';
import { computeImportance, correlate, taylor } from '@forgetless/importances';
import { loadImportances } from '@forgetless/importances/node';
import { pruneLayersModelStructure } from '@forgetless/pruning';
import { loadLayersModel, saveLayersModel } from '@forgetless/pruning/node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from './program.js';
import { importanceBatch } from './tools.js';

let dir: string;
let modelPath: string;
let trainedAccuracy: number;

/** A tfjs-layers Sequential model.json with random weights. */
async function writeKerasModel(folder: string): Promise<string> {
  const dense = (name: string, units: number, activation: string, input?: number) => ({
    class_name: 'Dense',
    config: { units, activation, use_bias: true, name, trainable: true, dtype: 'float32', ...(input ? { batch_input_shape: [null, input] } : {}) },
  });
  const topology = {
    class_name: 'Sequential',
    config: { name: 'sequential_1', layers: [dense('dense_Dense1', 32, 'relu', 784), dense('dense_Dense2', 10, 'softmax')] },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };
  const shapes: [string, number[]][] = [
    ['dense_Dense1/kernel', [784, 32]],
    ['dense_Dense1/bias', [32]],
    ['dense_Dense2/kernel', [32, 10]],
    ['dense_Dense2/bias', [10]],
  ];
  const rng = new Rng(5);
  const values = shapes.flatMap(([, s]) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => (s.length > 1 ? rng.normal() * Math.sqrt(2 / (s[0] as number)) : 0)));
  await writeFile(join(folder, 'weights.bin'), new Uint8Array(Float32Array.from(values).buffer));
  const json = {
    modelTopology: topology,
    format: 'layers-model',
    generatedBy: 'test',
    weightsManifest: [{ paths: ['weights.bin'], weights: shapes.map(([name, shape]) => ({ name, shape, dtype: 'float32' })) }],
  };
  await writeFile(join(folder, 'model.json'), JSON.stringify(json));
  return join(folder, 'model.json');
}

/** Runs the CLI in-process; returns stdout and the exit code it set. */
async function cli(args: string[]): Promise<{ out: string; code: number }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    chunks.push(String(c));
    return true;
  });
  try {
    await runCli(args);
    return { out: chunks.join(''), code: 0 };
  } finally {
    spy.mockRestore();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'forgetless-tools-'));
  const raw = join(dir, 'raw');
  await (await import('node:fs/promises')).mkdir(raw);
  const loaded = await loadLayersModel(await writeKerasModel(raw));
  const [task] = taskSequence('permuted', { dataset: await loadEmbedded(), numTasks: 1, firstUnpermuted: true, validation: 0 });
  const opt = tf.train.adam(1e-3);
  await trainContinual(loaded.model, [task!], { optimizer: opt, epochs: 1, batchSize: 100 });
  trainedAccuracy = (await evaluate(loaded.model, task!.test)).accuracy;
  opt.dispose();
  await saveLayersModel(join(dir, 'trained'), loaded);
  loaded.dispose();
  modelPath = join(dir, 'trained', 'model.json');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('forgetless importances', () => {
  it('writes SIG, FIS and Taylor maps shaped like the model, in the tfjs weights format (Taylor as the library computes it)', async () => {
    expect(trainedAccuracy).toBeGreaterThan(0.7);
    const { out } = await cli([
      'importances',
      '--model',
      modelPath,
      '--data',
      embeddedDataDir(),
      '--method',
      'sig',
      '--samples',
      '500',
      '--out',
      join(dir, 'imp'),
      '--backend',
      'cpu',
    ]);
    expect(out).toMatch(/sig importances of model\.json \(4 parameters/);
    const sig = await loadImportances(join(dir, 'imp', 'importances-sig.json'));
    expect(sig.metadata).toMatchObject({ method: 'sig', samples: 500 });
    expect(Object.fromEntries(Object.entries(sig.importances).map(([k, t]) => [k, t.shape]))).toEqual({
      'dense_Dense1/kernel': [784, 32],
      'dense_Dense1/bias': [32],
      'dense_Dense2/kernel': [32, 10],
      'dense_Dense2/bias': [10],
    });
    // SIG of the output bias is the mean softmax probability: the ten sum to 1
    expect(tf.sum(sig.importances['dense_Dense2/bias'] as tf.Tensor).dataSync()[0]).toBeCloseTo(1, 4);
    await cli(['importances', '--model', modelPath, '--data', embeddedDataDir(), '--method', 'fis', '--samples', '500', '--out', join(dir, 'imp'), '--backend', 'cpu']);
    const fis = await loadImportances(join(dir, 'imp', 'importances-fisher.json'));
    expect(fis.metadata.method).toBe('fisher');
    await cli(['importances', '--model', modelPath, '--data', embeddedDataDir(), '--method', 'taylor', '--samples', '500', '--out', join(dir, 'imp'), '--backend', 'cpu']);
    const tay = await loadImportances(join(dir, 'imp', 'importances-taylor.json'));
    expect(tay.metadata).toMatchObject({ method: 'taylor', samples: 500 });
    // the library's taylor on the same 500 training images
    const loaded = await loadLayersModel(modelPath);
    const [task] = taskSequence('permuted', { dataset: await loadEmbedded(), numTasks: 1, firstUnpermuted: true, validation: 0 });
    const lib = await taylor(loaded.model, task!.train, { limit: 500, batchSize: 100 });
    for (const [k, t] of Object.entries(lib)) expect(Array.from((tay.importances[k] as tf.Tensor).dataSync()), k).toEqual(Array.from(t.dataSync()));
    for (const m of [sig.importances, fis.importances, tay.importances, lib]) for (const t of Object.values(m)) t.dispose();
    loaded.dispose();
  });

  it('SI follows a short fine-tuning path', async () => {
    const { out } = await cli([
      'importances',
      '--model',
      modelPath,
      '--data',
      embeddedDataDir(),
      '--method',
      'si',
      '--samples',
      '1000',
      '--out',
      join(dir, 'imp'),
      '--backend',
      'cpu',
    ]);
    expect(out).toContain('si importances');
    const si = await loadImportances(join(dir, 'imp', 'importances-si.json'));
    const k = si.importances['dense_Dense1/kernel'] as tf.Tensor;
    expect(tf.max(k).dataSync()[0]).toBeGreaterThan(0);
    for (const t of Object.values(si.importances)) t.dispose();
  });
});

describe('--data embedded', () => {
  it('importances and prune take the embedded Fashion-MNIST subset by name', async () => {
    const imp = join(dir, 'imp-embedded');
    const { out } = await cli(['importances', '--model', modelPath, '--data', 'embedded', '--method', 'mas', '--samples', '300', '--out', imp, '--backend', 'cpu']);
    expect(out).toMatch(/mas importances of model\.json \(4 parameters/);
    const mas = await loadImportances(join(imp, 'importances-mas.json'));
    expect(mas.metadata).toMatchObject({ method: 'mas', data: 'fashion-mnist', samples: 300 });
    for (const t of Object.values(mas.importances)) t.dispose();
    const { out: text } = await cli([
      'prune',
      '--model',
      modelPath,
      '--data',
      'embedded',
      '--importance',
      'magnitude',
      '--sparsity',
      '0.5',
      '--out',
      join(dir, 'pruned-embedded'),
      '--backend',
      'cpu',
    ]);
    const m = /test accuracy ([\d.]+) → ([\d.]+)/.exec(text);
    expect(Number(m?.[1]), text).toBeCloseTo(trainedAccuracy, 3);
  });
});

describe('forgetless correlate', () => {
  it('prints per-layer correlations equal to the library’s', async () => {
    const { out } = await cli(['correlate', join(dir, 'imp', 'importances-sig.json'), join(dir, 'imp', 'importances-fisher.json'), '--out', join(dir, 'corr.json')]);
    expect(out).toMatch(/pearson correlation of sig .* and fisher/);
    const written = JSON.parse(await readFile(join(dir, 'corr.json'), 'utf8')) as { layers: { layer: string; r: number }[] };
    const a = await loadImportances(join(dir, 'imp', 'importances-sig.json'));
    const b = await loadImportances(join(dir, 'imp', 'importances-fisher.json'));
    const direct = await correlate(a.importances, b.importances);
    expect(written.layers.map((l) => l.layer)).toEqual(['dense_Dense1', 'dense_Dense2']);
    written.layers.forEach((l, i) => expect(l.r).toBeCloseTo(direct[i]?.r as number, 10));
    for (const m of [a, b]) for (const t of Object.values(m.importances as ParamMap)) t.dispose();
  });
});

describe('importanceBatch', () => {
  it('100 examples a batch, fewer when the layer outputs would not fit 1.5 GB twice over; 100 for inputs of any size', () => {
    const model = (outputs: number[][]) =>
      ({ layerShapes: () => Object.fromEntries(outputs.map((o, i) => [`l${i}`, { input: [], output: o }])) }) as unknown as Parameters<typeof importanceBatch>[0];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(importanceBatch(model([[784], [100], [10]]))).toBe(100);
      // 82.4 MB of layer outputs per example, as nsfwjs's 224×224 MobileNetV2: ⌊1.5 GiB / (2 × 82.4 MiB)⌋ = 9
      expect(importanceBatch(model([[21_601_976]]))).toBe(9);
      expect(String(spy.mock.calls.at(-1)?.[0])).toBe("forgetless: importances in batches of 9 (the model's layer outputs take 82 MB per example)\n");
      expect(importanceBatch(model([[2 ** 30]]))).toBe(1);
      const anySize = {
        layerShapes: () => {
          throw new Error('free dims');
        },
      } as unknown as Parameters<typeof importanceBatch>[0];
      expect(importanceBatch(anySize)).toBe(100);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('importances and prune on a folder of images (a pretrained RGB model, as forgetless finetune reads its old data)', () => {
  const example = fileURLToPath(new URL('../../examples/fashion-0-4/', import.meta.url));
  const labels = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat']; // the example's metadata.json
  /** PNGs of Fashion-MNIST classes 0–4 (grey copied to RGB) under <root>/<split>/<class name>/, and the same images as [N, 28, 28, 3] bytes with the model's labels. */
  async function writeImages(root: string, split: 'train' | 'test', perClass: number): Promise<{ x: Uint8Array; y: Int32Array }> {
    const data = (await loadEmbedded())[split];
    const xs: number[] = [];
    const ys: number[] = [];
    for (const [cls, name] of labels.entries()) {
      await mkdir(join(root, split, name), { recursive: true });
      let n = 0;
      for (let i = 0; i < data.labels.length && n < perClass; i++) {
        if (data.labels[i] !== cls) continue;
        const rgb = new Uint8Array(28 * 28 * 3);
        for (let p = 0; p < 28 * 28; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = data.images[i * 784 + p] as number;
        await sharp(rgb, { raw: { width: 28, height: 28, channels: 3 } })
          .png()
          .toFile(join(root, split, name, `${i}.png`));
        xs.push(...rgb);
        ys.push(cls);
        n++;
      }
    }
    return { x: Uint8Array.from(xs), y: Int32Array.from(ys) };
  }

  it("FIS on PNG class folders equals the library's on the same images; the folders are matched to the outputs by the model's metadata.json; prune reports the accuracy on test/", async () => {
    const root = join(dir, 'images');
    const train = await writeImages(root, 'train', 6);
    const testSet = await writeImages(root, 'test', 4);
    const { out } = await cli(['importances', '--model', example, '--data', root, '--method', 'fis', '--samples', '1000', '--out', join(dir, 'img-imp'), '--backend', 'cpu']);
    expect(out).toMatch(/fisher importances of model\.json/);
    const got = await loadImportances(join(dir, 'img-imp', 'importances-fisher.json'));
    expect(got.metadata).toMatchObject({ method: 'fisher', samples: 30 });
    const loaded = await loadLayersModel(example);
    const source = new ArraySource({ x: train.x, y: train.y, exampleShape: [28, 28, 3], numClasses: 5 });
    const want = await computeImportance('fisher', loaded.model, source, { limit: 1000, batchSize: 100 });
    let worst = 0;
    for (const [k, t] of Object.entries(want)) {
      const a = (got.importances[k] as tf.Tensor).dataSync();
      const b = t.dataSync();
      const scale = Math.max(...Array.from(b, Math.abs));
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / scale);
    }
    expect(worst).toBeLessThan(1e-5);
    // a wrong class order gives other per-example gradients: folder order instead of the labels moves FIS far beyond that
    const shuffled = new ArraySource({ x: train.x, y: train.y.map((c) => (c + 1) % 5), exampleShape: [28, 28, 3], numClasses: 5 });
    const wrong = await computeImportance('fisher', loaded.model, shuffled, { limit: 1000, batchSize: 100 });
    const moved = Math.max(
      ...Object.entries(want).map(([k, t]) => {
        const a = (wrong[k] as tf.Tensor).dataSync();
        const b = t.dataSync();
        const scale = Math.max(...Array.from(b, Math.abs));
        return Math.max(...Array.from(b, (v, i) => Math.abs(v - (a[i] as number)) / scale));
      }),
    );
    expect(moved).toBeGreaterThan(1e-2);
    for (const m of [got.importances, want, wrong]) disposeParams(m);

    const pruned = await cli(['prune', '--model', example, '--data', root, '--importance', 'fis', '--sparsity', '0.3', '--out', join(dir, 'img-pruned'), '--backend', 'cpu']);
    const accuracy = Number(/test accuracy ([0-9.]+) →/.exec(pruned.out)?.[1]);
    // the example knows its classes (0.814 on 1000 test images); chance is 0.2
    expect(accuracy).toBeGreaterThan(0.5);
    const test = new ArraySource({ x: testSet.x, y: testSet.y, exampleShape: [28, 28, 3], numClasses: 5 });
    expect(accuracy).toBeCloseTo((await evaluate(loaded.model, test)).accuracy, 4);
    loaded.dispose();
  });
});

describe('forgetless prune', () => {
  it('zeros 80 % of the weights by SIG, keeps most of the accuracy, and writes a loadable model.json', async () => {
    const out = join(dir, 'pruned');
    const { out: text } = await cli([
      'prune',
      '--model',
      modelPath,
      '--data',
      embeddedDataDir(),
      '--importance',
      'sig',
      '--sparsity',
      '0.8',
      '--samples',
      '1000',
      '--out',
      out,
      '--backend',
      'cpu',
    ]);
    const m = /test accuracy ([\d.]+) → ([\d.]+)/.exec(text);
    expect(m, text).not.toBeNull();
    const [before, after] = [Number(m?.[1]), Number(m?.[2])];
    expect(before).toBeCloseTo(trainedAccuracy, 3);
    expect(after).toBeGreaterThan(0.5);
    expect(after).toBeLessThanOrEqual(before + 0.02);
    const pruned = await loadLayersModel(join(out, 'model.json'));
    let zeros = 0;
    let total = 0;
    for (const t of Object.values(pruned.model.params)) {
      const v = t.dataSync();
      total += v.length;
      for (const x of v) if (x === 0) zeros++;
    }
    pruned.dispose();
    expect(zeros / total).toBeCloseTo(0.8, 3);
  });
});

describe('forgetless prune --structure channels', () => {
  it('lists the groups, removes half the parameters as whole units, and writes a smaller model.json', async () => {
    const { out: groups } = await cli(['prune', '--structure', 'channels', '--groups', '--model', modelPath, '--backend', 'cpu']);
    expect(groups).toContain('32 groups of 1 channel: dense_Dense1');
    expect(groups).toContain('[protected: the model output]');
    const out = join(dir, 'pruned-channels');
    const { out: text } = await cli([
      'prune',
      '--structure',
      'channels',
      '--model',
      modelPath,
      '--data',
      embeddedDataDir(),
      '--importance',
      'magnitude',
      '--target-params',
      '0.5',
      '--out',
      out,
      '--backend',
      'cpu',
    ]);
    for (const row of ['parameters', 'FLOPs', 'stored bytes', 'inference ms', 'train step ms', 'test accuracy']) expect(text).toContain(row);
    const pruned = await loadLayersModel(join(out, 'model.json'));
    // 784·u + u + u·10 + 10 ≤ half of 784·32 + 32 + 330: u ≤ 15
    expect(pruned.model.params['dense_Dense1/kernel']?.shape).toEqual([784, 15]);
    expect(JSON.parse(await readFile(join(out, 'model.json'), 'utf8')).modelTopology.config.layers[0].config.units).toBe(15);
    pruned.dispose();
  });

  it('--importance taylor ranks groups by |Σ θ·ḡ| by default (abs-sum), as the library does', async () => {
    const out = join(dir, 'pruned-taylor');
    const args = [
      'prune',
      '--structure',
      'channels',
      '--model',
      modelPath,
      '--data',
      'embedded',
      '--importance',
      'taylor',
      '--samples',
      '300',
      '--target-channels',
      '0.25',
      '--backend',
      'cpu',
    ];
    const { out: text } = await cli([...args, '--out', out]);
    expect(text).toContain('removed 8 channel groups of model.json by taylor (abs-sum, global, min width 1)');
    const pruned = await loadLayersModel(join(out, 'model.json'));
    expect(pruned.model.params['dense_Dense1/kernel']?.shape).toEqual([784, 24]);
    // the same 8 units as the library's pruneLayersModelStructure on the same 300 training images
    const loaded = await loadLayersModel(modelPath);
    const [task] = taskSequence('permuted', { dataset: await loadEmbedded(), numTasks: 1, firstUnpermuted: true, validation: 0 });
    const lib = await pruneLayersModelStructure(loaded, {
      importance: 'taylor',
      calibration: task!.train,
      importanceOptions: { limit: 300, batchSize: 100 },
      target: { channels: 0.25 },
    });
    const kept = (m: typeof pruned) => Array.from((m.model.params['dense_Dense1/bias'] as tf.Tensor).dataSync());
    expect(kept(pruned)).toEqual(kept(lib.model));
    const { out: l1 } = await cli([...args, '--reduce', 'l1', '--out', join(dir, 'pruned-taylor-l1')]);
    expect(l1).toContain('by taylor (l1, global');
    [pruned, loaded, lib.model].forEach((m) => m.dispose());
  });

  it('--finetune-steps fine-tunes the smaller model and reports accuracy before pruning, right after, and after fine-tuning', async () => {
    const out = join(dir, 'pruned-channels-tuned');
    const { out: text } = await cli([
      'prune',
      '--structure',
      'channels',
      '--model',
      modelPath,
      '--data',
      embeddedDataDir(),
      '--importance',
      'magnitude',
      '--target-params',
      '0.5',
      '--finetune-steps',
      '40',
      '--out',
      out,
      '--backend',
      'cpu',
    ]);
    const [, before, pruned] = /test accuracy\s+([\d.]+)\s+([\d.]+)/.exec(text) ?? [];
    const [, tuned] = /after fine-tuning\s+([\d.]+)/.exec(text) ?? [];
    expect(text).toContain('fine-tuned 40 steps (Adam, learning rate 0.001, batch 32)');
    expect(Number(before)).toBeCloseTo(trainedAccuracy, 4);
    // the model written is the fine-tuned one: its accuracy, measured here, is the one reported
    const written = await loadLayersModel(join(out, 'model.json'));
    expect(written.model.params['dense_Dense1/kernel']?.shape).toEqual([784, 15]);
    const data = taskSequence('permuted', { dataset: await loadEmbedded(), numTasks: 1, firstUnpermuted: true, validation: 0 })[0];
    const measured = (await evaluate(written.model, data!.test)).accuracy;
    expect(Number(tuned)).toBeCloseTo(measured, 4);
    // the same pruning without fine-tuning wrote other weights, with the accuracy reported right after pruning
    const plain = await loadLayersModel(join(dir, 'pruned-channels', 'model.json'));
    expect(Number(pruned)).toBeCloseTo((await evaluate(plain.model, data!.test)).accuracy, 4);
    expect(Number(tuned)).toBeGreaterThan(Number(pruned));
    plain.dispose();
    written.dispose();
  });

  it('--finetune-steps needs --data and a target', async () => {
    await expect(cli(['prune', '--structure', 'channels', '--model', modelPath, '--target-params', '0.5', '--finetune-steps', '5', '--out', join(dir, 'x')])).rejects.toThrow(
      '--finetune-steps: fine-tuning needs --data',
    );
    await expect(
      cli(['prune', '--structure', 'channels', '--model', modelPath, '--data', 'embedded', '--target-params', '0.5', '--finetune-steps', '-1', '--out', join(dir, 'x')]),
    ).rejects.toThrow('--finetune-steps');
  });
});
