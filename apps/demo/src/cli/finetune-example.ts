/**
 * The shipped fine-tuning example, offline: `examples/fashion-0-4/` holds a MobileNetV2-style net
 * pretrained with stock tfjs-layers on Fashion-MNIST classes 0–4 (T-shirt, trouser, pullover, dress,
 * coat) rendered as 28×28 RGB, saved uint8-quantized as tensorflowjs_converter does
 * (`packages/core/examples/pretrain.mjs --units 5`); this renders the embedded Fashion-MNIST subset
 * of @forgetless/datasets as PNG image folders: the old classes (what the model knows) and the new
 * ones (sandal, shirt, sneaker, bag, ankle boot), each split into train/ and test/.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEmbedded } from '@forgetless/datasets/node';
import { UserError } from './errors.js';

export const EXAMPLE_MODEL_DIR = fileURLToPath(new URL('../../examples/fashion-0-4/', import.meta.url));
export const EXAMPLE_CLASS_NAMES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];
export const EXAMPLE_OLD = [0, 1, 2, 3, 4];
export const EXAMPLE_NEW = [5, 6, 7, 8, 9];

/** Images per class written: old train (importances), new train (fine-tuning), and test. */
export const EXAMPLE_COUNTS = { oldTrain: 300, newTrain: 1000, test: 200 };

const exists = async (p: string) => !!(await stat(p).catch(() => undefined));

/**
 * Writes `<dir>/old/{train,test}/<class>/<n>.png` and `<dir>/new/...` unless already there (a
 * finished rendering leaves `<dir>/.complete`); returns the two folders.
 */
export async function renderExampleData(dir: string, onProgress?: (done: number, total: number) => void): Promise<{ old: string; new: string }> {
  const out = { old: join(dir, 'old'), new: join(dir, 'new') };
  if (await exists(join(dir, '.complete'))) return out;
  let sharp: typeof import('sharp').default;
  try {
    sharp = (await import('sharp')).default;
  } catch {
    throw new UserError('--example: rendering the example images needs sharp: npm install sharp');
  }
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  const data = await loadEmbedded();
  const jobs: { split: 'train' | 'test'; part: 'old' | 'new'; cls: number; index: number }[] = [];
  for (const [part, classes, trainCount] of [
    ['old', EXAMPLE_OLD, EXAMPLE_COUNTS.oldTrain],
    ['new', EXAMPLE_NEW, EXAMPLE_COUNTS.newTrain],
  ] as const) {
    for (const split of ['train', 'test'] as const) {
      const labels = data[split].labels;
      const want = split === 'train' ? trainCount : EXAMPLE_COUNTS.test;
      for (const cls of classes) {
        let n = 0;
        for (let i = 0; i < labels.length && n < want; i++) {
          if (labels[i] !== cls) continue;
          jobs.push({ split, part, cls, index: i });
          n++;
        }
      }
    }
  }
  const folders = new Set(jobs.map((j) => join(tmp, j.part, j.split, EXAMPLE_CLASS_NAMES[j.cls] as string)));
  for (const f of folders) await mkdir(f, { recursive: true });
  const px = 28 * 28;
  let done = 0;
  const batch = 32;
  for (let s = 0; s < jobs.length; s += batch) {
    await Promise.all(
      jobs.slice(s, s + batch).map(async (j) => {
        const gray = data[j.split].images.subarray(j.index * px, (j.index + 1) * px);
        const rgb = new Uint8Array(px * 3);
        for (let i = 0; i < px; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i] as number;
        const file = join(tmp, j.part, j.split, EXAMPLE_CLASS_NAMES[j.cls] as string, `${String(j.index).padStart(5, '0')}.png`);
        await sharp(rgb, { raw: { width: 28, height: 28, channels: 3 } })
          .png()
          .toFile(file);
      }),
    );
    done = Math.min(jobs.length, s + batch);
    onProgress?.(done, jobs.length);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, '..'), { recursive: true });
  await rename(tmp, dir);
  await (await import('node:fs/promises')).writeFile(join(dir, '.complete'), `${jobs.length} images\n`);
  return out;
}

/** The example's model.json, checked to be there. */
export async function exampleModelPath(): Promise<string> {
  const p = join(EXAMPLE_MODEL_DIR, 'model.json');
  if (!(await exists(p))) throw new UserError(`--example: the shipped model is missing (${p}); reinstall @forgetless/cli`);
  const files = await readdir(EXAMPLE_MODEL_DIR);
  if (!files.some((f) => f.endsWith('.bin'))) throw new UserError(`--example: the shipped model's weights are missing in ${EXAMPLE_MODEL_DIR}`);
  return p;
}
