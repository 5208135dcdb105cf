/**
 * The data contract of the training loop, and the one batching loop of forgetless.
 * Examples stay in compact typed arrays (Uint8 pixels); a batch is normalised, permuted and
 * uploaded only when it is drawn, so ten permuted tasks share one copy of the images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from './rng.js';

/** One minibatch. `x`: [batch, ...exampleShape] float32; `y`: [batch] int32 labels. Owned by the caller. */
export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor1D;
  /**
   * Per-example output mask, [batch, classes] float32, added to the logits (0: the class counts,
   * −1e9: it does not). Replaces the task's `classes` mask for this batch: a replayed example of an
   * earlier task keeps that task's classes (task-incremental replay).
   */
  logitMask?: tf.Tensor2D;
}

export interface BatchOptions {
  /** Shuffle the order (seeded). Default false. */
  shuffle?: boolean;
  seed?: number;
  /** Use only the first `limit` examples (after shuffling). */
  limit?: number;
}

export interface DataSource {
  /** Number of examples. */
  readonly size: number;
  /** Per-example input shape, e.g. [784] or [28, 28, 1]. */
  readonly exampleShape: readonly number[];
  readonly numClasses: number;
  /** Yields batches; the caller disposes each batch's tensors. */
  batches(batchSize: number, options?: BatchOptions): Iterable<Batch>;
}

/** A task of a continual sequence: train, test and an optional validation ("closing") set. */
export interface Task {
  name: string;
  train: DataSource;
  test: DataSource;
  /** The closing set importances are computed on (the papers: 5000 held-out samples). */
  validation?: DataSource;
  /** Task-incremental label mask: only these classes' logits are used for loss and prediction. */
  classes?: readonly number[];
  /**
   * The classes the task's examples carry, when known (class-incremental sequences set them): a
   * growing head (`trainContinual({ growHead: true })`) widens to 1 + the largest seen so far.
   */
  labels?: readonly number[];
}

export interface ArraySourceOptions {
  /** n × exampleSize values, row-major. */
  x: Uint8Array | Float32Array;
  /** n labels. */
  y: Uint8Array | Int32Array | readonly number[];
  exampleShape: readonly number[];
  numClasses: number;
  /**
   * Multiplier applied to x when a batch is made; default 1/255 for Uint8Array, 1 for Float32Array.
   * An array gives one per channel (channels last: the channel of a value is its index in the example
   * modulo the last dimension of `exampleShape`), and must have that many entries.
   */
  scale?: number | readonly number[];
  /** Added after scaling: a batch value is x·scale[c] + offset[c]. Default 0; per channel like `scale`. */
  offset?: number | readonly number[];
  /**
   * Feature permutation applied per batch: feature i of an example is x[perm[i]]. Per-channel `scale`
   * and `offset` follow the value: they use the channel of the source index perm[i].
   */
  permutation?: Int32Array;
  /** The examples of `x` this source exposes (a view, no copy); default all. */
  indices?: Int32Array;
  /** Label remapping applied per batch (e.g. domain-incremental split tasks). */
  labelMap?: readonly number[] | Int32Array;
}

/** A DataSource over typed arrays, with per-batch normalisation, permutation and label remapping. */
export class ArraySource implements DataSource {
  readonly size: number;
  readonly exampleShape: readonly number[];
  readonly numClasses: number;
  readonly exampleSize: number;
  private readonly scale: number | Float32Array;
  private readonly offset: number | Float32Array;

  constructor(readonly options: ArraySourceOptions) {
    const { x, y, exampleShape, numClasses, permutation, indices, labelMap } = options;
    this.exampleShape = [...exampleShape];
    this.exampleSize = exampleShape.reduce((a, b) => a * b, 1);
    this.numClasses = numClasses;
    this.scale = perChannel('scale', options.scale ?? (x instanceof Uint8Array ? 1 / 255 : 1), exampleShape);
    this.offset = perChannel('offset', options.offset ?? 0, exampleShape);
    const total = x.length / this.exampleSize;
    if (!Number.isInteger(total)) {
      throw new Error(`arraySource: x has ${x.length} values, not a multiple of the example size ${this.exampleSize} ([${exampleShape}])`);
    }
    if (y.length !== total) throw new Error(`arraySource: ${total} examples but ${y.length} labels`);
    if (permutation && permutation.length !== this.exampleSize) {
      throw new Error(`arraySource: permutation has ${permutation.length} entries, expected ${this.exampleSize}`);
    }
    if (indices) {
      for (const i of indices) if (i < 0 || i >= total) throw new Error(`arraySource: index ${i} is out of range [0, ${total})`);
    }
    if (labelMap) {
      for (let c = 0; c < labelMap.length; c++) {
        const m = labelMap[c] as number;
        if (m >= numClasses) throw new Error(`arraySource: labelMap sends class ${c} to ${m}, beyond numClasses ${numClasses}`);
      }
    }
    this.size = indices ? indices.length : total;
    // every label this source exposes must be one the model can output (a view checks its own examples)
    const n = this.size;
    for (let r = 0; r < n; r++) {
      const ex = indices ? (indices[r] as number) : r;
      const raw = y[ex] as number;
      if (labelMap) {
        if (!(raw >= 0 && raw < labelMap.length) || !Number.isInteger(raw))
          throw new Error(`arraySource: label ${raw} of example ${ex} has no entry in labelMap (${labelMap.length} entries)`);
        continue;
      }
      if (!(raw >= 0 && raw < numClasses) || !Number.isInteger(raw)) {
        throw new Error(`arraySource: label ${raw} of example ${ex} is outside 0..${numClasses - 1} (numClasses ${numClasses})`);
      }
    }
  }

