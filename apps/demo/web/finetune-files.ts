/**
 * The files the fine-tune panel is given: picked with an `<input type="file">` (a `webkitdirectory`
 * input for image folders) or dropped (folders walked with `DataTransferItem.webkitGetAsEntry`), as
 * paths below what was picked, and what they are: a model (model.json + shards) or an image folder,
 * `<root>/<class>/<image>` or `<root>/train/<class>/…` + `<root>/test/<class>/…`.
 */
import { isImageFile, planImages } from '@forgetless/datasets';
import { WRAPPED_MODEL_NAMES, isScriptText, modelJsonFromScript, shardBytesFromScript, wrappedShardNames } from '@forgetless/core/wrapped';
import type { PathBlob } from './protocol.js';

/** The files of an `<input type="file">`: a folder input's paths are `webkitRelativePath` ('old/t-shirt/1.png'). */
export function inputFiles(input: HTMLInputElement): PathBlob[] {
  return Array.from(input.files ?? [], (f) => ({ path: f.webkitRelativePath || f.name, blob: f }));
}

/** Every file of a drop, folders walked recursively; paths as dropped ('old/t-shirt/1.png'). */
export async function droppedFiles(transfer: DataTransfer): Promise<PathBlob[]> {
  const entries = Array.from(transfer.items, (i) => (i.kind === 'file' ? i.webkitGetAsEntry() : null)).filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return Array.from(transfer.files, (f) => ({ path: f.name, blob: f }));
  const out: PathBlob[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ path: entry.fullPath.replace(/^\//, ''), blob: file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries returns a batch at a time (100 in Chromium) until an empty one
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

/** A picked model: model.json's text and the shards beside it. */
export interface ModelFiles {
  name: string;
  json: string;
  shards: { path: string; file: Blob }[];
  /** The shard names the manifest lists that were not picked. */
  missing: string[];
  /** The names of the model's outputs, in order, from a labels file picked with it. */
  labels?: { file: string; names: string[] };
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

const lower = (p: string) => baseName(p).toLowerCase();

/**
 * The model file among `files`: model.json (or the one .json besides metadata.json), else a model
 * shipped as a script (`model.min.js` or `model.js`, as nsfwjs ships them; read without running it).
 */
function pickModelFile(files: readonly PathBlob[]): PathBlob {
  const jsons = files.filter((f) => lower(f.path).endsWith('.json'));
  const json =
    jsons.find((f) => baseName(f.path) === 'model.json') ??
    (jsons.length === 1 ? jsons[0] : jsons.filter((f) => baseName(f.path) !== 'metadata.json').length === 1 ? jsons.find((f) => baseName(f.path) !== 'metadata.json') : undefined);
  if (json && baseName(json.path) !== 'metadata.json') return json;
  const script = WRAPPED_MODEL_NAMES.map((n) => files.find((f) => lower(f.path) === n)).find((f) => f !== undefined);
  if (script) return script;
  if (json) return json;
  throw new Error(
    jsons.length
      ? `several .json files (${jsons.map((f) => baseName(f.path)).join(', ')}) and none is model.json`
      : 'no model.json (or model.min.js) among the files: pick model.json and its .bin shards together',
  );
}

/**
 * Finds model.json (or the one .json, or a model.min.js / model.js script) and its shards among
 * `files`: `.bin` files named as the manifest's paths, or, as nsfwjs ships them, scripts named
 * `<path>.min.js` / `<path>.js` exporting the shard as base64 (decoded here, nothing run). Throws a
 * message for the field.
 */
export async function modelFiles(files: readonly PathBlob[]): Promise<ModelFiles> {
  const picked = pickModelFile(files);
  const name = baseName(picked.path);
  const text = await picked.blob.text();
  let manifest: unknown;
  if (isScriptText(text)) manifest = modelJsonFromScript(text, name).weightsManifest;
  else {
    try {
      manifest = (JSON.parse(text) as { weightsManifest?: unknown }).weightsManifest;
    } catch (e) {
      throw new Error(`${name} is not JSON (${(e as Error).message})`);
    }
  }
  if (!Array.isArray(manifest)) throw new Error(`${name} has no weightsManifest: is it a TensorFlow.js LayersModel (tensorflowjs_converter, model.save)?`);
  const wanted = manifest.flatMap((g) =>
    Array.isArray((g as { paths?: unknown }).paths) ? ((g as { paths: unknown[] }).paths.filter((p) => typeof p === 'string') as string[]) : [],
  );
  const byName = new Map(files.map((f) => [baseName(f.path), f]));
  const shards: ModelFiles['shards'] = [];
  const missing: string[] = [];
  for (const p of wanted) {
    const plain = byName.get(baseName(p));
    const wrapped = plain
      ? undefined
      : wrappedShardNames(baseName(p))
          .map((n) => byName.get(n))
          .find((f) => f !== undefined);
    if (plain) shards.push({ path: baseName(p), file: plain.blob });
    else if (wrapped) shards.push({ path: baseName(p), file: new Blob([shardBytesFromScript(await wrapped.blob.text(), baseName(wrapped.path))]) });
    else missing.push(p);
  }
  const labels = await labelsFile(files);
  return { name, json: text, shards, missing, ...(labels ? { labels } : {}) };
}

/**
 * The model's output names, when a labels file is among its files: `labels.txt` or `classes.txt`
 * (one name per line, or a JSON array), or `metadata.json` with a `labels` array (Teachable Machine's).
 */
async function labelsFile(files: readonly PathBlob[]): Promise<ModelFiles['labels']> {
  const named = (n: string) => files.find((f) => baseName(f.path).toLowerCase() === n);
  const text = named('labels.txt') ?? named('classes.txt');
  if (text) {
    const body = (await text.blob.text()).trim();
    const names = body.startsWith('[') ? (JSON.parse(body) as unknown[]) : body.split(/\r?\n/).map((l) => l.trim());
    if (!names.every((n) => typeof n === 'string')) throw new Error(`${baseName(text.path)}: a JSON value but not an array of class names`);
    return { file: baseName(text.path), names: (names as string[]).filter(Boolean) };
  }
  const meta = named('metadata.json');
  if (!meta) return undefined;
  const labels = (JSON.parse(await meta.blob.text()) as { labels?: unknown }).labels;
  return Array.isArray(labels) && labels.every((n) => typeof n === 'string') ? { file: 'metadata.json', names: labels as string[] } : undefined;
}

/** An image folder as the worker takes it: one set, or train/ and test/ sets; with its classes. */
export interface ImageFolder {
  name: string;
  train: PathBlob[];
  test?: PathBlob[];
  classNames: string[];
  images: number;
}

/**
 * Reads the layout of a picked or dropped folder. The first path part is the folder picked ('old')
 * when all files share it; below it, `train/` and `test/` with class folders inside are a split
 * already made, anything else is `<class>/<image>`. Throws `planImages`' messages (no class folders,
 * an empty class).
 */
export function imageFolder(files: readonly PathBlob[]): ImageFolder {
  const images = files.filter((f) => isImageFile(baseName(f.path)) && !f.path.split('/').some((p) => p.startsWith('.')));
  if (images.length === 0) throw new Error(files.length ? `no images among the ${files.length} files (PNG, JPEG, WebP, GIF, BMP in class folders)` : 'no files');
  const first = images[0]?.path.split('/')[0] ?? '';
  const rooted = images.every((f) => f.path.split('/').length >= 3 && f.path.split('/')[0] === first);
  const name = rooted ? first : 'the dropped folders';
  const below = (f: PathBlob) => (rooted ? f.path.split('/').slice(1) : f.path.split('/'));
  const part = (f: PathBlob) => below(f)[0]?.toLowerCase();
  const split =
    images.every((f) => below(f).length >= 3 && (part(f) === 'train' || part(f) === 'test')) && images.some((f) => part(f) === 'test') && images.some((f) => part(f) === 'train');
  if (split) {
    const train = images.filter((f) => part(f) === 'train');
    const test = images.filter((f) => part(f) === 'test');
    const classNames = planImages(
      train.map((f) => f.path),
      { source: `${name}/train` },
    ).classNames;
    planImages(
      test.map((f) => f.path),
      { source: `${name}/test`, classNames },
    );
    return { name, train, test, classNames, images: images.length };
  }
  const classNames = planImages(
    images.map((f) => f.path),
    { source: name },
  ).classNames;
  return { name, train: images, classNames, images: images.length };
}

/** 'a, b, c' or 'a, b, … (12)'. */
export function listNames(names: readonly string[], max = 6): string {
  return names.length > max ? `${names.slice(0, max).join(', ')}, … (${names.length})` : names.join(', ');
}
