/**
 * Exact-k selection: which k entries of a set of score arrays (one per parameter, in parameter order)
 * are the smallest, with a deterministic tie-break: by score, then by array order, then by flat index.
 * Pruning removes exactly the k entries this returns, whatever the ties.
 *
 * Method: a radix select on order-preserving 32-bit keys of the float32 scores (−0 is taken as +0).
 * Pass 1 counts the keys' high 16 bits and finds the bucket holding the k-th smallest key; pass 2
 * counts the low 16 bits within that bucket, which gives the k-th smallest key T exactly and the
 * number of keys below it; pass 3 marks every key < T and, in array/index order, the first keys = T
 * that complete k. Time O(N) in three passes over the N scores, whatever their distribution (no
 * sort, no copy of the scores); extra memory one 2¹⁶-entry histogram beside the output flags.
 */

const HIGH = 1 << 16;

/** Order-preserving unsigned key of a float32 given as its bits (−0 maps to +0's key). */
function key(bits: number): number {
  if (bits === 0x80000000) return 0x80000000; // −0 → +0
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

function bitsOf(scores: Float32Array): Uint32Array {
  return new Uint32Array(scores.buffer, scores.byteOffset, scores.length);
}

/**
 * Flags (1 = selected) for the `k` smallest entries over `scores`, ties broken by array order, then
 * flat index. NaN scores are an error naming the array (`names[i]` if given).
 */
export function selectSmallest(scores: readonly Float32Array[], k: number, names?: readonly string[]): Uint8Array[] {
  const total = scores.reduce((n, s) => n + s.length, 0);
  if (!Number.isInteger(k) || k < 0 || k > total) throw new Error(`selectSmallest: k must be an integer in [0, ${total}], got ${k}`);
  const out = scores.map((s) => new Uint8Array(s.length));
  // pass 1: NaN check and histogram of the keys' high 16 bits
  const hist = new Uint32Array(HIGH);
  for (let a = 0; a < scores.length; a++) {
    const b = bitsOf(scores[a] as Float32Array);
    for (let i = 0; i < b.length; i++) {
      const bits = b[i] as number;
      if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) {
        throw new Error(`selectSmallest: '${names?.[a] ?? `scores[${a}]`}' has a NaN score at flat index ${i}`);
      }
      const h = key(bits) >>> 16;
      hist[h] = (hist[h] as number) + 1;
    }
  }
  if (k === 0) return out;
  if (k === total) {
    for (const o of out) o.fill(1);
    return out;
  }
  let below = 0;
  let hi = 0;
  for (; hi < HIGH; hi++) {
    const c = hist[hi] as number;
    if (below + c >= k) break;
    below += c;
  }
  // pass 2: histogram of the low 16 bits within bucket `hi`
  hist.fill(0);
  for (const s of scores) {
    const b = bitsOf(s);
    for (let i = 0; i < b.length; i++) {
      const kk = key(b[i] as number);
      if (kk >>> 16 === hi) hist[kk & 0xffff] = (hist[kk & 0xffff] as number) + 1;
    }
  }
  let lo = 0;
  for (; lo < HIGH; lo++) {
    const c = hist[lo] as number;
    if (below + c >= k) break;
    below += c;
  }
  // pass 3: everything below the k-th key, then its ties in order until k are taken
  const threshold = ((hi << 16) | lo) >>> 0;
  let ties = k - below;
  for (let a = 0; a < scores.length; a++) {
    const b = bitsOf(scores[a] as Float32Array);
    const o = out[a] as Uint8Array;
    for (let i = 0; i < b.length; i++) {
      const kk = key(b[i] as number);
      if (kk < threshold) o[i] = 1;
      else if (kk === threshold && ties > 0) {
        o[i] = 1;
        ties--;
      }
    }
  }
  return out;
}
