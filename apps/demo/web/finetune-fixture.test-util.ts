/**
 * The fine-tuning e2e test's fixture, written at test time: the shipped example model
 * (examples/fashion-0-4: Fashion-MNIST classes 0–4, 28×28×3, uint8) and PNG image folders rendered
 * with sharp from the embedded Fashion-MNIST subset, as `forgetless finetune --example` renders them
 * (grey copied to RGB), only fewer: old = classes 0–4 as `<root>/<class>/<image>` (the page splits
 * them), new = classes 5–9 as `<root>/train/<class>/…` + `<root>/test/<class>/…`.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
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
  return { model, modelWithLabels: [...model, labels], old, oldFiles, new: neu, oldSeven, newTest };
}

/** A PNG as the model's input: RGB, x/255 (the page's 'unit' preprocessing). */
export async function pngInput(file: string): Promise<Float32Array> {
  const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== 28 || info.height !== 28 || info.channels !== 3) throw new Error(`${file}: ${info.width}×${info.height}×${info.channels}, expected 28×28×3`);
  return Float32Array.from(data, (v) => v / 255);
}
