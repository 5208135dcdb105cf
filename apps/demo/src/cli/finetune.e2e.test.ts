// `forgetless finetune` end to end, as a user runs it: the shipped example (a MobileNetV2-style
// model pretrained with stock tfjs-layers on Fashion-MNIST 0-4, uint8) fine-tuned on 5-9 from image
// folders; the written models loaded back with stock tfjs-layers; bad input refused or named; an
// interrupted comparison resumed.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { layersModelFiles } from '@forgetless/core/node';
import { imageSetSource } from '@forgetless/datasets';
import { loadImageFolder } from '@forgetless/datasets/node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBuilt, finished, runCli, startCli, waitFor } from './cli-process.test-util.js';
import { EXAMPLE_MODEL_DIR } from './finetune-example.js';
import { fromJson } from './json.js';

let root: string;
let exampleData: string;

interface Metrics {
  old: number;
  new: number;
  oldOwn: number;
  newOwn: number;
}
interface Results {
  before: Metrics;
  runs: { variant: string; lambda: number; after: Metrics; diverged?: string }[];
  selection: { variant: string; model?: string; oldHeadModel?: string }[];
  classNames: string[];
}
const results = async (dir: string) => fromJson(await readFile(join(dir, 'results.json'), 'utf8')) as Results;
const run = (r: Results, variant: string) => r.runs.find((x) => x.variant === variant) as Results['runs'][number];

beforeAll(async () => {
  checkBuilt();
  root = join(tmpdir(), `forgetless-finetune-e2e-${process.pid}`);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Accuracy of a stock tfjs-layers model on an image folder (unit preprocessing), labels through `map`. */
async function stockAccuracy(modelDir: string, folder: string, map: number[], classNames: string[]): Promise<number> {
  const model = await tfl.loadLayersModel(layersModelFiles(modelDir));
  const set = await loadImageFolder(folder, { size: [28, 28], channels: 3, classNames });
  const src = imageSetSource(set, { preprocessing: 'unit', numClasses: Math.max(...map) + 1, labelMap: Int32Array.from(map) });
  let correct = 0;
  for (const b of src.batches(250)) {
    const p = model.predict(b.x) as tf.Tensor;
    correct += tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(p, -1), b.y), 'int32')).dataSync()[0] as number);
    tf.dispose([p, b.x, b.y]);
  }
  model.dispose();
  return correct / src.size;
}

