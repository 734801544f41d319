import type { SecureAggConfig } from './config.ts';
import { signedWord, zeroWords, type RingWords } from './ring.ts';

/** Source of secret uniform bytes (the client's own: crypto.getRandomValues; tests pass a seeded one). */
export type RandomBytes = (n: number) => Uint8Array;

/** Randomness is drawn in blocks of this many coordinates, so a large model needs few calls. */
const BLOCK = 1 << 16;

/**
 * A client's delta as ring words: scaled down to L2 norm <= clipNorm, each coordinate clamped to
 * [-range, range], multiplied by `scale` and rounded stochastically (up with probability equal to
 * the fractional part), so the rounding is unbiased and the sum of many clients is too. The
 * randomness is the client's own: no one else can reproduce or subtract it.
 */
export function quantiseDelta(delta: Float32Array, cfg: SecureAggConfig, scale: number, random: RandomBytes, l2Bound = Infinity): RingWords {
  let sq = 0;
  for (let i = 0; i < delta.length; i++) {
    const v = delta[i] as number;
    if (!Number.isFinite(v)) throw new RangeError(`delta value ${v} at ${i} is not finite`);
    sq += v * v;
  }
  const norm = Math.sqrt(sq);
  const shrink = norm > cfg.clipNorm ? cfg.clipNorm / norm : 1;
  // With DP the accountant assumes the rounded vector's norm is within l2Bound (the DDG bound):
  // rounding is redone with fresh randomness until it is, which happens with probability >= 1 - beta.
  for (let attempt = 0; attempt < MAX_ROUNDINGS; attempt++) {
    const q = roundOnce(delta, cfg, scale, shrink, random);
    if (!Number.isFinite(l2Bound) || signedNorm(q, cfg) <= l2Bound) return q;
  }
  throw new RangeError(`stochastic rounding missed the norm bound ${l2Bound} ${MAX_ROUNDINGS} times`);
}

const MAX_ROUNDINGS = 100;

function signedNorm(q: RingWords, cfg: SecureAggConfig): number {
  let s = 0;
  for (let i = 0; i < q.length; i++) {
    const v = signedWord(cfg.bits, q[i] as number);
    s += v * v;
  }
  return Math.sqrt(s);
}

function roundOnce(delta: Float32Array, cfg: SecureAggConfig, scale: number, shrink: number, random: RandomBytes): RingWords {
  const out = zeroWords(cfg.bits, delta.length);
  for (let start = 0; start < delta.length; start += BLOCK) {
    const end = Math.min(delta.length, start + BLOCK);
    const r = random(4 * (end - start));
    const u32 = new Uint32Array(r.buffer, r.byteOffset, (end - start));
    for (let i = start; i < end; i++) {
      let v = (delta[i] as number) * shrink;
      if (v > cfg.range) v = cfg.range;
      else if (v < -cfg.range) v = -cfg.range;
      const x = v * scale;
      const lo = Math.floor(x);
      const q = lo + ((u32[i - start] as number) / 4294967296 < x - lo ? 1 : 0);
      // A negative q stores as its two's complement: the typed array wraps it.
      out[i] = q;
    }
  }
  return out;
}

/**
 * The one decoding rule (coordinator and auditor alike): each word of the unmasked sum read as a
 * signed `bits`-bit integer, divided by scale * survivors in float64, then rounded to float32.
 * The result is the unweighted mean of the survivors' clipped deltas (secure mode weighs every
 * client equally: sample counts are declared, not visible in the sum, and equal weights keep each
 * client's pull bounded).
 */
export function decodeMeanDelta(sum: RingWords, cfg: SecureAggConfig, scale: number, survivors: number): Float32Array {
  if (!(survivors >= 1)) throw new RangeError(`cannot average over ${survivors} clients`);
  const out = new Float32Array(sum.length);
  const div = scale * survivors;
  for (let i = 0; i < sum.length; i++) out[i] = signedWord(cfg.bits, sum[i] as number) / div;
  return out;
}

/** Sizes a RandomBytes source from node's or the browser's CSPRNG (getRandomValues caps one call at 64 KiB). */
export function secureRandomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}