  /** A view on some of this source's examples (positions relative to this source). */
  subset(positions: Int32Array | readonly number[]): ArraySource {
    const base = this.options.indices;
    const idx = Int32Array.from(positions, (p) => {
      if (p < 0 || p >= this.size) throw new Error(`subset: position ${p} is out of range [0, ${this.size})`);
      return base ? (base[p] as number) : p;
    });
    return new ArraySource({ ...this.options, indices: idx });
  }

  /** The same examples under another permutation / label map. */
  with(changes: Partial<Pick<ArraySourceOptions, 'permutation' | 'labelMap'>>): ArraySource {
    return new ArraySource({ ...this.options, ...changes });
  }

  /** Label of example `i` (after remapping). */
  label(i: number): number {
    const j = this.options.indices ? (this.options.indices[i] as number) : i;
    const raw = this.options.y[j] as number;
    return this.options.labelMap ? (this.options.labelMap[raw] as number) : raw;
  }

  *batches(batchSize: number, options: BatchOptions = {}): Iterable<Batch> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batches: batchSize must be a positive integer, got ${batchSize}`);
    const order = Int32Array.from({ length: this.size }, (_, i) => i);
    if (options.shuffle) new Rng(options.seed ?? 0).shuffle(order);
    const n = Math.min(this.size, options.limit ?? this.size);
    for (let start = 0; start < n; start += batchSize) yield this.batchAt(order.subarray(start, Math.min(n, start + batchSize)));
  }

  /** The examples at `positions` (relative to this source) as one batch, in that order. */
  batchAt(positions: ArrayLike<number>): Batch {
    const { x, y, permutation, indices, labelMap } = this.options;
    const d = this.exampleSize;
    const { scale, offset } = this;
    const scalar = typeof scale === 'number' && typeof offset === 'number';
    // per channel: expand to one multiplier and one addend per source feature (the channel of feature i is i mod C)
    const scales = scalar ? undefined : expandChannels(scale, d);
    const offsets = scalar ? undefined : expandChannels(offset, d);
    const b = positions.length;
    const xb = this.batchBuffer(b * d);
    const yb = new Int32Array(b);
    for (let r = 0; r < b; r++) {
      const pos = positions[r] as number;
      if (!(pos >= 0 && pos < this.size)) throw new Error(`batchAt: position ${pos} is out of range [0, ${this.size})`);
      const ex = indices ? (indices[pos] as number) : pos;
      const off = ex * d;
      const row = r * d;
      if (scalar) {
        const s = scale as number;
        const o = offset as number;
        if (permutation) for (let i = 0; i < d; i++) xb[row + i] = (x[off + (permutation[i] as number)] as number) * s + o;
        else for (let i = 0; i < d; i++) xb[row + i] = (x[off + i] as number) * s + o;
      } else {
        const sc = scales as Float32Array;
        const of = offsets as Float32Array;
        if (permutation) {
          for (let i = 0; i < d; i++) {
            const j = permutation[i] as number;
            xb[row + i] = (x[off + j] as number) * (sc[j] as number) + (of[j] as number);
          }
        } else for (let i = 0; i < d; i++) xb[row + i] = (x[off + i] as number) * (sc[i] as number) + (of[i] as number);
      }
      const raw = y[ex] as number;
      yb[r] = labelMap ? (labelMap[raw] as number) : raw;
    }
    return { x: tf.tensor(xb, [b, ...this.exampleShape], 'float32'), y: tf.tensor1d(yb, 'int32') };
  }

  private scratch: Float32Array | undefined;

  /**
   * A batch's values before they become a tensor. On wasm, whose tensors copy their values into its
   * heap when made, one buffer kept for this source's batches: a new one for each batch costs the
   * pages it is written into, 1–3.6 ms per MB measured on this project's VMs (6 ms for 16 images of
   * 96×96×3). Elsewhere a new one per batch: the cpu backend keeps the array as the tensor's data, and
   * webgl uploads it later.
   */
  private batchBuffer(size: number): Float32Array {
    if (tf.getBackend() !== 'wasm') return new Float32Array(size);
    if (!this.scratch || this.scratch.length < size) this.scratch = new Float32Array(size);
    return this.scratch.subarray(0, size);
  }
}

/** One part of a `concatSources`: its examples, and the output classes its examples may use (a task's mask). */
export interface ConcatPart {
  source: ArraySource;
  classes?: readonly number[];
}

/**
 * The examples of several sources as one (joint training on tasks seen so far). Shuffling draws
 * from all parts at once; each example keeps its part's permutation, label map and, when any part
 * has `classes`, its part's output mask as the batch's per-example `logitMask` (0 on its classes,
 * −1e9 elsewhere; every class for a part without a mask).
 */
export function concatSources(parts: readonly ConcatPart[]): DataSource {
  if (parts.length === 0) throw new Error('concatSources: no sources');
  const first = (parts[0] as ConcatPart).source;
  for (const p of parts) {
    if (p.source.exampleShape.join(',') !== first.exampleShape.join(',')) {
      throw new Error(`concatSources: examples of shape [${p.source.exampleShape}] and [${first.exampleShape}] cannot be joined`);
    }
  }
  const numClasses = Math.max(...parts.map((p) => p.source.numClasses));
  const offsets: number[] = [];
  let size = 0;
  for (const p of parts) {
    offsets.push(size);
    size += p.source.size;
  }
  const masked = parts.some((p) => p.classes);
  return {
    size,
    exampleShape: first.exampleShape,
    numClasses,
    *batches(batchSize: number, options: BatchOptions = {}): Iterable<Batch> {
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batches: batchSize must be a positive integer, got ${batchSize}`);
      const order = Int32Array.from({ length: size }, (_, i) => i);
      if (options.shuffle) new Rng(options.seed ?? 0).shuffle(order);
      const n = Math.min(size, options.limit ?? size);
      for (let start = 0; start < n; start += batchSize) {
        const chunk = order.subarray(start, Math.min(n, start + batchSize));
        const byPart = parts.map(() => [] as number[]);
        for (const g of chunk) {
          let k = parts.length - 1;
          while ((offsets[k] as number) > g) k--;
          (byPart[k] as number[]).push(g - (offsets[k] as number));
        }
        const pieces = byPart.map((pos, k) => (pos.length ? (parts[k] as ConcatPart).source.batchAt(pos) : undefined));
        const used = pieces.map((b, k) => [b, k] as const).filter((e): e is readonly [Batch, number] => e[0] !== undefined);
        const batch = tf.tidy(() => {
          const x = tf.concat(used.map(([b]) => b.x));
          const y = tf.concat(used.map(([b]) => b.y)) as tf.Tensor1D;
          if (!masked) return { x, y };
          const m = new Float32Array(chunk.length * numClasses);
          let r = 0;
          for (const [b, k] of used) {
            const classes = (parts[k] as ConcatPart).classes;
            const rows = b.y.shape[0];
            if (classes) {
              m.fill(-1e9, r * numClasses, (r + rows) * numClasses);
              for (let i = r; i < r + rows; i++) for (const c of classes) m[i * numClasses + c] = 0;
            }
            r += rows;
          }
          return { x, y, logitMask: tf.tensor2d(m, [chunk.length, numClasses]) };
        });
        for (const [b] of used) tf.dispose([b.x, b.y]);
        yield batch;
      }
    },
  };
}