describe('forgetless finetune', () => {
  it('the shipped example (head replaced): EWC keeps the old accuracy within 0.05, plain fine-tuning loses more; the models load in stock tfjs-layers', async () => {
    const out = join(root, 'example');
    const r = await runCli(['finetune', '--example', '--methods', 'plain,ewc-fis', '--lambda', '1000', '--out', out, '--no-progress'], root);
    expect(r.code, r.stderr).toBe(0);
    exampleData = join(out, 'example-data');
    const res = await results(out);
    const plain = run(res, 'plain');
    const ewc = run(res, 'ewc-fis');
    expect(res.before.old).toBeGreaterThan(0.7); // the pretrained model knows its classes
    expect(ewc.after.old).toBeGreaterThanOrEqual(res.before.old - 0.05);
    expect(res.before.old - plain.after.old).toBeGreaterThan(0.05);
    // both learned the new classes (5 new outputs: chance is 0.2)
    expect(plain.after.new).toBeGreaterThan(0.6);
    expect(ewc.after.new).toBeGreaterThan(0.4);
    expect(r.stdout).toMatch(/ewc-fis \*\s+1000/);
    // the selected models: the new head and the pretrained head on the same fine-tuned body, stock-loadable, uint8 kept
    const sel = res.selection.find((s) => s.variant === 'ewc-fis') as Results['selection'][number];
    expect(sel.model).toBe('models/ewc-fis_lambda-1000/model.json');
    const manifest = JSON.parse(await readFile(join(out, sel.model as string), 'utf8')).weightsManifest[0].weights as tf.io.WeightsManifestEntry[];
    expect(manifest.filter((w) => w.quantization?.dtype === 'uint8').length).toBe(manifest.length);
    // stock tfjs-layers reads the files back: its accuracy is forgetless's, within the requantization of the changed weights
    const newNames = res.classNames;
    const stockNew = await stockAccuracy(
      join(out, 'models/ewc-fis_lambda-1000'),
      join(exampleData, 'new/test'),
      newNames.map((_, i) => i),
      newNames,
    );
    expect(Math.abs(stockNew - ewc.after.new)).toBeLessThan(0.02);
    const oldNames = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat'];
    const stockOld = await stockAccuracy(join(out, 'models/ewc-fis_lambda-1000/old-head'), join(exampleData, 'old/test'), [0, 1, 2, 3, 4], oldNames);
    expect(Math.abs(stockOld - ewc.after.old)).toBeLessThan(0.02);
    const report = await readFile(join(out, 'report.md'), 'utf8');
    expect(report).toContain('| pretrained |');
    expect(await readFile(join(out, 'finetune.svg'), 'utf8')).toMatch(/^<svg/);
  }, 400_000); // 60–80 s alone; two to three times that on a loaded 2-core machine

  it('--threads 2: wasm on two threads, said in the log, results.json and report; the same comparison as on one thread within rounding', async () => {
    const ran: Record<number, { res: Results & { threads: number }; stderr: string; report: string }> = {};
    for (const threads of [1, 2]) {
      const out = join(root, `threads-${threads}`);
      const r = await runCli(['finetune', '--example', '--methods', 'plain', '--threads', String(threads), '--out', out, '--no-progress'], root);
      expect(r.code, r.stderr).toBe(0);
      ran[threads] = { res: (await results(out)) as Results & { threads: number }, stderr: r.stderr, report: await readFile(join(out, 'report.md'), 'utf8') };
    }
    const [one, two] = [ran[1], ran[2]] as [NonNullable<(typeof ran)[1]>, NonNullable<(typeof ran)[2]>];
    expect(two.stderr).toMatch(/; wasm, 2 threads backend/);
    expect(two.res.threads).toBe(2);
    expect(two.report).toMatch(/- backend wasm, 2 threads; /);
    expect(one.stderr).toMatch(/; wasm backend/);
    expect(one.res.threads).toBe(1);
    expect(one.report).toMatch(/- backend wasm; /);
    // the pretrained model's accuracies: forward passes, the same to the bit on any number of threads
    expect(two.res.before).toEqual(one.res.before);
    // training sums split over threads round differently (a ReLU6 on its kink may flip): the same learning, not the same bits
    const [a, b] = [run(one.res, 'plain').after, run(two.res, 'plain').after];
    expect(Math.abs(a.old - b.old)).toBeLessThan(0.03);
    expect(Math.abs(a.new - b.new)).toBeLessThan(0.03);
    expect(b.new).toBeGreaterThan(0.6);
  }, 300_000); // ~30 s alone

  it('one 10-way head (--head extend): EWC keeps what the old classes are among themselves, plain fine-tuning does not', async () => {
    const out = join(root, 'extend');
    const r = await runCli(
      [
        'finetune',
        '--model',
        EXAMPLE_MODEL_DIR,
        '--old',
        join(exampleData, 'old'),
        '--new',
        join(exampleData, 'new'),
        '--head',
        'extend',
        '--methods',
        'plain,ewc-fis',
        '--lambda',
        '1000',
        '--out',
        out,
        '--quiet',
      ],
      root,
    );
    expect(r.code, r.stderr).toBe(0);
    const res = await results(out);
    expect(res.classNames).toEqual(['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'ankle-boot', 'bag', 'sandal', 'shirt', 'sneaker']);
    const plain = run(res, 'plain');
    const ewc = run(res, 'ewc-fis');
    expect(ewc.after.oldOwn).toBeGreaterThanOrEqual(res.before.oldOwn - 0.05);
    expect(res.before.oldOwn - plain.after.oldOwn).toBeGreaterThan(0.05);
    expect(ewc.after.newOwn).toBeGreaterThan(0.3);
    // over all 10 outputs the old images drift to the new classes with either (class-incremental); EWC still keeps more
    expect(ewc.after.old).toBeGreaterThan(plain.after.old);
    const stock = await tfl.loadLayersModel(layersModelFiles(join(out, 'models/ewc-fis_lambda-1000')));
    expect(stock.outputs[0]?.shape).toEqual([null, 10]);
    stock.dispose();
  }, 400_000); // 60–80 s alone; two to three times that on a loaded 2-core machine

  it('--lr 1e30: every run marked diverged where it happened, exit 3, no accuracy in the table, results.json or report, and no model selected', async () => {
    const out = join(root, 'diverge');
    const r = await runCli(
      [
        'finetune',
        '--model',
        EXAMPLE_MODEL_DIR,
        '--old',
        join(exampleData, 'old'),
        '--new',
        join(exampleData, 'new'),
        '--head',
        'replace',
        '--methods',
        'plain,ewc-fis',
        '--lambda',
        '1000',
        '--lr',
        '1e30',
        '--out',
        out,
        '--no-progress',
      ],
      root,
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/2 of 2 runs diverged \(plain λ 0: diverged at task 1 step \d+ \(loss = (NaN|Infinity)/);
    const res = fromJson(await readFile(join(out, 'results.json'), 'utf8')) as Results & { runs: { after?: Metrics }[] };
    expect(res.before.old).toBeGreaterThan(0.7); // the pretrained model's own figures are kept
    for (const x of res.runs) {
      expect(x.diverged).toMatch(/^diverged at task 1 step \d+ \(loss = (NaN|Infinity)/);
      // no accuracy of a diverged run anywhere a reader would take it for one
      expect(Object.values(x.after ?? {}).every((v) => !Number.isFinite(v))).toBe(true);
    }
    expect(res.selection.every((s) => s.model === undefined)).toBe(true);
    // the table: the pretrained row keeps its figures, each diverged row says so and shows no accuracy
    expect(r.stdout).toMatch(/^pretrained\s+0\.\d{3}/m);
    expect(r.stdout).toMatch(/^plain\s+diverged\s+\d+\.\d s$/m);
    expect(r.stdout).toMatch(/^ewc-fis\s+1000\s+diverged\s+\d+\.\d s$/m);
    const report = await readFile(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/diverged/);
  }, 400_000);

  it('refuses old data whose class folders do not fit the model, naming the folder and the numbers', async () => {
    const bad = join(root, 'three-classes');
    for (const c of ['a', 'b', 'c']) {
      await mkdir(join(bad, c), { recursive: true });
      for (let i = 0; i < 3; i++)
        await sharp(Buffer.alloc(28 * 28 * 3, 40 * i), { raw: { width: 28, height: 28, channels: 3 } })
          .png()
          .toFile(join(bad, c, `${i}.png`));
    }
    // a model without its labels file: the old folders must be its outputs
    const bare = join(root, 'bare-model');
    await mkdir(bare, { recursive: true });
    for (const f of ['model.json', 'group1-shard1of1.bin']) await writeFile(join(bare, f), await readFile(join(EXAMPLE_MODEL_DIR, f)));
    const r = await runCli(['finetune', '--model', bare, '--old', bad, '--new', join(exampleData, 'new'), '--out', join(root, 'refused'), '--quiet'], root);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--old .*three-classes: 3 class folders \(a, b, c\) but the model outputs 5 classes/);
    const keep = await runCli(
      [
        'finetune',
        '--model',
        EXAMPLE_MODEL_DIR,
        '--old',
        join(exampleData, 'old'),
        '--new',
        join(exampleData, 'new'),
        '--head',
        'keep',
        '--out',
        join(root, 'refused2'),
        '--quiet',
      ],
      root,
    );
    expect(keep.code).toBe(1);
    expect(keep.stderr).toMatch(/classes ankle-boot, bag, sandal, shirt, sneaker are not among the model's 5 classes .* use --head extend or replace/);
  });

  it('names corrupt and truncated images and skips them, or refuses them with --bad-images refuse', async () => {
    const data = join(root, 'with-bad');
    const png = await sharp(Buffer.alloc(28 * 28 * 3, 90), { raw: { width: 28, height: 28, channels: 3 } })
      .png()
      .toBuffer();
    for (const c of ['sandal', 'shirt']) {
      await mkdir(join(data, c), { recursive: true });
      for (let i = 0; i < 6; i++) await writeFile(join(data, c, `${i}.png`), png);
    }
    await writeFile(join(data, 'shirt', 'corrupt.png'), Buffer.from('not a png at all'));
    await writeFile(join(data, 'sandal', 'truncated.png'), png.subarray(0, 40));
    const args = [
      'finetune',
      '--model',
      EXAMPLE_MODEL_DIR,
      '--old',
      join(exampleData, 'old'),
      '--new',
      data,
      '--head',
      'extend',
      '--methods',
      'plain',
      '--per-class',
      '30',
      '--no-progress',
    ];
    const skip = await runCli([...args, '--out', join(root, 'bad-skip')], root);
    expect(skip.code, skip.stderr).toBe(0);
    expect(skip.stderr).toMatch(/skipped .*shirt\/corrupt\.png/);
    expect(skip.stderr).toMatch(/skipped .*sandal\/truncated\.png/);
    const refuse = await runCli([...args, '--bad-images', 'refuse', '--out', join(root, 'bad-refuse')], root);
    expect(refuse.code).toBe(1);
    expect(refuse.stderr).toMatch(/corrupt\.png/);
    expect(refuse.stderr).toMatch(/truncated\.png/);
  });

  it('an interrupted comparison resumes: finished runs are kept, the rest run, the results are those of one run', async () => {
    const out = join(root, 'resume');
    const args = [
      'finetune',
      '--model',
      EXAMPLE_MODEL_DIR,
      '--old',
      join(exampleData, 'old'),
      '--new',
      join(exampleData, 'new'),
      '--head',
      'replace',
      '--methods',
      'plain,ewc-fis',
      '--lambda',
      '1000',
      '--per-class',
      '60',
      '--eval-limit',
      '200',
      '--no-progress',
    ];
    const child = startCli([...args, '--out', out], root);
    const done = finished(child);
    let err = '';
    child.stderr?.on('data', (d) => (err += d));
    await waitFor(() => /\[2\/2\] ewc-fis/.test(err), child, 'the second run starting');
    child.kill('SIGINT');
    const first = await done;
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/resume with forgetless finetune --resume/);
    const again = await runCli(['finetune', '--resume', out, '--no-progress'], root);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/1 finished before/);
    const resumed = await results(out);
    const whole = await runCli([...args, '--out', join(root, 'resume-whole')], root);
    expect(whole.code, whole.stderr).toBe(0);
    const straight = await results(join(root, 'resume-whole'));
    expect(resumed.runs.map((r) => r.after)).toEqual(straight.runs.map((r) => r.after));
  });
});
