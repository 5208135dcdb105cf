/**
 * Merge layers of graph models: elementwise Add, Subtract, Multiply, Average, Maximum, Minimum, and
 * Concatenate, as Keras / tfjs-layers compute them.
 *
 * Elementwise shapes follow Keras's rule: per-example shapes are aligned at their last axis (a
 * lower-rank input gets size-1 axes after the batch axis); aligned dims d₁, d₂ give
 *   null if either is null, else d₂ if d₁ = 1, d₁ if d₂ = 1, else d₁ (and d₁ must equal d₂).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng.js';
import type { ApplyContext, LayerConfig, MergeLayer, Shape } from './layer.js';

const text = (s: Shape) => `[${s.map((d) => d ?? 'any').join(', ')}]`;
const list = (shapes: readonly Shape[]) => shapes.map(text).join(', ');

abstract class Merge implements MergeLayer {
  abstract readonly kind: string;
  abstract name: string;
  readonly merge = true as const;
  readonly params: Record<string, tf.Variable> = {};
  readonly state: Record<string, tf.Variable> = {};
  protected abstract readonly verb: string;

  protected checkCount(inputShapes: readonly Shape[], exactly?: number): void {
    const n = inputShapes.length;
    if (exactly !== undefined ? n !== exactly : n < 2) {
      throw new Error(`${this.name}: ${this.verb} needs ${exactly ?? 'at least 2'} inputs, got ${n}${n ? ` (shapes ${list(inputShapes)})` : ''}`);
    }
  }

  abstract build(inputShapes: readonly Shape[], rng: Rng): (number | null)[];
  abstract apply(xs: tf.Tensor[], ctx: ApplyContext): tf.Tensor;

  config(): LayerConfig {
    return { kind: this.kind };
  }
}

abstract class Elementwise extends Merge {
  /** Combines the inputs, all of one rank. */
  protected abstract combine(xs: tf.Tensor[]): tf.Tensor;
  protected readonly arity: number | undefined = undefined;

  build(inputShapes: readonly Shape[], _rng: Rng): (number | null)[] {
    this.checkCount(inputShapes, this.arity);
    let out: (number | null)[] = [...(inputShapes[0] as Shape)];
    for (const s of inputShapes.slice(1)) {
      const [long, short] = s.length > out.length ? [s, out] : [out, s];
      const lead = long.length - short.length;
      const next: (number | null)[] = long.slice(0, lead);
      for (let k = 0; k < short.length; k++) {
        const i = long[lead + k] as number | null;
        const j = short[k] as number | null;
        if (i === null || j === null) next.push(null);
        else if (i === 1) next.push(j);
        else if (j === 1 || i === j) next.push(i);
        else throw new Error(`${this.name}: cannot ${this.verb} inputs of shapes ${list(inputShapes)} (sizes ${i} and ${j} differ at one axis)`);
      }
      out = next;
    }
    return out;
  }

  /** The op's tfjs gradient ignores broadcasting (Maximum, Minimum in tfjs 4.22): broadcast inputs first. */
  protected readonly explicitBroadcast: boolean = false;

  apply(xs: tf.Tensor[], _ctx: ApplyContext): tf.Tensor {
    return tf.tidy(() => {
      const rank = Math.max(...xs.map((x) => x.rank));
      // [N, ...s] → [N, 1, ..., 1, ...s]: align at the last axis, as Keras does
      let aligned = xs.map((x) => (x.rank === rank ? x : tf.reshape(x, [x.shape[0] as number, ...Array<number>(rank - x.rank).fill(1), ...x.shape.slice(1)])));
      const shape = aligned[0]?.shape.map((_, i) => Math.max(...aligned.map((x) => x.shape[i] as number))) as number[];
      if (this.explicitBroadcast && aligned.some((x) => x.shape.some((d, i) => d !== shape[i]))) {
        const zeros = tf.zeros(shape);
        aligned = aligned.map((x) => (x.shape.every((d, i) => d === shape[i]) ? x : tf.add(x, zeros)));
      }
      return this.combine(aligned);
    });
  }
}

