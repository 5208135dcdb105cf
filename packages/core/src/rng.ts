/**
 * A small seeded pseudo-random generator (mulberry32), used wherever forgetless needs repeatable
 * randomness: initializers, shuffling, permutations, label sampling. The same seed gives the same
 * stream on every backend and platform, because it runs in JavaScript, not on the backend.
 */
/** A generator's position (`Rng.getState`), plain JSON. */
export interface RngState {
  state: number;
  root: number;
  spare?: number;
}

export class Rng {
  private state: number;
  private root: number;
  private spare: number | undefined;

  constructor(seed = 0) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    this.state = hashSeed(seed);
    this.root = this.state;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal sample (Box–Muller). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A 31-bit integer, e.g. to seed a tfjs op such as `tf.dropout`. */
  seedInt(): number {
    return this.int(0x7fffffff);
  }

  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** The generator's position, to checkpoint (`Rng.fromState` continues the same stream). */
  getState(): RngState {
    return { state: this.state, root: this.root, ...(this.spare !== undefined ? { spare: this.spare } : {}) };
  }

  /** A generator at a position saved by `getState`. */
  static fromState(s: RngState): Rng {
    if (!s || !Number.isInteger(s.state) || !Number.isInteger(s.root)) throw new Error('Rng.fromState: expected { state, root } integers from getState()');
    const r = new Rng(0);
    r.state = s.state;
    r.root = s.root;
    r.spare = s.spare;
    return r;
  }

  /**
   * An independent generator derived from this one's seed and a label. It depends only on the seed
   * and the label, not on how far this generator has advanced (so resumed runs fork identically).
   */
  fork(label: string | number): Rng {
    const child = new Rng(0);
    child.state = hashSeed(this.root ^ hashString(String(label)));
    child.root = child.state;
    return child;
  }
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function hashSeed(seed: number): number {
  // splitmix-style scramble so nearby seeds give unrelated streams
  let z = (Math.floor(seed) ^ Math.floor(seed / 4294967296)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) | 0;
}
