/**
 * The fingerprint of a run's config and data, kept in its checkpoint (`context.fingerprint` of
 * state.json) so that `--resume` refuses data that changed since the run began instead of silently
 * mixing old and new: SHA-256 of the config (keys sorted), and per task and part (train, test,
 * validation) the number of examples, a SHA-256 of its images and one of its labels. The arrays are
 * hashed whole, each shared array once (the tasks of a sequence are views on one copy): about 70 ms
 * for MNIST's 47 MB of training images.
 */
import { createHash } from 'node:crypto';
import { ArraySource, type DataSource, type Task } from '@forgetless/core';
import { type ExperimentConfig, canonicalJson } from '@forgetless/experiments';

export interface PartFingerprint {
  size: number;
  images: string;
  labels: string;
}

export interface RunFingerprint {
  version: 1;
  /** SHA-256 of the config as run. */
  config: string;
  tasks: { name: string; parts: Record<string, PartFingerprint> }[];
}

type Bytes = ArrayBufferView | readonly number[];

const sha = (...parts: (string | Bytes)[]): string => {
  const h = createHash('sha256');
  for (const p of parts) {
    if (typeof p === 'string') h.update(p);
    else if (ArrayBuffer.isView(p)) h.update(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
    else h.update(new Uint8Array(Int32Array.from(p).buffer));
    h.update('\0');
  }
  return h.digest('hex');
};

export { canonicalJson };

/** Hashes each array once, however many task parts view it. */
function arrayHasher(): (a: Bytes) => string {
  const seen = new Map<Bytes, string>();
  return (a) => {
    let h = seen.get(a);
    if (h === undefined) {
      h = sha(ArrayBuffer.isView(a) ? a.constructor.name : 'number[]', a);
      seen.set(a, h);
    }
    return h;
  };
}

function partFingerprint(source: DataSource, hash: (a: Bytes) => string): PartFingerprint {
  const shape = `${source.exampleShape.join('x')}/${source.numClasses}`;
  if (!(source instanceof ArraySource)) return { size: source.size, images: sha('source', shape, String(source.size)), labels: sha('source', shape, String(source.size)) };
  const o = source.options;
  const none = new Uint8Array(0);
  return {
    size: source.size,
    images: sha(hash(o.x), shape, String(o.scale ?? ''), o.indices ?? none, o.permutation ?? none),
    labels: sha(hash(o.y), shape, o.indices ?? none, o.labelMap ?? none),
  };
}

/** The fingerprint of the data alone (every task's parts): a SHA-256 of `runFingerprint(...).tasks`. */
export function dataFingerprint(fingerprint: RunFingerprint): string {
  return sha(canonicalJson(fingerprint.tasks));
}

/** The fingerprint of `config` run on `tasks`. */
export function runFingerprint(config: ExperimentConfig, tasks: readonly Task[]): RunFingerprint {
  const hash = arrayHasher();
  return {
    version: 1,
    config: sha(canonicalJson(config)),
    tasks: tasks.map((t) => {
      const parts: Record<string, PartFingerprint> = { train: partFingerprint(t.train, hash), test: partFingerprint(t.test, hash) };
      if (t.validation) parts.validation = partFingerprint(t.validation, hash);
      return { name: t.name, parts };
    }),
  };
}

/**
 * What differs between the fingerprint stored when the run began and the current one, in words
 * (the first three differences); undefined when nothing does, or when the checkpoint has none (older
 * checkpoints).
 */
export function fingerprintChanges(stored: unknown, current: RunFingerprint): string | undefined {
  if (!stored || typeof stored !== 'object' || (stored as RunFingerprint).version !== 1) return undefined;
  const before = stored as RunFingerprint;
  const changes: string[] = [];
  if (before.tasks.length !== current.tasks.length) {
    changes.push(`it now gives ${current.tasks.length} tasks, the run began with ${before.tasks.length}`);
  }
  const n = Math.min(before.tasks.length, current.tasks.length);
  for (let i = 0; i < n && changes.length < 3; i++) {
    const was = before.tasks[i] as RunFingerprint['tasks'][number];
    const now = current.tasks[i] as RunFingerprint['tasks'][number];
    const task = `task ${i + 1} ('${now.name}')`;
    if (was.name !== now.name) {
      changes.push(`task ${i + 1} is '${now.name}' now, '${was.name}' when the run began`);
      continue;
    }
    for (const part of new Set([...Object.keys(was.parts), ...Object.keys(now.parts)])) {
      const a = was.parts[part];
      const b = now.parts[part];
      if (!a || !b) changes.push(`${task} ${b ? 'now has' : 'no longer has'} a ${part} part`);
      else if (a.size !== b.size) changes.push(`${task} ${part} has ${b.size} examples now, ${a.size} when the run began`);
      else if (a.labels !== b.labels && a.images !== b.images) changes.push(`${task} ${part} images and labels differ`);
      else if (a.labels !== b.labels) changes.push(`${task} ${part} labels differ`);
      else if (a.images !== b.images) changes.push(`${task} ${part} images differ`);
      if (changes.length >= 3) break;
    }
  }
  if (changes.length === 0 && before.config !== current.config) return "the run's settings differ from those it began with (was state.json edited?)";
  return changes.length ? changes.join('; ') : undefined;
}
