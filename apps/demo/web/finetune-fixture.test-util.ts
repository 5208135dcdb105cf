/**
 * The fine-tuning e2e test's fixture, written at test time: the shipped example model
 * (examples/fashion-0-4: Fashion-MNIST classes 0–4, 28×28×3, uint8) and PNG image folders rendered
 * with sharp from the embedded Fashion-MNIST subset, as `forgetless finetune --example` renders them
 * (grey copied to RGB), only fewer: old = classes 0–4 as `<root>/<class>/<image>` (the page splits
 * them), new = classes 5–9 as `<root>/train/<class>/…` + `<root>/test/<class>/…`.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEmbedded } from '@forgetless/datasets/node';
import sharp from 'sharp';

export const EXAMPLE_MODEL_DIR = fileURLToPath(new URL('../examples/fashion-0-4/', import.meta.url));
export const CLASS_NAMES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];

export interface Fixture {
  /** model.json and its shard. */
  model: string[];
  /** The same and labels.txt naming the 5 outputs. */
  modelWithLabels: string[];
  /** The same model as nsfwjs ships its models (model.min.js + group1-shard1of1.min.js: UMD scripts exporting the model.json object and the shard as base64), and labels.txt. */
  wrappedWithLabels: string[];
  old: string;
  /** Every old image file. */
  oldFiles: string[];
  new: string;
  /** Old data with 7 class folders (for the model's 5 outputs: refused). */
  oldSeven: string;
  /** The new test images: file and class folder. */
  newTest: { file: string; className: string }[];
}

const PX = 28 * 28;

/** Writes the image folders under `dir` (replacing it). */
export async function writeFixture(dir: string, counts = { old: 20, newTrain: 20, newTest: 10 }): Promise<Fixture> {
  await rm(dir, { recursive: true, force: true });
  const data = await loadEmbedded();
  const newTest: Fixture['newTest'] = [];
  const oldFiles: string[] = [];
  const write = async (split: 'train' | 'test', classes: number[], perClass: number, folder: (name: string) => string, onFile?: (file: string, name: string) => void) => {
    const { images, labels } = data[split];
    for (const cls of classes) {
      const name = CLASS_NAMES[cls] as string;
      const out = folder(name);
      await mkdir(out, { recursive: true });
      const picked: number[] = [];
      for (let i = 0; i < labels.length && picked.length < perClass; i++) if (labels[i] === cls) picked.push(i);
      await Promise.all(
        picked.map(async (i) => {
          const grey = images.subarray(i * PX, (i + 1) * PX);
          const rgb = new Uint8Array(PX * 3);
          for (let p = 0; p < PX; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = grey[p] as number;
          const file = join(out, `${String(i).padStart(5, '0')}.png`);
          await sharp(rgb, { raw: { width: 28, height: 28, channels: 3 } })
            .png()
            .toFile(file);
          onFile?.(file, name);
        }),
      );
    }
  };
  const old = join(dir, 'old');
  const neu = join(dir, 'new');
  const oldSeven = join(dir, 'old-seven');
  await write(
    'train',
    [0, 1, 2, 3, 4],
    counts.old,
    (n) => join(old, n),
    (file) => oldFiles.push(file),
  );
  await write('train', [5, 6, 7, 8, 9], counts.newTrain, (n) => join(neu, 'train', n));
  await write(
    'test',
    [5, 6, 7, 8, 9],
    counts.newTest,
    (n) => join(neu, 'test', n),
    (file, className) => newTest.push({ file, className }),
  );
  await write('train', [0, 1, 2, 3, 4, 5, 6], 2, (n) => join(oldSeven, n));
  newTest.sort((a, b) => a.file.localeCompare(b.file));
  const labels = join(dir, 'labels.txt');
  await writeFile(labels, `${CLASS_NAMES.slice(0, 5).join('\n')}\n`);
  const model = [join(EXAMPLE_MODEL_DIR, 'model.json'), join(EXAMPLE_MODEL_DIR, 'group1-shard1of1.bin')];
  const wrapped = join(dir, 'wrapped');
  await mkdir(wrapped, { recursive: true });
  const json = JSON.parse(await readFile(model[0] as string, 'utf8')) as { weightsManifest: { paths: string[] }[] };
  for (const g of json.weightsManifest) g.paths = g.paths.map((p) => p.replace(/\.bin$/, ''));
  await writeFile(join(wrapped, 'model.min.js'), umd('model', JSON.stringify(json)));
  const shard = (await readFile(model[1] as string)).toString('base64');
  await writeFile(join(wrapped, 'group1-shard1of1.min.js'), umd('group1_shard1of1', JSON.stringify(shard)));
  const wrappedWithLabels = [join(wrapped, 'model.min.js'), join(wrapped, 'group1-shard1of1.min.js'), labels];
  return { model, modelWithLabels: [...model, labels], wrappedWithLabels, old, oldFiles, new: neu, oldSeven, newTest };
}

/** A UMD script (the shape of nsfwjs's model files) whose module sets `exports` to `value` (JavaScript source). */
const umd = (global: string, value: string) =>
  `!function(e){"object"==typeof exports&&"undefined"!=typeof module?module.exports=e():("undefined"!=typeof window?window:self).${global}=e()}(function(){var m={exports:{}};(function(e,a){a.exports=${value}})(0,m);return m.exports});`;

/** A PNG as the model's input: RGB, x/255 (the page's 'unit' preprocessing). */
export async function pngInput(file: string): Promise<Float32Array> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== 28 || info.height !== 28 || info.channels !== 3) throw new Error(`${file}: ${info.width}×${info.height}×${info.channels}, expected 28×28×3`);
  return Float32Array.from(data, (v) => v / 255);
}