/** A scalar stays a scalar (the fast path); an array must give one value per channel (the last dimension). */
function perChannel(name: 'scale' | 'offset', value: number | readonly number[], exampleShape: readonly number[]): number | Float32Array {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`arraySource: ${name} must be finite, got ${value}`);
    return value;
  }
  const channels = exampleShape.length ? (exampleShape[exampleShape.length - 1] as number) : 1;
  if (value.length !== channels) {
    throw new Error(
      `arraySource: ${name} has ${value.length} entries but examples [${exampleShape}] have ${channels} channel${channels === 1 ? '' : 's'} (the last dimension); give one ${name} per channel or a number`,
    );
  }
  for (const v of value) if (!Number.isFinite(v)) throw new Error(`arraySource: ${name} [${value}] has a non-finite entry`);
  return Float32Array.from(value);
}

/** One entry per feature of an example: v[i mod C] (a scalar fills every entry). */
function expandChannels(v: number | Float32Array, d: number): Float32Array {
  const out = new Float32Array(d);
  if (typeof v === 'number') return out.fill(v);
  const c = v.length;
  for (let i = 0; i < d; i++) out[i] = v[i % c] as number;
  return out;
}

export function arraySource(options: ArraySourceOptions): ArraySource {
  return new ArraySource(options);
}
