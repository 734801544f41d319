import { keystream } from '../secagg/prg.ts';

/**
 * Count sketches of deltas, for finding copies (docs/contribution-scores.md). Coordinate i of a
 * delta is added, with sign s(i), to bucket b(i) of SKETCH_BUCKETS; the cosine of two sketches
 * estimates the cosine of the two deltas (to about 1/sqrt(buckets)) at O(params) per delta.
 *
 * b and s come from a ChaCha20 keystream of a seed that no client knows while it can still upload
 * (the hash of the round's base and of every update accepted in it): a client that knew them could
 * hide a copy by moving a little mass into buckets that amplify it. Word i of the stream
 * (32 bits, little-endian): bucket = word & (SKETCH_BUCKETS - 1), sign = top bit set ? -1 : +1.
 * Sums run in coordinate order in float64.
 */
export const SKETCH_BUCKETS = 1024;

export interface SketchPlan {
  bucket: Uint16Array;
  negative: Uint8Array;
}

export function sketchPlan(seed: Uint8Array, params: number): SketchPlan {
  const bytes = keystream(seed, params * 4);
  const bucket = new Uint16Array(params);
  const negative = new Uint8Array(params);
  for (let i = 0; i < params; i++) {
    const o = 4 * i;
    bucket[i] = ((bytes[o] as number) | ((bytes[o + 1] as number) << 8)) & (SKETCH_BUCKETS - 1);
    negative[i] = (bytes[o + 3] as number) >>> 7;
  }
  return { bucket, negative };
}

export function sketch(plan: SketchPlan, delta: Float32Array): Float64Array {
  if (delta.length !== plan.bucket.length) throw new RangeError(`delta of ${delta.length} values, plan for ${plan.bucket.length}`);
  const out = new Float64Array(SKETCH_BUCKETS);
  for (let i = 0; i < delta.length; i++) {
    const b = plan.bucket[i] as number;
    out[b] = plan.negative[i] ? (out[b] as number) - (delta[i] as number) : (out[b] as number) + (delta[i] as number);
  }
  return out;
}

/**
 * The signed squared cosine of two sketches, sign(a.b) * (a.b)^2 / (|a|^2 |b|^2): basic operations
 * only (no square root, whose rounding the language does not pin down), so copy decisions agree on
 * every machine. 0 when either sketch is all zeros (a zero delta copies nothing).
 */
export function signedCosineSquared(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  if (aa === 0 || bb === 0) return 0;
  const c2 = (ab / aa) * (ab / bb); // two divisions: no overflow of aa * bb
  return ab < 0 ? -c2 : c2;
}