const fold = (xs: tf.Tensor[], f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => xs.slice(1).reduce(f, xs[0] as tf.Tensor);

/** y = x₁ + x₂ + … */
export class Add extends Elementwise {
  readonly kind = 'add' as const;
  name = 'add';
  protected readonly verb = 'add';
  protected combine(xs: tf.Tensor[]): tf.Tensor {
    return fold(xs, tf.add);
  }
}

/** y = x₁ − x₂ (exactly two inputs). */
export class Subtract extends Elementwise {
  readonly kind = 'subtract' as const;
  name = 'subtract';
  protected readonly verb = 'subtract';
  protected override readonly arity = 2;
  protected combine(xs: tf.Tensor[]): tf.Tensor {
    return tf.sub(xs[0] as tf.Tensor, xs[1] as tf.Tensor);
  }
}

/** y = x₁ ⊙ x₂ ⊙ … */
export class Multiply extends Elementwise {
  readonly kind = 'multiply' as const;
  name = 'multiply';
  protected readonly verb = 'multiply';
  protected combine(xs: tf.Tensor[]): tf.Tensor {
    return fold(xs, tf.mul);
  }
}

/** y = (1/n)·(x₁ + … + xₙ) */
export class Average extends Elementwise {
  readonly kind = 'average' as const;
  name = 'average';
  protected readonly verb = 'average';
  protected combine(xs: tf.Tensor[]): tf.Tensor {
    return tf.mul(1 / xs.length, fold(xs, tf.add));
  }
}

/** y = max(x₁, x₂, …) elementwise (on ties the earlier input takes the gradient, as tf.maximum). */
export class Maximum extends Elementwise {
  readonly kind = 'maximum' as const;
  name = 'maximum';
  protected readonly verb = 'take the maximum of';
  protected override readonly explicitBroadcast = true;
  protected combine(xs: tf.Tensor[]): tf.Tensor {
    return fold(xs, tf.maximum);
  }
}

/** y = min(x₁, x₂, …) elementwise. */
export class Minimum extends Elementwise {
  readonly kind = 'minimum' as const;
  name = 'minimum';
  protected readonly verb = 'take the minimum of';
  protected override readonly explicitBroadcast = true;
  protected combine(xs: tf.Tensor[]): tf.Tensor {
    return fold(xs, tf.minimum);
  }
}

export interface ConcatenateOptions {
  /**
   * Keras's axis, counting the batch axis: 1 is the first per-example axis, -1 (the default) the
   * last. The batch axis (0) cannot be concatenated.
   */
  axis?: number;
}

/**
 * y = concat(x₁, x₂, …) along `axis`. The other dims must agree where known (the output takes the
 * known one); the concatenated dim is the sum, or null if any input's is null.
 */
export class Concatenate extends Merge {
  readonly kind = 'concatenate' as const;
  name = 'concatenate';
  protected readonly verb = 'concatenate';
  readonly axis: number;

  constructor(options: ConcatenateOptions = {}) {
    super();
    this.axis = options.axis ?? -1;
    if (!Number.isInteger(this.axis) || this.axis === 0) throw new Error(`concatenate: axis must be a non-zero integer (0 is the batch axis), got ${JSON.stringify(options.axis)}`);
  }

  /** The per-example axis (0-based) for per-example rank r. */
  private perExampleAxis(rank: number): number {
    const a = this.axis < 0 ? rank + 1 + this.axis : this.axis;
    if (a < 1 || a > rank) throw new Error(`${this.name}: axis ${this.axis} is out of range for per-example rank ${rank}`);
    return a - 1;
  }

  build(inputShapes: readonly Shape[], _rng: Rng): (number | null)[] {
    this.checkCount(inputShapes);
    const rank = (inputShapes[0] as Shape).length;
    if (inputShapes.some((s) => s.length !== rank)) throw new Error(`${this.name}: cannot concatenate inputs of different ranks, shapes ${list(inputShapes)}`);
    const a = this.perExampleAxis(rank);
    const out: (number | null)[] = [];
    for (let i = 0; i < rank; i++) {
      const dims = inputShapes.map((s) => s[i] as number | null);
      if (i === a) {
        out.push(dims.some((d) => d === null) ? null : (dims as number[]).reduce((x, y) => x + y, 0));
        continue;
      }
      const known = [...new Set(dims.filter((d): d is number => d !== null))];
      if (known.length > 1) throw new Error(`${this.name}: cannot concatenate inputs of shapes ${list(inputShapes)} along axis ${this.axis}: they differ at axis ${i + 1}`);
      out.push(known[0] ?? null);
    }
    return out;
  }

  apply(xs: tf.Tensor[], _ctx: ApplyContext): tf.Tensor {
    return tf.concat(xs, this.perExampleAxis((xs[0] as tf.Tensor).rank - 1) + 1);
  }

  override config(): LayerConfig {
    return { kind: this.kind, axis: this.axis };
  }
}
